"""``model.name`` -> the generator and discriminator modules of that family, built from the config.

Each family has a small builder here, registered under its names with :func:`register`, that imports
its modules when called (so naming one model does not import the others) and reads the ``model`` keys
it needs with ``model[key]`` (every key has its default in :func:`gans_jax.configs.default_config`).
A builder is ``builder(model, sample_shape, num_classes, condition_shape) -> (generator,
discriminator)``: ``sample_shape`` is one example's shape, ``num_classes`` the number of classes of a
class-conditional model (``None`` otherwise) and ``condition_shape`` the shape of an image-to-image
model's source images (``None`` otherwise). Adding a model family is one builder and its decorator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Builder = Callable[..., tuple[Any, Any]]
NETWORKS: dict[str, Builder] = {}


def register(*names: str) -> Callable[[Builder], Builder]:
    """Register a builder under the ``model.name`` values ``names``."""

    def add(builder: Builder) -> Builder:
        for name in names:
            if name in NETWORKS:
                raise ValueError(f"model.name {name!r} is registered twice")
            NETWORKS[name] = builder
        return builder

    return add


def build_networks(model: Mapping[str, Any], sample_shape, num_classes: int | None, condition_shape=None):
    """The generator and discriminator modules named by ``model.name``; with ``model.pack`` = m > 1 the
    discriminator judges packs of m samples (PacGAN, :class:`gans_jax.layers.packing.Packed`)."""
    name = model["name"]
    if name not in NETWORKS:
        raise ValueError(f"unknown model.name {name!r}; expected one of {tuple(NETWORKS)}")
    generator, discriminator = NETWORKS[name](model, tuple(sample_shape), num_classes, condition_shape)
    pack = model["pack"]
    if isinstance(pack, bool) or not isinstance(pack, (int, np.integer)) or pack < 1:
        raise ValueError(f"model.pack={pack!r}: expected an integer >= 1 (1 = no packing)")
    if pack == 1:
        return generator, discriminator
    refused = {
        "class-conditional": num_classes is not None,
        "image-to-image": condition_shape is not None,
        "InfoGAN (its Q head infers each sample's codes)": bool(
            tuple(model["categorical_codes"]) or model["continuous_codes"]
        ),
    }
    for what, applies in refused.items():
        if applies:
            raise ValueError(f"model.pack={pack} (PacGAN packing) is not defined for a {what} discriminator")
    from gans_jax.layers.packing import Packed

    return generator, Packed(discriminator, int(pack))


@register("mlp")
def mlp(model, sample_shape, num_classes, condition_shape):
    """MLPs for 2-D points (Goodfellow et al. 2014; PacGAN's benchmark networks, Lin et al. 2018)."""
    from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator

    init_std = model["init_std"] or None
    return (
        MLPGenerator(
            int(np.prod(sample_shape)),
            tuple(model["g_hidden"]),
            num_classes,
            batch_norm=model["g_batch_norm"],
            bn_momentum=model["g_bn_momentum"],
            init_std=init_std,
        ),
        MLPDiscriminator(
            tuple(model["d_hidden"]),
            num_classes,
            maxout_pieces=model["d_maxout_pieces"],
            spectral_norm=model["d_spectral_norm"],
            init_std=init_std,
        ),
    )


@register("dcgan")
def dcgan(model, sample_shape, num_classes, condition_shape):
    """DCGAN (Radford et al. 2016) and its variants: conditioning, InfoGAN codes, minibatch
    discrimination and virtual batch norm (Salimans et al. 2016), spectral norm."""
    from gans_jax.models import dcgan

    resolution = model["resolution"]
    return (
        dcgan.Generator(
            resolution,
            model["g_channels"],
            sample_shape[-1],
            num_classes,
            normalization=model["g_normalization"],
            vbn_reference_size=model["vbn_reference_size"],
            latent_distribution=model["latent_distribution"],
        ),
        dcgan.Discriminator(
            resolution,
            model["d_channels"],
            num_classes,
            conditioning=model["conditioning"],
            categorical_codes=tuple(model["categorical_codes"]),
            continuous_codes=model["continuous_codes"],
            q_hidden=model["q_hidden"],
            return_features=model["d_features"],
            normalization=model["d_normalization"],
            spectral_norm=model["d_spectral_norm"],
            minibatch_kernels=model["minibatch_kernels"],
            minibatch_kernel_dim=model["minibatch_kernel_dim"],
        ),
    )


@register("infogan")
def infogan(model, sample_shape, num_classes, condition_shape):
    """The InfoGAN paper's networks (Chen et al. 2016, App. C)."""
    from gans_jax.models import infogan

    conditioning = model["conditioning"]
    if num_classes is not None and conditioning != "acgan":
        raise ValueError(
            f"model.name='infogan' takes labels only with conditioning='acgan', got {conditioning!r}"
        )
    return (
        infogan.Generator(
            model["resolution"], model["g_channels"], model["g_hidden"][0], sample_shape[-1], num_classes
        ),
        infogan.Discriminator(
            model["resolution"],
            model["d_channels"],
            model["d_hidden"][0],
            num_classes,
            categorical_codes=tuple(model["categorical_codes"]),
            continuous_codes=model["continuous_codes"],
            q_hidden=model["q_hidden"],
            return_features=model["d_features"],
        ),
    )


@register("sngan_cnn", "sngan_resnet")
def sngan(model, sample_shape, num_classes, condition_shape):
    """SNGAN's standard CNN and ResNet (Miyato et al. 2018, App. B)."""
    from gans_jax.models import sngan

    networks = {
        "sngan_cnn": (sngan.CNNGenerator, sngan.CNNDiscriminator),
        "sngan_resnet": (sngan.ResNetGenerator, sngan.ResNetDiscriminator),
    }
    generator, discriminator = networks[model["name"]]
    resolution = model["resolution"]
    return (
        generator(resolution, model["g_channels"], sample_shape[-1], num_classes),
        discriminator(resolution, model["d_channels"], num_classes),
    )


@register("biggan")
def biggan(model, sample_shape, num_classes, condition_shape):
    """BigGAN (Brock et al. 2019) as BigGAN-PyTorch builds it: class-conditional only."""
    from gans_jax.models import biggan

    if num_classes is None:
        raise ValueError("BigGAN is class-conditional: set model.conditional=True and use labelled data")
    common = dict(
        resolution=model["resolution"],
        num_classes=num_classes,
        sn_eps=model["sn_eps"],
        weight_init=model["weight_init"],
    )
    attention = model["attention"]
    d_attention = model["d_attention"]
    sn_itrs = model["sn_itrs"]
    return (
        biggan.Generator(
            ch=model["g_channels"],
            latent_dim=model["latent_dim"],
            shared_dim=model["shared_dim"],
            hierarchical=model["hierarchical"],
            attention=attention,
            out_channels=sample_shape[-1],
            bn_eps=model["bn_eps"],
            bn_unbiased_var=model["bn_unbiased_var"],
            sn_itrs=sn_itrs,
            **common,
        ),
        biggan.Discriminator(
            ch=model["d_channels"],
            attention=attention if d_attention == "" else d_attention,
            sn_itrs=model["d_sn_itrs"] or sn_itrs,
            **common,
        ),
    )


@register("progressive")
def progressive(model, sample_shape, num_classes, condition_shape):
    """The Progressive GAN's networks at ``model.resolution`` (Karras et al. 2018)."""
    from gans_jax.models import progressive

    if num_classes is not None:
        raise ValueError("the progressive GAN is unconditional: set model.conditional=False")
    common = {k: model[k] for k in ("resolution", "channel_base", "channel_max")}
    return (
        progressive.Generator(out_channels=sample_shape[-1], **common),
        progressive.Discriminator(mbstd_group_size=model["mbstd_group_size"], **common),
    )


@register("stylegan", "stylegan2")
def style_networks(model, sample_shape, num_classes, condition_shape):
    """StyleGAN (Karras et al. 2019) and StyleGAN2 (Karras et al. 2020)."""
    from gans_jax.models import stylegan, stylegan2

    common = dict(
        resolution=model["resolution"],
        channel_base=model["channel_base"],
        channel_max=model["channel_max"],
        num_classes=num_classes,
    )
    g_options, d_options = {}, {}
    family, mbstd_group_size = stylegan, model["mbstd_group_size"]
    if model["name"] == "stylegan2":
        family, mbstd_group_size = stylegan2, mbstd_group_size or None  # 0: the whole minibatch
        conv_clamp = float(model["conv_clamp"]) or None
        g_options = dict(architecture=model["g_architecture"], conv_clamp=conv_clamp)
        d_options = dict(
            architecture=model["d_architecture"],
            conv_clamp=conv_clamp,
            mbstd_num_channels=model["mbstd_num_channels"],
            cmap_dim=model["cmap_dim"] or None,
            mapping_layers=model["d_mapping_layers"],
            mapping_lr_multiplier=model["d_mapping_lr_multiplier"],
        )
    return (
        family.Generator(
            z_dim=model["latent_dim"],
            w_dim=model["w_dim"],
            mapping_layers=model["mapping_layers"],
            out_channels=sample_shape[-1],
            style_mixing_prob=model["style_mixing_prob"],
            mapping_lr_multiplier=model["mapping_lr_multiplier"],
            w_avg_beta=model["w_avg_beta"],
            **g_options,
            **common,
        ),
        family.Discriminator(mbstd_group_size=mbstd_group_size, **d_options, **common),
    )


@register("r3gan")
def r3gan(model, sample_shape, num_classes, condition_shape):
    """R3GAN's ResNeXt-style generator and discriminator (Huang et al. 2024, config E)."""
    from gans_jax.models import r3gan

    stages = dict(
        widths=tuple(model["stage_widths"]),
        cardinalities=tuple(model["stage_cardinalities"]),
        blocks=tuple(model["stage_blocks"]),
        expansion=model["expansion"],
        num_classes=num_classes,
    )
    side = 4 * 2 ** (len(stages["widths"]) - 1)
    if model["resolution"] != side or tuple(sample_shape[:2]) != (side, side):
        raise ValueError(
            f"R3GAN with {len(stages['widths'])} stages makes {side}x{side} images, but model.resolution="
            f"{model['resolution']} and the data's images are {tuple(sample_shape)}"
        )
    return (
        r3gan.Generator(
            out_channels=sample_shape[-1], embed_dim=model["g_embed_dim"] or model["latent_dim"], **stages
        ),
        r3gan.Discriminator(embed_dim=model["d_embed_dim"], **stages),
    )


def _needs_condition(model, condition_shape) -> None:
    if not condition_shape:
        raise ValueError(
            f"model.name={model['name']!r} translates images: its data needs source images ('condition')"
        )


@register("pix2pix")
def pix2pix(model, sample_shape, num_classes, condition_shape):
    """pix2pix's U-Net and conditional PatchGAN (Isola et al. 2017)."""
    from gans_jax.models.pix2pix import PatchDiscriminator, UNetGenerator

    _needs_condition(model, condition_shape)
    return (
        UNetGenerator(
            sample_shape[-1],
            model["g_channels"],
            normalization=model["g_normalization"],
            dropout_rate=model["g_dropout"],
            test_dropout=model["g_test_dropout"],
        ),
        PatchDiscriminator(model["d_channels"], model["d_layers"], normalization=model["d_normalization"]),
    )


@register("cyclegan")
def cyclegan(model, sample_shape, num_classes, condition_shape):
    """CycleGAN's two ResNet generators and two PatchGANs (Zhu et al. 2017)."""
    from gans_jax.models.cyclegan import CycleGANDiscriminator, CycleGANGenerator

    _needs_condition(model, condition_shape)
    return (
        CycleGANGenerator(
            sample_shape[-1],
            model["g_channels"],
            model["residual_blocks"],
            model["g_normalization"],
            identity=model["identity_mapping"],
            x_channels=condition_shape[-1],
        ),
        CycleGANDiscriminator(model["d_channels"], model["d_layers"], model["d_normalization"]),
    )


@register("srgan")
def srgan(model, sample_shape, num_classes, condition_shape):
    """SRResNet and the SRGAN discriminator (Ledig et al. 2017); the upscale factor is the ratio of
    the image side to the source's."""
    from gans_jax.models.srgan import SRGANDiscriminator, SRResNetGenerator

    _needs_condition(model, condition_shape)
    factor = sample_shape[0] // condition_shape[0]
    if factor * condition_shape[0] != sample_shape[0]:
        raise ValueError(
            f"SRGAN: image side {sample_shape[0]} is not a multiple of the source's {condition_shape[0]}"
        )
    return (
        SRResNetGenerator(
            sample_shape[-1],
            model["g_channels"],
            model["residual_blocks"],
            upscale_factor=factor,
            output=model["g_output"],
            normalization=model["g_normalization"],
            icnr=model["icnr"],
        ),
        SRGANDiscriminator(model["d_channels"], pool_size=model["d_pool_size"] or None),
    )
