"""R3GAN's networks (gans_jax.models.r3gan): block shapes and fix-up initialisation, parameter counts of
the official presets, and outputs equal to the official PyTorch networks on one small configuration.

The fixture ``fixtures/r3gan_reference.npz`` holds the weights, inputs and outputs of brownvc/R3GAN's
``R3GAN.Networks.Generator``/``Discriminator`` (CPU reference resampling and activation paths; zero-
initialised weights redrawn from N(0, 0.1^2) so that every weight matters) for widths (16, 16, 8),
cardinalities (4, 4, 2), blocks (1, 2, 1), latent 8, three classes, embeddings 8 (G) and 16 (D).
"""

from __future__ import annotations

import math
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models import r3gan

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "r3gan_reference.npz"

# Parameter counts of the official networks (brownvc/R3GAN train.py presets, R3GAN.Networks built with
# torch on CPU, sum of p.numel()), 3-channel images; CIFAR-10 and ImageNet class-conditional as the
# README's commands (--cond=1), FFHQ unconditional.
OFFICIAL_COUNTS = {
    ("CIFAR10", None): (20_732_160, 20_683_776),
    ("CIFAR10", 10): (20_781_952, 21_280_512),
    ("FFHQ-64", None): (22_429_824, 22_381_440),
    ("FFHQ-256", None): (23_057_952, 23_009_568),
    ("ImageNet-32", 1000): (82_914_304, 86_548_992),
    ("ImageNet-64", 1000): (103_570_432, 107_205_120),
}


def _count(module, *args) -> int:
    shapes = jax.eval_shape(lambda: module.init(jax.random.PRNGKey(0), *args))
    return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(shapes))


@pytest.mark.parametrize("preset,num_classes", list(OFFICIAL_COUNTS))
def test_parameter_counts_equal_the_official_presets(preset, num_classes):
    spec = r3gan.PRESETS[preset]
    g = r3gan.Generator(**spec, num_classes=num_classes)
    d = r3gan.Discriminator(**spec, num_classes=num_classes)
    labels = None if num_classes is None else jnp.zeros((1,), jnp.int32)
    side = g.resolution
    counts = (_count(g, jnp.zeros((1, 64)), labels), _count(d, jnp.zeros((1, side, side, 3)), labels))
    assert counts == OFFICIAL_COUNTS[(preset, num_classes)]


def test_block_shapes_fixup_zero_init_and_gains():
    block = r3gan.ResidualBlock(cardinality=4, expansion=2, num_blocks=16)
    x = jax.random.normal(jax.random.PRNGKey(1), (2, 8, 8, 16))
    params = jax.jit(block.init)(jax.random.PRNGKey(0), x)["params"]
    assert params["conv1"]["kernel"].shape == (1, 1, 16, 32)
    assert params["conv2"]["kernel"].shape == (3, 3, 8, 32)  # grouped: 32 / 4 inputs per group
    assert params["conv3"]["kernel"].shape == (1, 1, 32, 16)
    assert not np.any(params["conv3"]["kernel"])  # fix-up: the branch's last layer starts at zero
    apply = jax.jit(block.apply)
    np.testing.assert_array_equal(apply({"params": params}, x), x)  # so the block is the identity
    gain = math.sqrt(2 / 1.04) * 16 ** (-1 / 4)
    for name, fan_in in (("conv1", 16), ("conv2", 72)):
        std = float(np.std(params[name]["kernel"]))
        assert abs(std / (gain / math.sqrt(fan_in)) - 1) < 0.1, (name, std)
    params = jax.tree.map(lambda p: p + 0.1, params)  # non-zero branch: shape kept, output changes
    y = apply({"params": params}, x)
    assert y.shape == x.shape and not np.allclose(y, x)


def test_network_shapes_and_errors():
    g = r3gan.Generator(widths=(16, 8), cardinalities=(4, 2), blocks=(1, 1), out_channels=1, num_classes=10)
    d = r3gan.Discriminator(widths=(16, 8), cardinalities=(4, 2), blocks=(1, 1), num_classes=10)
    z, y = jnp.zeros((3, 4)), jnp.array([0, 5, 9])
    img = jax.eval_shape(lambda: g.init_with_output(jax.random.PRNGKey(0), z, y)[0])
    assert img.shape == (3, 8, 8, 1)
    logits = jax.eval_shape(lambda: d.init_with_output(jax.random.PRNGKey(0), jnp.zeros(img.shape), y)[0])
    assert logits.shape == (3,)
    with pytest.raises(ValueError, match="needs labels"):
        g.init(jax.random.PRNGKey(0), z)
    with pytest.raises(ValueError, match=r"take 8x8 NHWC images, got \(3, 16, 16, 1\)"):
        d.init(jax.random.PRNGKey(0), jnp.zeros((3, 16, 16, 1)), y)
    with pytest.raises(ValueError, match="not divisible by the cardinality 3"):
        r3gan.ResidualBlock(3, 2, 1).init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 16)))
    with pytest.raises(ValueError, match="one entry per stage"):
        r3gan.Generator(widths=(8, 8), cardinalities=(2,), blocks=(1, 1)).init(jax.random.PRNGKey(0), z)


def _torch_to_flax(ref, prefix: str, blocks) -> dict:
    """The official parameter names and layouts (OIHW convolutions, (out, in) linear maps) -> ours."""
    conv = lambda w: np.transpose(w, (2, 3, 1, 0))
    p: dict = {}

    def block(dst, src):
        p[dst] = {
            "conv1": {"kernel": conv(ref[f"{src}.LinearLayer1.Layer.weight"])},
            "conv2": {"kernel": conv(ref[f"{src}.LinearLayer2.Layer.weight"])},
            "conv3": {"kernel": conv(ref[f"{src}.LinearLayer3.Layer.weight"])},
            "act1": {"bias": ref[f"{src}.NonLinearity1.Bias"]},
            "act2": {"bias": ref[f"{src}.NonLinearity2.Bias"]},
        }

    m = f"{prefix}/MainLayers"
    p["class_embedding"] = ref[f"{prefix}/EmbeddingLayer.weight"].T
    if prefix == "G":
        p["basis"] = np.transpose(ref[f"{m}.0.Layers.0.Basis"], (1, 2, 0))
        p["basis_linear"] = {"kernel": ref[f"{m}.0.Layers.0.LinearLayer.weight"].T}
        p["aggregation"] = {"kernel": conv(ref["G/AggregationLayer.Layer.weight"])}
        for s, n in enumerate(blocks):
            if f"{m}.{s}.Layers.0.LinearLayer.Layer.weight" in ref and s:
                p[f"up{s}_conv"] = {"kernel": conv(ref[f"{m}.{s}.Layers.0.LinearLayer.Layer.weight"])}
            for i in range(n):
                block(f"stage{s}_block{i}", f"{m}.{s}.Layers.{i + 1}")
    else:
        p["extraction"] = {"kernel": conv(ref["D/ExtractionLayer.Layer.weight"])}
        last = len(blocks) - 1
        p["basis"] = conv(ref[f"{m}.{last}.Layers.{blocks[last]}.Basis.weight"])
        p["basis_linear"] = {"kernel": ref[f"{m}.{last}.Layers.{blocks[last]}.LinearLayer.weight"].T}
        for s, n in enumerate(blocks):
            for i in range(n):
                block(f"stage{s}_block{i}", f"{m}.{s}.Layers.{i}")
            key = f"{m}.{s}.Layers.{n}.LinearLayer.Layer.weight"
            if s < last and key in ref:
                p[f"down{s}_conv"] = {"kernel": conv(ref[key])}
    return p


def test_outputs_equal_the_official_networks():
    ref = dict(np.load(FIXTURE))
    spec = dict(widths=(16, 16, 8), cardinalities=(4, 4, 2), blocks=(1, 2, 1), num_classes=3)
    g = r3gan.Generator(**spec, embed_dim=8)
    d = r3gan.Discriminator(**spec)
    g_params = _torch_to_flax(ref, "G", spec["blocks"])
    d_params = _torch_to_flax(ref, "D", spec["blocks"][::-1])
    z, labels = jnp.asarray(ref["z"]), jnp.asarray(ref["labels"])
    # every parameter of ours has its official counterpart, of the same shape
    ours = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), z, labels))["params"]
    assert jax.tree.map(np.shape, ours) == jax.tree.map(np.shape, g_params)
    ours = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), jnp.asarray(ref["d_in"]), labels))["params"]
    assert jax.tree.map(np.shape, ours) == jax.tree.map(np.shape, d_params)
    img = jax.jit(g.apply)({"params": g_params}, z, labels)
    np.testing.assert_allclose(img, ref["g_out"], rtol=1e-4, atol=1e-4)
    d_apply = jax.jit(d.apply)
    logits = d_apply({"params": d_params}, jnp.asarray(ref["d_in"]), labels)
    np.testing.assert_allclose(logits, ref["d_out"], rtol=1e-4, atol=1e-4)
    logits = d_apply({"params": d_params}, jnp.asarray(ref["g_out"]), labels)
    np.testing.assert_allclose(logits, ref["d_out_fake"], rtol=1e-4, atol=1e-4)
