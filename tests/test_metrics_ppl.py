"""Perceptual path length: slerp, the crop and the box downsampling, the percentile filtering on
hand-made distances, the path length of linear "generators" known in closed form (against numpy on the
same draws), the batching, the metric-name registry, and ``gans-jax metrics`` on a tiny randomly
initialised StyleGAN2 with LPIPS weights (a random VGG16 backbone and the real lin weights)."""

import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.metrics import evaluate, ppl


def _np_slerp(a, b, t):
    a = a / np.linalg.norm(a, axis=-1, keepdims=True)
    b = b / np.linalg.norm(b, axis=-1, keepdims=True)
    omega = np.arccos(np.sum(a * b, axis=-1, keepdims=True))
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def test_slerp_unit_norm_endpoints_and_constant_speed():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 5, 7))
    t = rng.uniform(0, 1, (5, 1))
    out = np.asarray(ppl.slerp(jnp.asarray(a), jnp.asarray(b), jnp.asarray(t)), np.float64)
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(out, _np_slerp(a, b, t), atol=1e-5)  # the textbook formula
    ones, zeros = np.ones((5, 1)), np.zeros((5, 1))
    np.testing.assert_allclose(
        ppl.slerp(a, b, zeros), a / np.linalg.norm(a, axis=-1, keepdims=True), atol=1e-6
    )
    np.testing.assert_allclose(
        ppl.slerp(a, b, ones), b / np.linalg.norm(b, axis=-1, keepdims=True), atol=1e-5
    )
    np.testing.assert_allclose(ppl.lerp(a, b, 0.25), 0.75 * a + 0.25 * b)


def test_face_crop_and_box_downsampling():
    x = np.arange(2 * 16 * 16 * 3, dtype=np.float32).reshape(2, 16, 16, 3)
    np.testing.assert_array_equal(ppl.face_crop(x), x[:, 6:14, 4:12])  # c = 2: rows 3c:7c, cols 2c:6c
    with pytest.raises(ValueError, match="square"):
        ppl.face_crop(x[:, :8])
    expected = x.reshape(2, 4, 4, 4, 4, 3).mean(axis=(2, 4))
    np.testing.assert_allclose(ppl.box_downsample(x, 4), expected)
    np.testing.assert_array_equal(ppl.box_downsample(x, 1), x)


def test_percentile_filtering_on_hand_made_distances():
    rng = np.random.default_rng(1)
    dist = rng.permutation(np.concatenate([np.arange(1.0, 199.0), [1e9, -1e9]]))  # 200 values
    s = np.sort(dist)
    # lower 1st percentile: index floor(0.01 * 199) = 1; higher 99th: ceil(0.99 * 199) = 198
    assert ppl.filtered_mean(dist) == pytest.approx(s[1:199].mean())
    lo, hi = np.percentile(dist, 1, method="lower"), np.percentile(dist, 99, method="higher")
    assert (lo, hi) == (s[1], s[198])
    assert ppl.filtered_mean(dist) == pytest.approx(dist[(dist >= lo) & (dist <= hi)].mean())
    assert ppl.filtered_mean([1.0, 1.0, 5.0]) == pytest.approx(7 / 3)  # ties are kept: bounds included
    assert ppl.filtered_mean(np.full(10, 3.0)) == 3.0


def _linear(key, z_dim=4, w_dim=3, num_ws=2, size=8, channels=1):
    """mapping z -> ws = (z A, 0.5 z A), synthesis ws -> flat(ws) M as images plus one noise map shared by
    every image (it cancels in a pair), features the identity: all linear."""
    k_a, k_m = jax.random.split(key)
    A = np.asarray(jax.random.normal(k_a, (z_dim, w_dim)), np.float64)
    M = np.asarray(jax.random.normal(k_m, (num_ws * w_dim, size * size * channels)) / 10, np.float64)

    def mapping(z, labels):
        w = z @ jnp.asarray(A, jnp.float32)
        return jnp.stack([w, 0.5 * w], axis=1)

    def synthesis(ws, noise_key):
        x = ws.reshape(ws.shape[0], -1) @ jnp.asarray(M, jnp.float32)
        return x.reshape(-1, size, size, channels) + 0.1 * jax.random.normal(
            noise_key, (size, size, channels)
        )

    return A, M, mapping, synthesis


def _ws(A, z):
    w = z @ A
    return np.concatenate([w, 0.5 * w], axis=1)  # flat (ws0, ws1)


@pytest.mark.parametrize("space, sampling, epsilon, rtol", [
    ("w", "full", 1e-4, 1e-2), ("w", "end", 1e-4, 1e-2), ("z", "full", 1e-2, 1e-3), ("z", "end", 1e-2, 1e-3),
])  # fmt: skip
def test_linear_generator_path_length_in_closed_form(space, sampling, epsilon, rtol):
    """W: d = |127.5 (w1 - w0) M|^2 for any t (lerp is linear); Z: the same of the two slerp points, a
    numpy float64 computation on the same draws (``path_lengths`` splits its key into the draws' and the
    noise's)."""
    A, M, mapping, synthesis = _linear(jax.random.PRNGKey(0))
    key, n = jax.random.PRNGKey(1), 16
    fn = jax.jit(lambda k: ppl.path_lengths(
        k, n, z_dim=4, mapping=mapping, synthesis=synthesis, features=lambda x: x.reshape(len(x), -1),
        space=space, sampling=sampling, epsilon=epsilon,
    ))  # fmt: skip
    got = np.asarray(fn(key))
    t, z0, z1 = (np.asarray(v, np.float64) for v in ppl.ppl_draws(jax.random.split(key)[0], n, 4, sampling))
    if sampling == "end":
        assert (t == 0).all()
    else:
        assert 0 < t.min() and t.max() < 1 and len(np.unique(t)) == n
    if space == "w":
        delta = (_ws(A, z1) - _ws(A, z0)) @ M
    else:
        t = t[:, None]
        delta = (_ws(A, _np_slerp(z0, z1, t + epsilon)) - _ws(A, _np_slerp(z0, z1, t))) @ M / epsilon
    expected = np.sum(np.square(127.5 * delta), axis=1)
    np.testing.assert_allclose(got, expected, rtol=rtol)


def test_crop_downsample_and_grey_to_rgb_in_the_path():
    """A 512x512 linear generator: the face crop (256x256) then the box downsampling by 512 // 256 = 2,
    and 1-channel images repeated to RGB before the features."""
    A, M, mapping, synthesis = _linear(jax.random.PRNGKey(2), size=512)
    seen = []

    def features(x):
        seen.append(x.shape)
        return jnp.broadcast_to(x, (*x.shape[:3], 3)).reshape(len(x), -1)

    key, n = jax.random.PRNGKey(3), 2
    got = ppl.path_lengths(key, n, z_dim=4, mapping=mapping, synthesis=synthesis, features=features,
                           space="w", sampling="end", crop=True)  # fmt: skip
    assert seen == [(4, 128, 128, 1)]
    _, z0, z1 = (np.asarray(v, np.float64) for v in ppl.ppl_draws(jax.random.split(key)[0], n, 4, "end"))
    delta = ((_ws(A, z1) - _ws(A, z0)) @ M).reshape(n, 512, 512, 1)[:, 192:448, 128:384]
    delta = delta.reshape(n, 128, 2, 128, 2, 1).mean(axis=(2, 4))
    np.testing.assert_allclose(got, 3 * np.sum(np.square(127.5 * delta), axis=(1, 2, 3)), rtol=1e-2)


def test_batches_keys_and_truncation():
    calls = []

    def fn(key, n):
        calls.append(n)
        return jax.random.uniform(key, (n,))

    key = jax.random.PRNGKey(4)
    out = ppl.perceptual_path_length(fn, key, num_samples=10, batch_size=4)
    assert calls == [4, 4, 4] and out["num_samples"] == 10
    dist = np.concatenate([np.asarray(fn(jax.random.fold_in(key, i), 4)) for i in range(3)])[:10]
    assert out["ppl"] == pytest.approx(ppl.filtered_mean(dist))


def test_metric_name_registry():
    assert ppl.PPL_METRICS == {
        "ppl_zfull": ("z", "full"),
        "ppl_wfull": ("w", "full"),
        "ppl_zend": ("z", "end"),
        "ppl_wend": ("w", "end"),
    }
    names = ["fid50k", "ppl_wend", "pr50k3", "ppl_zfull"]
    assert evaluate.split_metric_names(names) == (["fid50k", "pr50k3"], ["ppl_wend", "ppl_zfull"])
    with pytest.raises(ValueError, match="'ppl50k'; perceptual path length is one of ppl_zfull, ppl_wfull"):
        evaluate.split_metric_names(["ppl50k"])
    with pytest.raises(ValueError, match="'ppl_wend'"):
        evaluate.parse_metric("ppl_wend")  # not an Inception metric
    with pytest.raises(ValueError, match="unknown PPL metric 'ppl_w'"):
        ppl.ppl_of_run(None, None, "ppl_w", {})


def _run(name, **overrides):
    """``(config, gan, state)`` of experiment ``name`` as ``load_run`` returns them, with only what PPL
    reads of the state (the generator's initial variables, step 0): building and restoring a whole
    workdir is tested elsewhere and takes many seconds of compilation here."""
    from types import SimpleNamespace

    from gans_jax import builders
    from tests.helpers import experiment_config

    config = experiment_config(name, **overrides)
    shape = (config.model.resolution, config.model.resolution, 1)
    gan = builders.build_gan(config, shape, None)
    if "stylegan" not in name:
        return config, gan, None  # refused before the state is read
    variables = dict(jax.jit(gan.generator.init)(jax.random.PRNGKey(0), *gan.example_inputs(shape)[:2]))
    params = variables.pop("params")
    return config, gan, SimpleNamespace(step=0, g_params=params, ema_params=None, g_collections=variables)


def test_noise_is_redrawn_per_key():
    """Each layer's ``noise_const`` of a tiny StyleGAN2 is replaced by a fresh draw of its shape, another
    for another key; the parameters are untouched; variables without noise come back as they are."""
    _, gan, state = _run("stylegan2_ffhq:tiny", **{"model.channel_max": 16, "model.w_dim": 16})
    variables = {"params": state.g_params, **state.g_collections}
    a, b = (
        ppl.redraw_noise(variables, jax.random.PRNGKey(0)),
        ppl.redraw_noise(variables, jax.random.PRNGKey(1)),
    )
    old = jax.tree.leaves(variables["noise_const"])
    assert len(old) > 0 and a["params"] is variables["params"]
    for x, y, z in zip(
        old, jax.tree.leaves(a["noise_const"]), jax.tree.leaves(b["noise_const"]), strict=True
    ):
        assert x.shape == y.shape == z.shape and not np.allclose(x, y) and not np.allclose(y, z)
    assert ppl.redraw_noise({"params": {}}, jax.random.PRNGKey(0)) == {"params": {}}


def test_metrics_command_on_a_tiny_stylegan2(tmp_path, capsys, monkeypatch):
    """``gans-jax metrics --metrics=ppl_wend`` on a random StyleGAN2 (16x16 greyscale, 16 channels): the
    printed JSON and the metrics file; the one-line errors without weights, with a missing file and for a
    generator without a mapping network."""
    from gans_jax import builders
    from gans_jax.metrics import commands
    from tests.test_metrics_lpips import LPIPS_FILE
    from tests.test_models_vgg16 import random_vgg16_state_dict

    np.savez(tmp_path / "vgg16.npz", **random_vgg16_state_dict(seed=9))
    runs = {"sg2": _run("stylegan2_ffhq:tiny", **{"model.channel_max": 16, "model.w_dim": 16})}
    runs["dcgan"] = _run("dcgan_digits")
    monkeypatch.setattr(builders, "load_run", lambda workdir, step=None: runs[workdir.rsplit("/", 1)[-1]])
    (tmp_path / "sg2").mkdir()
    base = ["gans-jax metrics", f"--workdir={tmp_path / 'sg2'}", "--batch_size=3"]
    weights = [f"--lpips-backbone={tmp_path / 'vgg16.npz'}", f"--lpips-weights={LPIPS_FILE}"]
    commands.metrics_main([*base, *weights, "--metrics=ppl_wend", "--ppl_num=5"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["ppl_crop"] is False and result["ppl_wend_num_samples"] == 5 and result["step"] == 0
    assert np.isfinite(result["ppl_wend"]) and result["ppl_wend"] > 0
    assert json.loads((tmp_path / "sg2" / "metrics-0.json").read_text()) == result

    # NVIDIA's vgg16.pt holding the same convolutions and LPIPS weights gives the same number.
    from gans_jax.metrics.lpips import read_lin_weights
    from gans_jax.models.vgg import conv_layers
    from tests.test_metrics_nvidia_vgg16 import random_nvidia_state
    from tests.torch_writer import nvidia_vgg16_module, write_torchscript

    nvidia = random_nvidia_state(seed=2)
    torchvision = random_vgg16_state_dict(seed=9)
    for i, (_, index, _, _) in enumerate(conv_layers(16), start=1):
        for field in ("weight", "bias"):
            nvidia[f"layers.conv{i}.{field}"] = torchvision[f"features.{index}.{field}"]
    for i, value in enumerate(read_lin_weights(LPIPS_FILE).values()):
        nvidia[f"lpips{i}"] = value.reshape(-1, 1, 1)
    write_torchscript(tmp_path / "vgg16.pt", nvidia_vgg16_module(nvidia))
    commands.metrics_main([*base, f"--vgg16={tmp_path / 'vgg16.pt'}", "--metrics=ppl_wend", "--ppl_num=5"])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == result

    monkeypatch.setenv("GANS_JAX_CACHE", str(tmp_path / "cache"))  # no vgg16.pt to be found
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GANS_JAX_VGG16", raising=False)
    with pytest.raises(SystemExit, match="ppl_wend needs LPIPS weights: .*nvlabs-fi-cdn.*--lpips_backbone"):
        commands.metrics_main([*base, "--metrics=ppl_wend"])
    with pytest.raises(SystemExit, match="pr\\*k\\* metrics use VGG16 features .*nvlabs-fi-cdn"):
        commands.metrics_main([*base, "--metrics=fid50k,pr50k3"])
    tiny = pathlib.Path(__file__).parent / "fixtures" / "nvidia_vgg16" / "layout.pt"
    with pytest.raises(SystemExit, match=r"layout.pt: layers.conv1.weight has shape \(2, 3, 3, 3\)"):
        commands.metrics_main([*base, f"--vgg16={tiny}", "--metrics=ppl_wend"])
    with pytest.raises(SystemExit, match="the two-file LPIPS needs both files: give --lpips_weights"):
        commands.metrics_main([*base, weights[0], "--metrics=ppl_wend"])
    with pytest.raises(SystemExit, match="lpips/weights/v0.1/vgg.pth"):
        missing = f"--lpips_weights={tmp_path / 'no.pth'}"
        commands.metrics_main([*base, weights[0], missing, "--metrics=ppl_wend"])
    dcgan = ["gans-jax metrics", f"--workdir={tmp_path / 'dcgan'}", *weights, "--metrics=ppl_zend"]
    with pytest.raises(SystemExit, match="ppl_zend needs a style-based generator .* generator is Generator"):
        commands.metrics_main(dcgan)
