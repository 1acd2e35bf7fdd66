"""BigGAN-PyTorch checkpoints convert, and the converted networks compute what the reference computes.

The fixtures (``tests/fixtures/reference/biggan/``, remade by ``make_biggan_fixtures.py`` with torch and a
checkout of ajbrock/BigGAN-PyTorch) are small random-weight networks saved as the reference's
``utils.save_weights`` saves them, with the reference's outputs on fixed inputs. Measured here (jax 0.10.2,
CPU): generator outputs within 6e-6 absolute, discriminator logits within 5e-7 relative, spectral-norm and
batch-norm buffers after a training-mode call within 6e-7 relative.
"""

import os
import shutil

import jax
import numpy as np
import pytest

from gans_jax import builders, pretrained
from gans_jax.cli import main
from gans_jax.pretrained import biggan as converter
from gans_jax.training.loop import initialized_from

ROOT = os.path.join(os.path.dirname(__file__), "fixtures", "reference", "biggan")
FULL_RUNS = ["i32_shared_hier", "i64_classembed_mybn"]
ALL = [*FULL_RUNS, "i32_crossreplica_G"]


def reference(case: str) -> dict[str, np.ndarray]:
    with np.load(os.path.join(ROOT, case, "parity.npz")) as f:
        return dict(f)


def buffers_after(ref: dict, network: str, *, embeddings_in_ccbn=False) -> dict[str, np.ndarray]:
    """The reference's buffers after its training-mode call, by our collection path."""
    prefix = f"{network}_train/"
    state = {k[len(prefix) :]: v for k, v in ref.items() if k.startswith(prefix)}
    stats = converter.flax_variables(state, embeddings_in_ccbn=embeddings_in_ccbn)["batch_stats"]
    return pretrained._flatten(stats)


def assert_buffers_close(updated, want: dict[str, np.ndarray]) -> None:
    got = pretrained._flatten(jax.device_get(dict(updated)["batch_stats"]))
    assert set(want) <= set(got), sorted(set(want) - set(got))[:5]
    for path, value in want.items():
        scale = max(float(np.abs(value).max()), 1e-3)
        np.testing.assert_allclose(np.asarray(got[path]), value, rtol=0, atol=1e-5 * scale, err_msg=path)


def test_architecture_and_settings_are_read_from_the_files():
    """Resolution, widths, attention, embeddings, z from tensors; eps and iterations from state_dict.pth."""
    model = lambda case: pretrained.convert(os.path.join(ROOT, case)).config.model
    m = model("i32_shared_hier")
    assert (m.resolution, m.g_channels, m.d_channels, m.latent_dim, m.shared_dim, m.hierarchical) == (
        32, 4, 4, 20, 8, True,
    )  # fmt: skip
    settings = lambda m: (m.attention, m.d_attention, m.bn_eps, m.sn_eps, m.sn_itrs, m.d_sn_itrs)
    assert settings(m) == ("16", "", 1e-5, 1e-6, 1, 1)
    assert (m.weight_init, m.bn_unbiased_var) == ("ortho", True)
    m = model("i64_classembed_mybn")
    assert (m.resolution, m.g_channels, m.d_channels, m.latent_dim, m.shared_dim, m.hierarchical) == (
        64, 2, 2, 16, 0, False,
    )  # fmt: skip
    assert settings(m) == ("32", "8", 1e-4, 1e-8, 1, 2)
    assert (m.weight_init, m.bn_unbiased_var) == ("N02", False)
    converted = pretrained.convert(os.path.join(ROOT, "i32_crossreplica_G", "G.pth"))
    m = converted.config.model
    assert (m.resolution, m.latent_dim, m.shared_dim, m.hierarchical, m.attention) == (32, 12, 12, False, "0")
    assert (m.sn_eps, m.bn_eps, converted.num_classes, converted.sample_shape) == (1e-6, 1e-5, 3, (32, 32, 3))
    assert converted.discriminator is None  # D keeps its random initialisation

    run = converter.read_run_config(os.path.join(ROOT, "i64_classembed_mybn", "state_dict.pth"))  # legacy
    flags = ("BN_eps", "SN_eps", "G_ch", "mybn", "num_G_SVs")
    assert [run[k] for k in flags] == [1e-4, 1e-8, 2, True, 2]
    assert "G_activation" not in run  # an nn.ReLU: read as an inert stand-in and left out
    run = converter.read_run_config(os.path.join(ROOT, "i32_shared_hier", "state_dict.pth"))  # zip
    assert (run["G_attn"], run["D_attn"], run["hier"], run["num_D_steps"]) == ("16", "16", True, 2)


@pytest.mark.parametrize("case", ALL)
def test_generator_matches_the_reference(case, tmp_path):
    """G alone (its own buffers; with state_dict.pth where the run has one) in evaluation mode (running
    statistics) and in training mode (batch statistics, one power iteration), and its buffers after it."""
    for name in ("G.pth", "state_dict.pth"):
        if os.path.exists(os.path.join(ROOT, case, name)):
            shutil.copy(os.path.join(ROOT, case, name), tmp_path / name)
    gan, state = pretrained.load(tmp_path)
    ref = reference(case)
    z, y = ref["z"], ref["y"]
    np.testing.assert_allclose(gan.generate(state, z, y, use_ema=False), ref["G_eval"], rtol=0, atol=1e-4)
    variables = {"params": state.g_params, **state.g_collections}
    out, updated = gan.generator.apply(variables, z, y, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(out, ref["G_train"], rtol=0, atol=1e-4)
    no_shared = gan.generator.shared_dim == 0
    assert_buffers_close(updated, buffers_after(ref, "G", embeddings_in_ccbn=no_shared))


@pytest.mark.parametrize("case", FULL_RUNS)
def test_run_folder_ema_generator_and_discriminator_match_the_reference(case):
    """The whole folder: G_ema samples (evaluation mode, G_ema's buffers) and D's logits in evaluation mode
    and in a training-mode call (its power iterations, ``num_D_SV_itrs`` of them), and D's buffers after."""
    gan, state = pretrained.load(os.path.join(ROOT, case))
    ref = reference(case)
    np.testing.assert_allclose(gan.generate(state, ref["z"], ref["y"]), ref["G_ema_eval"], rtol=0, atol=1e-4)
    d_vars = {"params": state.d_params, **state.d_collections}
    x, dy = ref["x"], ref["dy"]
    logits = gan.discriminator.apply(d_vars, x, dy, train=False)
    np.testing.assert_allclose(logits, ref["D_eval"], rtol=1e-4)
    logits, updated = gan.discriminator.apply(d_vars, x, dy, train=True, mutable=["batch_stats"])
    np.testing.assert_allclose(logits, ref["D_train"], rtol=1e-4)
    assert_buffers_close(updated, buffers_after(ref, "D"))
    if case == "i64_classembed_mybn":  # two power iterations in training mode: another sigma than one
        assert np.abs(ref["D_train"] - ref["D_eval"]).max() > 1e-3


def test_convert_and_sample_commands_reproduce_the_reference_images(tmp_path, capsys):
    ref = reference("i32_shared_hier")
    np.save(tmp_path / "z.npy", ref["z"])
    np.save(tmp_path / "y.npy", ref["y"])
    workdir = tmp_path / "converted"
    main(["gans-jax", "convert", os.path.join(ROOT, "i32_shared_hier"), f"--workdir={workdir}"])
    assert "converted biggan-pytorch" in capsys.readouterr().out
    out = tmp_path / "x.npy"
    main(
        [
            "gans-jax",
            "sample",
            f"--workdir={workdir}",
            f"--latents={tmp_path / 'z.npy'}",
            f"--labels={tmp_path / 'y.npy'}",
            f"--out={out}",
        ]
    )
    np.testing.assert_allclose(np.load(out), ref["G_ema_eval"], rtol=0, atol=1e-4)

    # fine-tuning: an experiment of the same model starts from exactly these networks
    config, gan, converted = builders.load_run(str(workdir))
    fresh = builders.init_state(config, gan, jax.random.PRNGKey(7), (32, 32, 3))
    tuned = initialized_from(fresh, str(workdir))
    for a, b in zip(
        jax.tree.leaves((tuned.g_params, tuned.ema_params, tuned.d_collections)),
        jax.tree.leaves((converted.g_params, converted.ema_params, converted.d_collections)),
        strict=True,
    ):
        np.testing.assert_array_equal(a, b)


def test_released_imagenet_128_layout_converts_to_the_biggan_imagenet_networks():
    """The state-dict layout of the released ImageNet 128x128 run (``I128_layout.json``, written by the
    fixture script from the reference built with launch_BigGAN_bs256x8.sh's flags): the converted config is
    experiments/biggan_imagenet.py's model, and every array lands in a variable of that shape (158.3M
    parameters without G's shared embedding; shapes only, the arrays are zero-stride stand-ins)."""
    import json

    from gans_jax.models.registry import build_networks
    from tests.helpers import experiment_config

    with open(os.path.join(ROOT, "I128_layout.json")) as f:
        layout = json.load(f)
    states = {
        role: {k: np.broadcast_to(np.float32(0), shape) for k, shape in layout[net].items()}
        for role, net in (("G_ema", "G"), ("D", "D"))
    }
    converted = converter.from_state_dicts(states)
    model = converted.config.model
    recipe = experiment_config("biggan_imagenet").model
    keys = ("resolution", "g_channels", "d_channels", "latent_dim", "shared_dim", "hierarchical", "attention")
    assert {k: model[k] for k in keys} == {k: recipe[k] for k in keys}
    assert (model.d_attention, model.sn_eps, model.bn_eps, converted.num_classes) == ("", 1e-6, 1e-5, 1000)
    assert converted.sample_shape == (128, 128, 3)

    generator, discriminator = build_networks(model, converted.sample_shape, converted.num_classes)
    z, y = jax.numpy.zeros((1, 120)), jax.numpy.zeros((1,), jax.numpy.int32)
    x = jax.numpy.zeros((1, 128, 128, 3))
    shapes = {
        "G": jax.eval_shape(lambda: generator.init(jax.random.key(0), z, y, train=False)),
        "D": jax.eval_shape(lambda: discriminator.init(jax.random.key(0), x, y, train=False)),
    }
    variables_of = {"G": {**converted.generator, "params": converted.ema}, "D": converted.discriminator}
    for net, variables in variables_of.items():
        want = {k: v.shape for k, v in pretrained._flatten(shapes[net]).items()}
        got = {k: np.shape(v) for k, v in pretrained._flatten(variables).items()}
        assert got == want, (net, sorted(set(got) ^ set(want))[:5])
    count = lambda tree: sum(int(np.prod(np.shape(v))) for v in pretrained._flatten(tree).values())
    assert (count(converted.ema), count(converted.discriminator["params"])) == (70_433_988, 87_982_370)


def fails(pattern: str):
    return pytest.raises(pretrained.ConversionError, match=pattern)


def test_detection_and_clear_errors(tmp_path):
    run = os.path.join(ROOT, "i32_shared_hier")
    assert pretrained.detect(run) == "biggan-pytorch"
    assert pretrained.detect(os.path.join(run, "D.pth")) == "biggan-pytorch"
    shutil.copy(os.path.join(run, "G_ema.pth"), tmp_path / "generator_weights.pth")
    assert pretrained.detect(tmp_path / "generator_weights.pth") == "biggan-pytorch"  # by its keys
    other = os.path.join(os.path.dirname(ROOT), "..", "torch_formats", "state_dict_zip.pth")
    with fails("not a checkpoint of a supported kind"):
        pretrained.detect(other)
    with fails(r"not a BigGAN-PyTorch G or D state dict; found keys"):
        pretrained.convert(other, "biggan-pytorch")

    data = open(os.path.join(run, "G.pth"), "rb").read()
    (tmp_path / "G.pth").write_bytes(data[: len(data) // 2])
    with fails(r"G.pth: cannot read it as a torch file .* truncated"):
        pretrained.convert(tmp_path / "G.pth")
    legacy = open(os.path.join(ROOT, "i64_classembed_mybn", "D.pth"), "rb").read()
    (tmp_path / "G.pth").write_bytes(legacy[: len(legacy) - 1000])
    with fails(r"G.pth: cannot read it as a torch file .* truncated"):
        pretrained.convert(tmp_path / "G.pth")

    swapped = tmp_path / "swapped"
    swapped.mkdir()
    shutil.copy(os.path.join(run, "D.pth"), swapped / "G.pth")
    with fails(r"G.pth holds a discriminator .* expected a generator"):
        pretrained.convert(swapped)
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    shutil.copy(os.path.join(run, "G.pth"), mixed / "G.pth")
    shutil.copy(os.path.join(ROOT, "i64_classembed_mybn", "D.pth"), mixed / "D.pth")
    with fails(r"G makes 32x32 images of 5 classes, D takes 64x64"):
        pretrained.convert(mixed)
    shutil.copy(os.path.join(ROOT, "i64_classembed_mybn", "state_dict.pth"), swapped / "state_dict.pth")
    shutil.copy(os.path.join(run, "G.pth"), swapped / "G.pth")
    shutil.copy(os.path.join(run, "D.pth"), swapped / "D.pth")
    with fails(r"its config does not describe these networks: G_ch=2"):
        pretrained.convert(swapped)
