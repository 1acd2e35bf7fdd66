"""StyleGAN2: layers against hand computations, the networks' sizes, regularisers, the train step."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax import builders
from gans_jax import regularizers as regs
from gans_jax.layers.fir import FIR, conv2d, downsample_2d, upsample_2d
from gans_jax.layers.style import ModulatedConv, style_mix, truncate
from gans_jax.models import stylegan2
from gans_jax.regularizers import Regularizer, RegularizerInputs, regularizer
from gans_jax.training.state import GAN
from tests.helpers import experiment_config

conv2d = jax.jit(conv2d, static_argnames=("up", "down"))
SMALL = dict(resolution=16, channel_base=256, channel_max=32)


def small_gan(**kw):
    g = stylegan2.Generator(z_dim=16, w_dim=16, mapping_layers=2, out_channels=1, **SMALL, **kw)
    d = stylegan2.Discriminator(**SMALL)
    return GAN(g, d, optax.adam(1e-3, b1=0.0, b2=0.99), optax.adam(1e-3, b1=0.0, b2=0.99), (16,))


# ----------------------------------------------------------------------------------------------- layers


def test_resampling_convolutions_equal_the_explicit_upfirdn_composition():
    """conv2d(up): zero insertion, [1,3,3,1]/4 filter (per axis), 3x3 correlation, cropped to 2H (the
    official conv2d_resample); conv2d(down): zero pad 2, filter /8, 3x3 correlation at stride 2."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 5, 5, 3)).astype(np.float32)
    w = rng.normal(size=(3, 3, 3, 2)).astype(np.float32)
    f = FIR / 4
    n = 5
    # fine grid index j = -3 .. 2n + 2 stored at j + 3; x[i] lands on 2i and is filtered to 2i - 1 + k
    z = np.zeros((2, 2 * n + 6, 2 * n + 6, 3))
    for i1 in range(n):
        for i2 in range(n):
            for k1 in range(4):
                for k2 in range(4):
                    z[:, 2 * i1 - 1 + k1 + 3, 2 * i2 - 1 + k2 + 3] += x[:, i1, i2] * f[k1] * f[k2]
    ref = np.zeros((2, 2 * n, 2 * n, 2))
    for o1 in range(2 * n):
        for o2 in range(2 * n):
            for t1 in range(3):
                for t2 in range(3):
                    ref[:, o1, o2] += z[:, o1 + t1 - 1 + 3, o2 + t2 - 1 + 3] @ w[t1, t2]
    np.testing.assert_allclose(np.asarray(conv2d(jnp.asarray(x), jnp.asarray(w), up=True)), ref, atol=1e-4)
    # interior equals upsample_2d followed by a 'same' convolution
    same = np.asarray(conv2d(upsample_2d(jnp.asarray(x)), jnp.asarray(w)))
    np.testing.assert_allclose(same[:, 1:-1, 1:-1], ref[:, 1:-1, 1:-1], atol=1e-4)

    x = rng.normal(size=(2, 8, 8, 3)).astype(np.float32)
    xp = np.pad(x, ((0, 0), (2, 2), (2, 2), (0, 0)))
    g = FIR / 8
    blurred = sum(
        xp[:, a : a + 9, b : b + 9] * g[a] * g[b] for a in range(4) for b in range(4)
    )  # (2, 9, 9, 3)
    ref = np.zeros((2, 4, 4, 2))
    for o1 in range(4):
        for o2 in range(4):
            for t1 in range(3):
                for t2 in range(3):
                    ref[:, o1, o2] += blurred[:, 2 * o1 + t1, 2 * o2 + t2] @ w[t1, t2]
    np.testing.assert_allclose(np.asarray(conv2d(jnp.asarray(x), jnp.asarray(w), down=True)), ref, atol=1e-4)
    # 1x1 kernels: pure FIR resampling
    one = jnp.ones((1, 1, 3, 3)) * jnp.eye(3)
    np.testing.assert_allclose(
        conv2d(jnp.asarray(x), one, down=True), downsample_2d(jnp.asarray(x)), atol=1e-5
    )
    np.testing.assert_allclose(conv2d(jnp.asarray(x), one, up=True), upsample_2d(jnp.asarray(x)), atol=1e-5)
    # upsample_2d by hand on one axis: y[2i] = (x[i-1] + 3x[i]) / 4, y[2i+1] = (3x[i] + x[i+1]) / 4
    v = jnp.arange(1.0, 4.0)[None, :, None, None] * jnp.ones((1, 1, 1, 1))
    up = np.asarray(upsample_2d(jnp.broadcast_to(v, (1, 3, 1, 1))))[0, :, 0, 0] * 4 / 3  # width pass x3/4
    np.testing.assert_allclose(up, [0.75, 1.25, 1.75, 2.25, 2.75, 2.25], atol=1e-6)


def test_demodulated_outputs_have_unit_expected_variance():
    """Eq. 3: for unit-variance inputs the demodulated output has unit variance, whatever the style."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(4, 32, 32, 64)), jnp.float32)
    w = jnp.asarray(rng.normal(size=(4, 16)) * 3.0, jnp.float32)
    conv = ModulatedConv(48, 3)
    params = jax.jit(conv.init)(jax.random.PRNGKey(1), x, w)
    inner = np.asarray(jax.jit(conv.apply)(params, x, w))[:, 1:-1, 1:-1]  # away from the zero padding
    per_channel = inner.var(axis=(1, 2))  # (B, C_out): each output channel of each sample
    np.testing.assert_allclose(per_channel.mean(), 1.0, atol=0.03)
    np.testing.assert_allclose(per_channel.mean(axis=1), 1.0, atol=0.08)  # whatever the sample's style
    # without demodulation the output scales with the style: 3x the style, 3x the output
    plain = ModulatedConv(48, 3, demodulate=False)
    p = jax.jit(plain.init)(jax.random.PRNGKey(1), x, w)
    p3 = jax.tree.map(lambda a: a, p)
    p3["params"]["affine"]["bias"] = p["params"]["affine"]["bias"] * 3
    p3["params"]["affine"]["kernel"] = p["params"]["affine"]["kernel"] * 3
    apply = jax.jit(plain.apply)
    np.testing.assert_allclose(apply(p3, x, w), 3 * apply(p, x, w), rtol=1e-4, atol=1e-4)
    # demodulated: invariant to that scale
    q = jax.tree.map(lambda a: a, params)
    q["params"]["affine"]["kernel"] = params["params"]["affine"]["kernel"] * 3
    q["params"]["affine"]["bias"] = params["params"]["affine"]["bias"] * 3
    apply = jax.jit(conv.apply)
    np.testing.assert_allclose(apply(q, x, w), apply(params, x, w), rtol=1e-3, atol=1e-4)


def test_style_mixing_crossover_and_truncation():
    ws = jnp.broadcast_to(jnp.arange(1.0, 3.0)[:, None, None], (2, 6, 4))
    ws2 = -ws
    mixed = np.asarray(style_mix(ws, ws2, jnp.asarray(4)))
    np.testing.assert_array_equal(mixed[:, :4], np.asarray(ws)[:, :4])
    np.testing.assert_array_equal(mixed[:, 4:], np.asarray(ws2)[:, 4:])
    w_avg = jnp.full((4,), 0.5)
    np.testing.assert_allclose(truncate(ws, w_avg, 0.0), jnp.broadcast_to(w_avg, ws.shape))
    np.testing.assert_allclose(truncate(ws, w_avg, 1.0), ws)
    cut = np.asarray(truncate(ws, w_avg, 0.5, cutoff=2))
    np.testing.assert_allclose(cut[:, :2], 0.5 + 0.5 * (np.asarray(ws)[:, :2] - 0.5))
    np.testing.assert_allclose(cut[:, 2:], np.asarray(ws)[:, 2:])


def test_generator_truncation_psi_zero_gives_w_avg_and_training_tracks_it():
    g = small_gan().generator
    z = jax.random.normal(jax.random.PRNGKey(1), (4, 16))
    variables = jax.jit(g.init)(jax.random.PRNGKey(0), z)
    # train mode updates w_avg <- lerp(mean w, w_avg, 0.995)
    ws = g.apply(variables, z, method="mapping")
    _, upd = g.apply(variables, z, train=True, mutable=["w_avg"], method="mapping")
    w_avg = upd["w_avg"]["mapping_network"]["w_avg"]
    np.testing.assert_allclose(w_avg, 0.005 * np.asarray(ws[:, 0]).mean(0), rtol=1e-4, atol=1e-7)
    variables = {**variables, **upd}
    trunc = g.apply(variables, z, truncation_psi=0.0, method="mapping")
    np.testing.assert_allclose(trunc, jnp.broadcast_to(w_avg, trunc.shape), atol=1e-7)
    # the image of psi = 0 is the image of w_avg for every z
    images = jax.jit(lambda v, z: g.apply(v, z, truncation_psi=0.0))(variables, z)
    np.testing.assert_allclose(images[0], images[3], atol=1e-5)


def test_generator_mixing_uses_w1_before_and_w2_after_the_crossover():
    g = small_gan(style_mixing_prob=1.0).generator
    z = jax.random.normal(jax.random.PRNGKey(1), (3, 16))
    variables = jax.jit(g.init)(jax.random.PRNGKey(0), z)
    rngs = {"mixing": jax.random.PRNGKey(7)}
    mixed, _ = g.apply(variables, z, train=True, mutable=["w_avg"], rngs=rngs, method="mapping")
    w1 = g.apply(variables, z, method="mapping")
    changed = np.any(np.asarray(mixed) != np.asarray(w1), axis=(0, 2))
    cut = int(np.argmax(changed))
    assert 1 <= cut < stylegan2.num_ws(16) and changed[cut:].all() and not changed[:cut].any()
    rows = np.asarray(mixed)[:, cut:]  # the second latent's w, the same across those layers
    np.testing.assert_allclose(rows, np.broadcast_to(rows[:, :1], rows.shape))


def test_per_layer_constant_noise_noise_modes_and_conv_clamp():
    """Each noise layer keeps its own noise_const (StyleGAN2-ADA's buffer, drawn at init); const noise is
    the same for every image, none drops it; conv_clamp bounds the tRGB output of an 'orig' generator."""
    g = small_gan().generator
    z = jax.random.normal(jax.random.PRNGKey(1), (3, 16))
    variables = jax.jit(g.init)(jax.random.PRNGKey(0), z)
    consts = variables["noise_const"]["synthesis_network"]
    shapes = {name: v["noise"]["noise_const"].shape for name, v in consts.items()}
    assert shapes == {"b4_conv1": (4, 4), "b8_conv0": (8, 8), "b8_conv1": (8, 8), "b16_conv0": (16, 16),
                      "b16_conv1": (16, 16)}  # fmt: skip
    assert (
        np.abs(consts["b8_conv0"]["noise"]["noise_const"] - consts["b8_conv1"]["noise"]["noise_const"]).min()
        > 0
    )
    other = jax.jit(g.init)(jax.random.PRNGKey(1), z)["noise_const"]["synthesis_network"]["b4_conv1"]
    assert np.abs(other["noise"]["noise_const"] - consts["b4_conv1"]["noise"]["noise_const"]).min() > 0
    params = jax.tree_util.tree_map_with_path(
        lambda p, x: x + 1.0 if "strength" in jax.tree_util.keystr(p) else x, variables["params"]
    )
    run = jax.jit(lambda v, z, mode: g.apply(v, z, noise_mode=mode), static_argnums=2)
    loud = {**variables, "params": params}
    const, none = run(loud, z, "const"), run(loud, z, "none")
    np.testing.assert_array_equal(run(variables, z, "none"), run(variables, z, "const"))  # strengths 0
    np.testing.assert_allclose(none, run(variables, z, "const"), atol=1e-5)
    assert np.abs(np.asarray(const) - np.asarray(none)).max() > 1e-3
    np.testing.assert_allclose(run(loud, z[:1], "const")[0], const[0], atol=1e-5)  # not of the batch
    with pytest.raises(ValueError, match="unknown noise_mode 'fixed'"):
        g.apply(variables, z, noise_mode="fixed")

    orig = stylegan2.Generator(z_dim=16, w_dim=16, mapping_layers=2, out_channels=1, **SMALL,
                               architecture="orig", conv_clamp=0.05)  # fmt: skip
    v = jax.jit(orig.init)(jax.random.PRNGKey(0), z)
    assert (
        "b8_torgb" not in v["params"]["synthesis_network"] and "b16_torgb" in v["params"]["synthesis_network"]
    )
    images = np.asarray(jax.jit(orig.apply)(v, z))
    assert np.abs(images).max() == pytest.approx(0.05) and np.mean(np.abs(images) == np.float32(0.05)) > 0.01
    with pytest.raises(ValueError, match="unknown generator architecture 'unet'"):
        stylegan2.Generator(16, 16, 16, 2, architecture="unet").init(jax.random.PRNGKey(0), z)


def test_conditional_discriminator_maps_labels_through_its_own_mapping_network():
    """As stylegan2-ada-pytorch: cmap = MappingNetwork(c) (embedding, normalisation, 8 FC layers at lr
    0.01x) cmap_dim wide (the 4x4 channels), logits = sum(out * cmap) / sqrt(cmap_dim)."""
    d = stylegan2.Discriminator(num_classes=10, **SMALL)
    x = jax.random.normal(jax.random.PRNGKey(0), (4, 16, 16, 1))
    labels = jnp.array([0, 1, 2, 3])
    params = jax.jit(d.init)(jax.random.PRNGKey(1), x, labels)["params"]
    mapping = params["mapping"]
    assert sorted(mapping) == ["embed"] + [f"fc{i}" for i in range(8)]
    assert mapping["embed"]["kernel"].shape == (10, 32) and params["b4_out"]["kernel"].shape == (32, 32)
    logits = jax.jit(d.apply)({"params": params}, x, labels)
    assert logits.shape == (4,) and len(set(np.round(np.asarray(logits), 6))) == 4
    narrow = stylegan2.Discriminator(num_classes=10, cmap_dim=8, mapping_layers=2, **SMALL)
    params = jax.eval_shape(narrow.init, jax.random.PRNGKey(1), x, labels)["params"]
    assert sorted(params["mapping"]) == ["embed", "fc0", "fc1"] and params["b4_out"]["kernel"].shape == (
        32,
        8,
    )
    with pytest.raises(ValueError, match="needs labels"):
        d.apply({"params": params}, x)


def test_network_sizes_and_config_f_parameter_counts():
    """Config F at 1024x1024: 30,370,060 generator parameters (the official count); D about 29.0M."""
    count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))
    g, d = stylegan2.Generator(1024), stylegan2.Discriminator(1024)
    gv = jax.eval_shape(lambda: g.init(jax.random.PRNGKey(0), jnp.zeros((1, 512))))
    dv = jax.eval_shape(lambda: d.init(jax.random.PRNGKey(0), jnp.zeros((2, 1024, 1024, 3))))
    assert count(gv["params"]) == 30_370_060
    assert abs(count(dv["params"]) - 29.0e6) < 0.02e6, count(dv["params"])
    assert [stylegan2.channels_at(r, 32768, 512) for r in (4, 64, 128, 256, 512, 1024)] == [
        512,
        512,
        256,
        128,
        64,
        32,
    ]
    assert stylegan2.num_ws(1024) == 18
    with pytest.raises(ValueError, match="power of two"):
        stylegan2.num_ws(48)


# ----------------------------------------------------------------------------------------------- regularisers


def test_path_length_penalty_against_a_hand_computation():
    """A linear synthesis g(w) = reshape(w_flat @ A): J^T y = A y, so every length is known exactly."""
    rng = np.random.default_rng(0)
    b, n, dim, h = 3, 2, 4, 2
    a = jnp.asarray(rng.normal(size=(n * dim, h * h)), jnp.float32)
    ws = jnp.asarray(rng.normal(size=(b, n, dim)), jnp.float32)
    synthesis = lambda w: (w.reshape(b, -1) @ a).reshape(b, h, h, 1)
    key = jax.random.PRNGKey(3)
    value, mean = regs.path_length_penalty(synthesis, ws, key, jnp.asarray(0.5), decay=0.01)
    y = np.asarray(jax.random.normal(key, (b, h, h, 1))) / h
    grads = (y.reshape(b, -1) @ np.asarray(a).T).reshape(b, n, dim)
    lengths = np.sqrt((grads**2).sum(2).mean(1))
    expected_mean = 0.5 + 0.01 * (lengths.mean() - 0.5)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-5)
    np.testing.assert_allclose(value, np.mean((lengths - expected_mean) ** 2), rtol=1e-5)


def test_lazy_regularizers_scale_by_interval_and_skip():
    """R1 and path length: weight x every, evaluated only where index % every == 0 (pl_mean kept)."""
    r1 = regularizer("r1", 5.0, every=16)
    pl = regularizer("path_length", 2.0, every=4)
    assert r1.effective_weight == 80.0 and pl.effective_weight == 8.0
    assert pl.init_extra == {"pl_mean": 0.0} and pl.player == "generator" and not r1.stateful
    real = jnp.ones((2, 3))
    inputs = RegularizerInputs(
        params=None, key=jax.random.PRNGKey(0), critic=lambda x, labels: jnp.sum(3.0 * x, axis=1), real=real
    )
    assert float(r1.penalty(inputs, jnp.asarray(32))) == pytest.approx(27.0)  # |grad|^2 = 3 * 9
    assert float(r1.penalty(inputs, jnp.asarray(33))) == 0.0
    fn = lambda r: (jnp.asarray(2.0), {"pl_mean": r.extra["pl_mean"] + 1.0})
    lazy = Regularizer("pl", fn, 2.0, "generator", 4, {"pl_mean": 0.0})
    inputs = inputs._replace(extra={"pl_mean": jnp.asarray(0.25)})
    value, upd = lazy.penalty_and_state(inputs, jnp.asarray(8))
    assert float(value) == 2.0 and float(upd["pl_mean"]) == 1.25
    value, upd = lazy.penalty_and_state(inputs, jnp.asarray(9))
    assert float(value) == 0.0 and float(upd["pl_mean"]) == 0.25
    with pytest.raises(ValueError, match="only generator"):
        Regularizer("bad", fn, 1.0, "discriminator", 1, {"x": 0.0})


# ----------------------------------------------------------------------------------------------- train step


@pytest.mark.slow
def test_tiny_experiment_learns_digits_with_lazy_regularisation():
    """``stylegan2_ffhq:tiny`` (16x16 digits, lazy R1 every 16 and path length every 4 steps) through
    the library's one train step: step 0 evaluates both regularisers and moves pl_mean, step 1 skips
    them and keeps it, the same step from the same state is bit-identical, w_avg is tracked, and 200
    steps bring the EMA generator's Frechet distance to the held-out digits (8x8 pixels) from about
    3200 to a third of it or less (measured: 3178 -> 766)."""
    from gans_jax.data.digits import load_digits_8x8, load_digits_dataset
    from gans_jax.metrics.digits_classifier import images_to_digits_8x8
    from gans_jax.metrics.fid import fid_from_features

    config = experiment_config("stylegan2_ffhq:tiny")
    gan = builders.build_gan(config, (16, 16, 1), None)
    step = jax.jit(builders.build_train_step(config, gan))
    state0 = jax.jit(lambda k: builders.init_state(config, gan, k, (16, 16, 1)))(jax.random.PRNGKey(0))
    assert float(state0.extra["pl_mean"]) == 0.0
    held_out = load_digits_8x8("test", 0.2, 0)[0].reshape(-1, 64)
    generate = jax.jit(lambda s: gan.generate(s, gan.sample_latents(jax.random.PRNGKey(5), 500)))

    def frechet(state):
        return fid_from_features(images_to_digits_8x8(np.asarray(generate(state))).reshape(500, -1), held_out)

    data = load_digits_dataset(16, "train")["image"]
    rng = np.random.default_rng(0)
    batches = [{"image": data[rng.integers(0, len(data), 32)]} for _ in range(200)]
    state, m0 = step(state0, batches[0])
    assert float(m0["reg/r1"]) > 0 and float(m0["reg/path_length"]) > 0
    pl_mean = float(state.extra["pl_mean"])
    assert pl_mean > 0
    again, _ = step(state0, batches[0])
    for a, b in zip(jax.tree.leaves(again), jax.tree.leaves(state), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    state, m1 = step(state, batches[1])
    assert float(m1["reg/r1"]) == 0.0 and float(m1["reg/path_length"]) == 0.0
    assert float(state.extra["pl_mean"]) == pl_mean
    assert float(jnp.abs(state.g_collections["w_avg"]["mapping_network"]["w_avg"]).sum()) > 0
    before = frechet(state0)
    for batch in batches[2:]:
        state, metrics = step(state, batch)
    after = frechet(state)
    assert np.isfinite(float(metrics["g_loss"])) and float(state.extra["pl_mean"]) != pl_mean
    assert after < before / 3, (before, after)


def test_experiment_configs_build():
    config = experiment_config("stylegan2_ffhq")
    assert config.model.resolution == 1024 and config.regularizers.r1.every == 16
    assert config.optim.d.lr == pytest.approx(0.002 * 16 / 17)
    small = experiment_config("stylegan2_ffhq:64")
    assert small.model.resolution == 64 and small.regularizers.r1.weight == pytest.approx(
        0.0002 * 64**2 / 32 / 2
    )
    tiny = experiment_config("stylegan2_ffhq:tiny")
    gan = builders.build_gan(tiny, (16, 16, 1), None)
    extra = {k: v for r in builders.build_regularizers(tiny) for k, v in r.init_extra.items()}
    assert isinstance(gan.generator, stylegan2.Generator) and extra == {"pl_mean": 0.0}
    # the official train.py defaults: skip G, resnet D, conv_clamp 256, mbstd 1 channel, 8-layer label mapping
    g, d = gan.generator, gan.discriminator
    assert (g.architecture, d.architecture, g.conv_clamp, d.conv_clamp) == ("skip", "resnet", 256.0, 256.0)
    assert (d.mbstd_num_channels, d.mapping_layers, d.cmap_dim, g.w_avg_beta) == (1, 8, None, 0.995)
    tiny.model.update(g_architecture="resnet", d_architecture="orig", conv_clamp=0.0, cmap_dim=16)
    gan = builders.build_gan(tiny, (16, 16, 1), 10)
    g, d = gan.generator, gan.discriminator
    assert (g.architecture, d.architecture, g.conv_clamp, d.conv_clamp, d.cmap_dim) == (
        "resnet", "orig", None, None, 16,
    )  # fmt: skip
    with pytest.raises(ValueError, match="preset"):
        experiment_config("stylegan2_ffhq:nope")


def test_paper256_and_cifar_presets_build_the_networks_of_the_official_configs():
    """train.py's --cfg=paper256 and --cfg=cifar: the model keys a converted pickle of those configs gets
    (gans_jax.pretrained.stylegan2.model_config; its cifar_like fixture is the cifar config, smaller)."""
    paper = experiment_config("stylegan2_ffhq:paper256")
    assert (paper.model.resolution, paper.model.channel_base, paper.model.mbstd_group_size) == (256, 16384, 8)
    assert paper.regularizers.r1.weight == 0.5 and paper.train.batch_size == 64
    cifar = experiment_config("stylegan2_ffhq:cifar")
    m = cifar.model
    assert (m.resolution, m.mapping_layers, m.mbstd_group_size, m.d_architecture, m.g_architecture) == (
        32, 2, 32, "orig", "skip",
    )  # fmt: skip
    assert m.conditional and m.style_mixing_prob == 0 and m.conv_clamp == 256 and m.d_mapping_layers == 8
    assert sorted(cifar.regularizers) == ["r1"] and cifar.regularizers.r1.weight == 0.005
    assert cifar.optim.g.lr == 0.0025 and cifar.data.source == "tfds:cifar10"
    gan = builders.build_gan(cifar, (32, 32, 3), 10)
    count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree.leaves(tree))
    z, y = jnp.zeros((2, 512)), jnp.zeros((2,), jnp.int32)
    gv = jax.eval_shape(lambda: gan.generator.init(jax.random.PRNGKey(0), z, y))
    dv = jax.eval_shape(lambda: gan.discriminator.init(jax.random.PRNGKey(0), jnp.zeros((2, 32, 32, 3)), y))
    # the released cifar10.pkl's G: 512 channels at every resolution, 2 mapping layers and a label embedding
    assert count(gv["params"]["mapping_network"]) == (10 * 512 + 512) + (1024 * 512 + 512) + (512 * 512 + 512)
    assert sorted(dv["params"]["mapping"]) == ["embed"] + [f"fc{i}" for i in range(8)]
    assert "b32_skip" not in dv["params"]  # architecture 'orig'
