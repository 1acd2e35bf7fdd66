"""The pix2pix and CycleGAN authors' checkpoints convert, and the converted networks equal theirs.

The fixtures (``tests/fixtures/reference/pix2pix/``, made by ``make_pix2pix_fixtures.py`` with the
authors' ``networks.py``; README there) hold state dicts saved as their ``BaseModel.save_networks`` saves
them and their networks' outputs on fixed inputs, in evaluation mode and in their ``test.py`` default
(each image alone in training mode). Generator images agree to 1e-4 in [-1, 1], discriminator logits to
1e-4 of their largest magnitude; ``gans-jax convert`` + ``gans-jax translate`` write the same PNGs (to
one uint8 level) as the reference outputs."""

import json
import os
import shutil

import jax
import numpy as np
import pytest
from PIL import Image

from gans_jax import builders, evaluation, pretrained, visualize
from gans_jax.cli import main
from gans_jax.models.cyclegan import ResnetGenerator
from gans_jax.pretrained import pytorch_i2i
from gans_jax.pretrained.torch_layout import StateDict, read_state_dict
from tests.helpers import experiment_config

HERE = os.path.join(os.path.dirname(__file__), "fixtures", "reference", "pix2pix")
REF = np.load(os.path.join(HERE, "pix2pix_reference.npz"))
UNET32 = os.path.join(HERE, "pix2pix_unet32_batch")
UNET64 = os.path.join(HERE, "pix2pix_unet64_instance")
CYCLEGAN = os.path.join(HERE, "cyclegan_resnet_instance")
RESNET_ZOO = os.path.join(HERE, "resnet_batch_zoo.pth")


def close_images(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=0, atol=1e-4)


def close_logits(ours, theirs):
    np.testing.assert_allclose(np.asarray(ours), theirs, rtol=0, atol=1e-4 * np.abs(theirs).max())


def write_pngs(folder, images):
    os.makedirs(folder)
    for i, image in enumerate(visualize.to_uint8(images)):
        visualize.save_png(os.path.join(folder, f"{i}.png"), image)


def read_pngs(folder, n):
    return np.stack([np.asarray(Image.open(os.path.join(folder, f"{i}.png"))) for i in range(n)])


def same_png(folder, reference):
    """``gans-jax translate``'s PNGs against the reference outputs written the same way (one uint8 level
    for values the 1e-4 difference puts on the other side of a rounding boundary)."""
    want = visualize.to_uint8(reference)
    got = read_pngs(folder, len(want)).reshape(want.shape)
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


def test_pix2pix_run_converts_and_translates_as_the_authors_test_script(tmp_path, capsys):
    """U-Net (1 -> 3 channels, 5 downs, batch norm) and basic PatchGAN: a checkpoints folder with
    train_opt.txt. ``gans-jax translate`` runs each image alone in training mode by default (their
    test.py), running statistics with --nobatch_stats (their --eval)."""
    assert pretrained.detect(UNET32) == "pix2pix"
    workdir = tmp_path / "converted"
    main(["gans-jax", "convert", UNET32, f"--workdir={workdir}"])
    assert "converted pix2pix" in capsys.readouterr().out
    run = json.loads((workdir / "run.json").read_text())
    assert run["sample_shape"] == [32, 32, 3] and run["condition_shape"] == [32, 32, 1]
    config, gan, state = builders.load_run(str(workdir))
    m = config.model
    assert (m.name, m.resolution, m.g_channels, m.g_normalization) == ("pix2pix", 32, 4, "batch")
    assert (m.d_channels, m.d_layers, m.d_normalization, m.g_dropout) == (4, 3, "batch", 0.5)
    assert config.eval.batch_stats and config.data.direction == "AtoB" and config.train.ema_decay == 0.0

    a, b = REF["pix2pix_unet32_batch_a"], REF["pix2pix_unet32_batch_b"]
    close_images(evaluation.translate(gan, state, a, batch_stats=True), REF["pix2pix_unet32_batch_g_train"])
    close_images(evaluation.translate(gan, state, a, batch_stats=False), REF["pix2pix_unet32_batch_g_eval"])
    d_vars = {"params": state.d_params, **state.d_collections}
    close_logits(gan.discriminator.apply(d_vars, b, a, train=False), REF["pix2pix_unet32_batch_d_eval"])
    batch_logits, _ = gan.discriminator.apply(d_vars, b, a, train=True, mutable=["batch_stats"])
    close_logits(batch_logits, REF["pix2pix_unet32_batch_d_train"])

    write_pngs(tmp_path / "labels", a)
    main(
        [
            "gans-jax",
            "translate",
            f"--workdir={workdir}",
            f"--input={tmp_path / 'labels'}",
            f"--out={tmp_path / 'out'}",
        ]
    )
    same_png(tmp_path / "out", REF["pix2pix_unet32_batch_g_train"])
    main(
        [
            "gans-jax",
            "translate",
            f"--workdir={workdir}",
            f"--input={tmp_path / 'labels'}",
            f"--out={tmp_path / 'eval'}",
            "--nobatch_stats",
        ]
    )
    same_png(tmp_path / "eval", REF["pix2pix_unet32_batch_g_eval"])
    assert np.abs(REF["pix2pix_unet32_batch_g_eval"] - REF["pix2pix_unet32_batch_g_train"]).max() > 0.1


def networks_of(converted):
    """The converted config's networks, with every converted array's shape checked against theirs (as
    :func:`gans_jax.pretrained.assemble` does, without compiling an initialiser)."""
    c = converted
    gan = builders.build_gan(c.config, c.sample_shape, None, c.condition_shape)
    z, labels, x = gan.example_inputs(c.sample_shape)
    for module, args, variables in (
        (gan.generator, (z, labels), c.generator),
        (gan.discriminator, (x, labels), c.discriminator),
    ):
        if variables is None:
            continue
        want = jax.eval_shape(
            lambda m=module, a=args: m.init(
                {"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)}, *a, train=False
            )
        )
        got = jax.tree.map(np.shape, dict(variables))
        assert got == jax.tree.map(lambda s: s.shape, dict(want)), type(module).__name__
    return gan


def test_pix2pix_other_configuration_and_model_zoo_file():
    """6 downs at 64x64 (one dropout block), instance norm, the PixelGAN; the same generator as a
    model-zoo file: legacy serialisation with the InstanceNorm buffers of PyTorch < 0.4, dropped."""
    c = pretrained.convert(UNET64)
    assert c.kind == "pix2pix" and c.sample_shape == (64, 64, 3) and c.condition_shape == (64, 64, 3)
    m = c.config.model
    assert (m.g_normalization, m.g_channels, m.d_layers, m.d_normalization, m.d_channels) == (
        "instance",
        2,
        0,
        "instance",
        4,
    )
    gan = networks_of(c)
    zoo = pretrained.convert(os.path.join(HERE, "unet64_instance_zoo.pth"))
    assert (
        zoo.discriminator is None
        and pretrained.detect(os.path.join(HERE, "unet64_instance_zoo.pth")) == "pix2pix"
    )
    jax.tree.map(np.testing.assert_array_equal, zoo.generator, c.generator)

    a, b = REF["pix2pix_unet64_instance_a"], REF["pix2pix_unet64_instance_b"]
    quiet = gan.generator.clone(test_dropout=False)  # their eval(): dropout off
    close_images(quiet.apply(c.generator, None, a, train=False), REF["pix2pix_unet64_instance_g_eval"])
    no_dropout = gan.generator.clone(dropout_rate=0.0)  # the fixture's training mode keeps dropout quiet
    per_image = [no_dropout.apply(c.generator, None, a[i : i + 1], train=True) for i in range(len(a))]
    close_images(np.concatenate(per_image), REF["pix2pix_unet64_instance_g_train"])
    close_logits(
        gan.discriminator.apply(c.discriminator, b, a, train=False), REF["pix2pix_unet64_instance_d_eval"]
    )


def test_cyclegan_run_pairs_G_A_with_G_and_D_A_with_D_Y(tmp_path):
    """``G_A``: A (3 channels) -> B (1 channel) is our ``G: X -> Y``; ``D_A`` judges B images (``loss_D_A
    = backward_D_basic(netD_A, real_B, fake_B)``), so it is ``D_Y``. ``translate --direction x2y`` is
    ``G_A``, ``y2x`` is ``G_B``."""
    assert pretrained.detect(CYCLEGAN) == "cyclegan"
    workdir = tmp_path / "converted"
    main(["gans-jax", "convert", CYCLEGAN, f"--workdir={workdir}"])
    config, gan, state = builders.load_run(str(workdir))
    m = config.model
    assert (m.name, m.resolution, m.residual_blocks, m.g_normalization, m.d_layers) == (
        "cyclegan",
        32,
        2,
        "instance",
        2,
    )
    assert gan.condition_shape == (32, 32, 3) and not m.identity_mapping  # X = A: 3 channels; Y = B: 1
    a, b = REF["cyclegan_a"], REF["cyclegan_b"]
    out = evaluation.translate(gan, state, {"x": a, "y": b}, batch_stats=config.eval.batch_stats)
    for ours, theirs in (("y", "fake_b"), ("x", "fake_a"), ("rec_x", "rec_a"), ("rec_y", "rec_b")):
        close_images(out[ours], REF[f"cyclegan_{theirs}"])
    logits = gan.discriminator.clone(return_dict=True).apply(
        {"params": state.d_params, **state.d_collections}, {"x": a, "y": b}, train=False
    )
    close_logits(logits["logits_x"], REF["cyclegan_d_b"])  # D_X = D_B judges A
    close_logits(logits["logits_y"], REF["cyclegan_d_a"])  # D_Y = D_A judges B

    write_pngs(tmp_path / "A", a)
    write_pngs(tmp_path / "B", b)
    for direction, source, theirs in (("x2y", "A", "fake_b"), ("y2x", "B", "fake_a")):
        out_dir = tmp_path / f"out_{direction}"
        main(
            [
                "gans-jax",
                "translate",
                f"--workdir={workdir}",
                f"--input={tmp_path / source}",
                f"--out={out_dir}",
                f"--direction={direction}",
            ]
        )
        same_png(out_dir, REF[f"cyclegan_{theirs}"])


def test_single_resnet_generator_becomes_G(tmp_path):
    """A test-model / model-zoo file: one ResnetGenerator (here with batch norm, 3 blocks) as ``G``; ``F``
    keeps a random initialisation, the discriminators too; their default crop size, 256."""
    assert pretrained.detect(RESNET_ZOO) == "cyclegan"
    c = pretrained.convert(RESNET_ZOO)
    assert c.sample_shape == (256, 256, 3) and c.discriminator is None
    assert (c.config.model.g_normalization, c.config.model.residual_blocks) == ("batch", 3)
    assert c.config.model.identity_mapping and set(c.config.auxiliary_losses) == {
        "cycle_consistency",
        "identity",
    }
    networks_of(c)
    g_params, f_params = c.generator["params"]["G"], c.generator["params"]["F"]
    assert not np.allclose(g_params["c7s1_in"]["kernel"], f_params["c7s1_in"]["kernel"])
    g = ResnetGenerator(3, 4, 3, "batch")
    variables = {"params": g_params, "batch_stats": c.generator["batch_stats"]["G"]}
    a = REF["resnet_batch_a"]
    close_images(g.apply(variables, a, train=False), REF["resnet_batch_eval"])
    per_image = [
        g.apply(variables, a[i : i + 1], train=True, mutable=["batch_stats"])[0] for i in range(len(a))
    ]
    close_images(np.concatenate(per_image), REF["resnet_batch_train"])


def test_converted_recipes_are_the_experiments():
    """The converted configs train as experiments/pix2pix_facades.py and cyclegan_horse2zebra.py."""
    for path, name in ((UNET32, "pix2pix_facades"), (RESNET_ZOO, "cyclegan_horse2zebra")):
        ours, theirs = pretrained.convert(path).config, experiment_config(name)
        assert ours.objective.name == theirs.objective.name
        assert ours.auxiliary_losses.to_dict() == theirs.auxiliary_losses.to_dict()
        for player in ("g", "d"):
            assert (ours.optim[player].lr, ours.optim[player].b1) == (
                theirs.optim[player].lr,
                theirs.optim[player].b1,
            )
        assert (ours.train.batch_size, ours.train.ema_decay) == (
            theirs.train.batch_size,
            theirs.train.ema_decay,
        )
        assert ours.train.image_pool_size == theirs.train.image_pool_size and ours.eval.batch_stats


def test_wrong_and_damaged_files_are_refused_with_what_was_found(tmp_path):
    broken = tmp_path / "run"
    shutil.copytree(UNET32, broken)
    data = (broken / "latest_net_G.pth").read_bytes()
    (broken / "latest_net_G.pth").write_bytes(data[: len(data) // 2])
    with pytest.raises(
        pretrained.ConversionError,
        match=r"latest_net_G.pth: cannot be read as a torch state dict .*truncated",
    ):
        pretrained.convert(broken, "pix2pix")
    shutil.copy(os.path.join(UNET32, "latest_net_D.pth"), broken / "latest_net_G.pth")  # D saved as G
    with pytest.raises(
        pretrained.ConversionError, match=r"expected the authors' UnetGenerator .* found a patch network"
    ):
        pretrained.convert(broken, "pix2pix")
    with pytest.raises(pretrained.ConversionError, match=r"a resnet network where pix2pix .* needs unet"):
        pretrained.convert(RESNET_ZOO, "pix2pix")
    with pytest.raises(
        pretrained.ConversionError, match=r"no <epoch>_net_G.pth \(found \['D_A', 'D_B', 'G_A', 'G_B'\]\)"
    ):
        pretrained.convert(CYCLEGAN, "pix2pix")
    swapped = tmp_path / "swapped"  # G_A and G_B exchanged: D_A no longer judges G_A's domain
    shutil.copytree(CYCLEGAN, swapped)
    os.replace(swapped / "latest_net_G_A.pth", swapped / "tmp.pth")
    os.replace(swapped / "latest_net_G_B.pth", swapped / "latest_net_G_A.pth")
    os.replace(swapped / "tmp.pth", swapped / "latest_net_G_B.pth")
    with pytest.raises(
        pretrained.ConversionError, match=r"D_A reads 1 channels; it judges domain B images, which have 3"
    ):
        pretrained.convert(swapped)
    os.remove(swapped / "latest_net_G_B.pth")
    with pytest.raises(pretrained.ConversionError, match=r"needs both G_A and G_B"):
        pretrained.convert(swapped)

    arrays = read_state_dict(os.path.join(UNET32, "latest_net_G.pth"), "a U-Net")
    extra = {**arrays, "model.model.9.weight": np.zeros((2, 2, 4, 4), np.float32)}
    with pytest.raises(pretrained.ConversionError, match=r"tensors \['model.model.9.weight'\] are left over"):
        pytorch_i2i.read_unet(StateDict(extra, "x.pth", "the unet generator"))
    missing = {k: v for k, v in arrays.items() if k != "model.model.1.model.2.running_var"}
    with pytest.raises(
        pretrained.ConversionError, match=r"has no tensor 'model.model.1.model.2.running_var' \(found"
    ):
        pytorch_i2i.read_unet(StateDict(missing, "x.pth", "the unet generator"))


def test_run_folders_pick_the_latest_epoch_and_read_their_options(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(UNET32, run)
    shutil.copy(run / "latest_net_G.pth", run / "5_net_G.pth")
    shutil.copy(os.path.join(UNET64, "latest_net_G.pth"), run / "10_net_G.pth")
    files, options = pytorch_i2i.run_files(str(run))
    assert files == {"G": str(run / "latest_net_G.pth"), "D": str(run / "latest_net_D.pth")}
    assert (
        options["crop_size"] == "32" and options["direction"] == "AtoB" and options["no_dropout"] == "False"
    )
    os.remove(run / "latest_net_G.pth")
    os.remove(run / "latest_net_D.pth")
    assert pytorch_i2i.run_files(str(run))[0] == {"G": str(run / "10_net_G.pth")}  # the highest epoch
    assert pytorch_i2i.run_files(str(run / "5_net_G.pth"))[0] == {"G": str(run / "5_net_G.pth")}
