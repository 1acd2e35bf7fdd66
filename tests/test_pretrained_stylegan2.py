"""StyleGAN2-ADA pickles (NVlabs stylegan2-ada-pytorch) converted and compared with the reference code's
own outputs: four small random-weight snapshots pickled as its training loop does, of four reference
configurations (``tests/fixtures/reference/make_stylegan2_fixtures.py``, which needs torch; these tests
do not). Images within 1e-4 absolute, discriminator logits within 1e-4 relative; then the command line,
fine-tuning, and the files that must be refused."""

import json
import os
import pickle
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import builders, pretrained, style_sampling
from gans_jax.cli import main
from gans_jax.layers.style import style_mix
from gans_jax.pretrained import stylegan2 as sg2
from tests.fixtures.reference.make_stylegan2_fixtures import PLACEHOLDER
from tests.helpers import ONE_DEVICE

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures", "reference", "stylegan2")
NAMES = ("ffhq_like", "cifar_like", "resnet_skip", "orig_8")


def fixture(name):
    return os.path.join(FIXTURES, f"{name}.pkl"), dict(np.load(os.path.join(FIXTURES, f"{name}.npz")))


# the model.* keys each reference configuration maps onto (init_kwargs in make_stylegan2_fixtures.py)
EXPECTED_MODEL = {
    "ffhq_like": dict(
        resolution=32, latent_dim=32, w_dim=32, mapping_layers=8, channel_base=512, channel_max=32,
        g_architecture="skip", d_architecture="resnet", conv_clamp=256.0, mbstd_group_size=4,
        mbstd_num_channels=1, cmap_dim=0, conditional=False,
    ),
    "cifar_like": dict(
        resolution=32, latent_dim=16, w_dim=16, mapping_layers=2, channel_max=16, g_architecture="skip",
        d_architecture="orig", conv_clamp=256.0, mbstd_group_size=32, cmap_dim=0, d_mapping_layers=8,
        conditional=True,
    ),
    "resnet_skip": dict(
        resolution=16, latent_dim=8, w_dim=12, mapping_layers=3, mapping_lr_multiplier=0.05, w_avg_beta=0.99,
        g_architecture="resnet", d_architecture="skip", conv_clamp=1.0, mbstd_group_size=0,
        mbstd_num_channels=2, cmap_dim=12, d_mapping_layers=0, d_mapping_lr_multiplier=0.1, conditional=True,
    ),
    "orig_8": dict(
        resolution=8, g_architecture="orig", d_architecture="orig", conv_clamp=0.0, mbstd_num_channels=0,
        conditional=False,
    ),
}  # fmt: skip


@pytest.fixture(scope="module", params=NAMES)
def converted(request):
    path, ref = fixture(request.param)
    return request.param, pretrained.convert(path), ref


def test_every_reference_output_is_reproduced(converted):
    """Mapping, truncation with a cutoff, style mixing, synthesis with noise_mode const and none, the
    EMA and the trained generator, w_avg tracking, and the discriminator of each reference config."""
    name, conv, ref = converted
    assert conv.kind == "stylegan2-ada" and pretrained.detect(conv.source) == "stylegan2-ada"
    for key, value in EXPECTED_MODEL[name].items():
        assert conv.config.model[key] == value, (name, key)
    gan, state = pretrained.assemble(conv)
    labels = jnp.asarray(ref["labels"], jnp.int32) if gan.conditional else None
    assert gan.num_classes == (ref["c"].shape[1] or None)
    if gan.conditional:  # the reference's c is the one-hot of the labels
        np.testing.assert_array_equal(np.eye(gan.num_classes)[ref["labels"]], ref["c"])
    z, z2 = jnp.asarray(ref["z"]), jnp.asarray(ref["z2"])

    ws = style_sampling.mapping(gan, state, z, labels)
    np.testing.assert_allclose(ws, ref["ws"], rtol=1e-5, atol=1e-5)
    cutoff = int(ref["cutoff"])
    ws_trunc = style_sampling.mapping(gan, state, z, labels, psi=0.7, cutoff=cutoff)
    np.testing.assert_allclose(ws_trunc, ref["ws_trunc"], rtol=1e-5, atol=1e-5)
    assert np.abs(ref["ws_trunc"][:, cutoff:] - ref["ws"][:, cutoff:]).max() == 0  # layers >= cutoff kept
    mixed = style_mix(ws, style_sampling.mapping(gan, state, z2, labels), int(ref["mix_layer"]))

    images = {
        "img_const": style_sampling.synthesis(gan, state, ws, noise="const"),
        "img_none": style_sampling.synthesis(gan, state, ws, noise="none"),
        "img_trunc": style_sampling.synthesis(gan, state, ws_trunc),
        "img_mix": style_sampling.synthesis(gan, state, mixed),
        "img_psi07_cutoff8": jax.jit(
            lambda s, z, y: gan.generate(s, z, y, truncation_psi=0.7, truncation_cutoff=8)
        )(state, z, labels),
        "img_G": jax.jit(lambda s, z, y: gan.generate(s, z, y, use_ema=False))(state, z, labels),
    }
    for key, image in images.items():
        assert np.abs(ref[key]).max() <= 1.0 and image.shape == ref[key].shape
        np.testing.assert_allclose(image, ref[key], rtol=0, atol=1e-4, err_msg=f"{name} {key}")
    assert np.abs(ref["img_const"] - ref["img_none"]).max() > 1e-2  # the noise matters
    assert np.abs(ref["img_G"] - ref["img_const"]).max() > 1e-2  # G is not G_ema

    # one train-mode mapping of the generator G moves w_avg as the reference's
    _, updated = gan.generator.apply(
        {"params": state.g_params, **state.g_collections},
        z,
        labels,
        True,
        mutable=["w_avg"],
        method="mapping",
    )
    np.testing.assert_allclose(
        updated["w_avg"]["mapping_network"]["w_avg"], ref["w_avg_updated"], rtol=1e-5, atol=1e-5
    )

    d = jax.jit(lambda x: gan.discriminator.apply({"params": state.d_params}, x, labels, train=False))
    for key, x in (("d_fake", ref["img_const"]), ("d_real", ref["x_real"])):
        np.testing.assert_allclose(d(jnp.asarray(x)), ref[key], rtol=1e-4, atol=0, err_msg=f"{name} {key}")


def test_convert_then_sample_reproduces_the_reference_images(tmp_path, capsys):
    """gans-jax convert, then gans-jax sample --latents --noise-mode const --truncation-psi 0.7
    --truncation-cutoff 8 (and the labels): the reference G_ema(z, c, 0.7, 8, noise_mode='const')."""
    path, ref = fixture("cifar_like")
    workdir = tmp_path / "converted"
    main(["gans-jax", "convert", path, f"--workdir={workdir}"])
    assert f"converted stylegan2-ada {path}" in capsys.readouterr().out
    run = json.loads((workdir / "run.json").read_text())
    assert run["sample_shape"] == [32, 32, 3] and run["num_classes"] == 10 and run["kind"] == "stylegan2-ada"
    np.save(tmp_path / "z.npy", ref["z"])
    out = tmp_path / "images.npy"
    labels = ",".join(str(int(y)) for y in ref["labels"])
    flags = ["--noise-mode", "const", "--truncation-psi", "0.7", "--truncation-cutoff", "8"]
    main(["gans-jax", "sample", f"--workdir={workdir}", f"--latents={tmp_path / 'z.npy'}",
          f"--labels={labels}", *flags, f"--out={out}"])  # fmt: skip
    np.testing.assert_allclose(np.load(out), ref["img_psi07_cutoff8"], rtol=0, atol=1e-4)
    main(["gans-jax", "sample", f"--workdir={workdir}", f"--latents={tmp_path / 'z.npy'}",
          f"--labels={labels}", "--noise-mode=none", f"--out={out}"])  # fmt: skip
    _, gan, state = builders.load_run(str(workdir))
    ws = style_sampling.mapping(gan, state, jnp.asarray(ref["z"]), jnp.asarray(ref["labels"]))
    np.testing.assert_allclose(
        np.load(out), style_sampling.synthesis(gan, state, ws, noise="none"), atol=1e-6
    )
    np.testing.assert_allclose(np.load(out), ref["img_none"], rtol=0, atol=1e-4)


def test_fine_tuning_starts_from_the_converted_networks(tmp_path):
    """train.init_from a converted workdir: the networks and their constant noise carry over."""
    from PIL import Image

    from gans_jax.training.loop import train

    path, _ = fixture("orig_8")
    workdir = tmp_path / "converted"
    converted = pretrained.convert(path)
    gan, expected = pretrained.assemble(converted)
    pretrained.write_workdir(converted, gan, expected, str(workdir))
    images = tmp_path / "images"
    images.mkdir()
    rng = np.random.default_rng(0)
    for i in range(8):
        Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(images / f"{i}.png")
    config, _, _ = builders.load_run(str(workdir))
    config.data.path = str(images)
    config.regularizers = {}
    config.train.update(
        steps=1, batch_size=4, log_every=1, sample_every=1, checkpoint_every=1, init_from=str(workdir)
    )
    for player in ("g", "d"):
        config.optim[player].lr = 0.0
    config.eval.num_samples = 8
    state, _ = train(config, str(tmp_path / "tuned"), progress=False, devices=ONE_DEVICE)
    for a, b in zip(
        jax.tree.leaves((state.g_params, state.d_params, state.g_collections["noise_const"])),
        jax.tree.leaves((expected.g_params, expected.d_params, expected.g_collections["noise_const"])),
        strict=True,
    ):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def test_module_src_is_read_as_text_and_never_executed(tmp_path):
    """A pickle whose module_src writes a file when executed converts to the same networks, and the
    file is never written."""
    path, _ = fixture("orig_8")
    marker = tmp_path / "executed.txt"
    payload = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('module_src was executed')\n"
    assert len(payload) <= len(PLACEHOLDER)
    payload = payload.ljust(len(PLACEHOLDER), "#")
    exec(compile(payload, "payload", "exec"), {})  # what executing it would do
    assert marker.read_text() == "module_src was executed"
    marker.unlink()
    data = open(path, "rb").read()
    assert data.count(PLACEHOLDER.encode()) == 1
    harmful = tmp_path / "network-snapshot-000100.pkl"
    harmful.write_bytes(data.replace(PLACEHOLDER.encode(), payload.encode()))

    snapshot = sg2.read_snapshot(str(harmful))
    assert snapshot["G_ema"].module_src == payload and snapshot["D"].class_name == "Discriminator"
    converted = pretrained.convert(str(tmp_path))  # a run folder: its newest snapshot
    assert converted.source == str(harmful)
    original = pretrained.convert(path)
    for a, b in zip(jax.tree.leaves(converted.ema), jax.tree.leaves(original.ema), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not marker.exists()


def _persistent_pickle(monkeypatch, path, snapshot):
    """Pickle ``snapshot``, whose ``(class_name, state)`` tuples under ``Persistent`` pickle as
    ``torch_utils.persistence`` objects do (a stand-in module; no torch)."""
    module = types.ModuleType("torch_utils.persistence")

    def _reconstruct_persistent_obj(meta):  # pragma: no cover - only pickled, never called
        raise AssertionError("never called")

    _reconstruct_persistent_obj.__module__ = module.__name__
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    module._reconstruct_persistent_obj = _reconstruct_persistent_obj
    monkeypatch.setitem(sys.modules, "torch_utils", types.ModuleType("torch_utils"))
    monkeypatch.setitem(sys.modules, "torch_utils.persistence", module)

    class Persistent:
        def __init__(self, class_name, **state):
            self.meta = dict(
                type="class", version=6, module_src="# source", class_name=class_name, state=state
            )

        def __reduce__(self):
            return _reconstruct_persistent_obj, (self.meta,)

    with open(path, "wb") as f:
        pickle.dump(snapshot(Persistent), f, protocol=3)


def test_stylegan3_pickles_are_refused(tmp_path, monkeypatch):
    def snapshot(Persistent):
        synthesis = Persistent("SynthesisNetwork", _modules={"input": Persistent("SynthesisInput")})
        kwargs = dict(z_dim=512, c_dim=0, w_dim=512, img_resolution=1024, img_channels=3,
                      mapping_kwargs={"num_layers": 2}, channel_base=32768, conv_kernel=1,
                      use_radial_filters=True, magnitude_ema_beta=0.999)  # fmt: skip
        g = Persistent("Generator", _init_kwargs=kwargs, _modules={"synthesis": synthesis})
        return {"G": g, "D": Persistent("Discriminator"), "G_ema": g, "training_set_kwargs": {}}

    path = tmp_path / "stylegan3-r-ffhq-1024x1024.pkl"
    _persistent_pickle(monkeypatch, path, snapshot)
    assert pretrained.detect(path) == "stylegan2-ada"
    with pytest.raises(
        pretrained.ConversionError, match="StyleGAN3 is not supported: G is a StyleGAN3 network"
    ):
        pretrained.convert(path)


def test_truncated_foreign_and_unsupported_files_are_refused(tmp_path, monkeypatch):
    path, _ = fixture("orig_8")
    data = open(path, "rb").read()
    truncated = tmp_path / "truncated.pkl"
    truncated.write_bytes(data[: len(data) // 2])
    assert pretrained.detect(truncated) == "stylegan2-ada"
    with pytest.raises(pretrained.ConversionError, match="the pickle ends early"):
        pretrained.convert(truncated)

    other = tmp_path / "other.pkl"
    other.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    with pytest.raises(pretrained.ConversionError, match="not a checkpoint of a supported kind"):
        pretrained.detect(other)
    with pytest.raises(
        pretrained.ConversionError, match=r"expected a dict with the networks 'G_ema'.*\['weights'\]"
    ):
        pretrained.convert(other, "stylegan2-ada")
    code = tmp_path / "code.pkl"
    code.write_bytes(pickle.dumps({"G_ema": types.SimpleNamespace()}))
    with pytest.raises(pretrained.ConversionError, match="refusing to load global types.SimpleNamespace"):
        pretrained.convert(code, "stylegan2-ada")
    tf = tmp_path / "stylegan2-ffhq-config-f.pkl"
    tf.write_bytes(b"\x80\x02cdnnlib.tflib.network\nNetwork\nq\x00)\x81q\x01.")
    assert pretrained.detect(tf) == "stylegan2-ada"
    with pytest.raises(pretrained.ConversionError, match="a TensorFlow StyleGAN/StyleGAN2 pickle.*legacy.py"):
        pretrained.convert(tf)

    snapshot = sg2.read_snapshot(path)
    snapshot["G_ema"].state["_init_kwargs"]["synthesis_kwargs"]["use_noise"] = False
    with pytest.raises(pretrained.ConversionError, match=r"use_noise=False"):
        sg2.model_config(snapshot, path)
    snapshot["G_ema"].state["_init_kwargs"]["synthesis_kwargs"]["bogus"] = 1
    with pytest.raises(pretrained.ConversionError, match=r"G.synthesis has init_kwargs \['bogus'\]"):
        sg2.model_config(snapshot, path)
    snapshot = sg2.read_snapshot(path)
    snapshot["D"].state["_init_kwargs"]["channel_base"] = 128
    with pytest.raises(pretrained.ConversionError, match="G has channel_base=64, D 128"):
        sg2.model_config(snapshot, path)
    snapshot = sg2.read_snapshot(path)
    conv1 = (
        snapshot["G_ema"].state["_modules"]["synthesis"].state["_modules"]["b8"].state["_modules"]["conv1"]
    )
    conv1.state["_buffers"]["extra"] = np.zeros(3, np.float32)
    with pytest.raises(
        pretrained.ConversionError,
        match=r"G_ema.synthesis.b8.conv1 \(SynthesisLayer\) has tensors \['extra'\]",
    ):
        sg2.network_variables(snapshot["G_ema"], "G_ema", path)
    del conv1.state["_buffers"]["extra"]
    conv1.state["_modules"]["mystery"] = sg2.PersistentObject("Mystery", "", {})
    with pytest.raises(pretrained.ConversionError, match="G_ema.synthesis.b8.conv1.mystery is a 'Mystery'"):
        sg2.network_variables(snapshot["G_ema"], "G_ema", path)
