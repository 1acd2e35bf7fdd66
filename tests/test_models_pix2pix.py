"""pix2pix networks (Isola et al. 2017, App. 6.1): U-Net generator and PatchGAN discriminator."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models.pix2pix import PatchDiscriminator, UNetGenerator, patch_layers, receptive_field
from tests.i2i_helpers import KEYS, num_params, random_variables, variable_shapes


def _unet_params_pytorch(ngf=64, in_c=3, out_c=3, n=8):
    """Parameter count of the authors' ``UnetGenerator`` with batch norm (convolutions without bias
    except the outermost up-convolution; the innermost down-convolution without norm), by hand."""
    w = [ngf * min(2**i, 8) for i in range(n)]
    total = 16 * in_c * w[0]  # outermost down-convolution, no norm
    total += sum(16 * w[i - 1] * w[i] + 2 * w[i] for i in range(1, n - 1))  # conv + BN
    total += 16 * w[n - 2] * w[n - 1]  # innermost down, no norm
    total += 16 * w[n - 1] * w[n - 2] + 2 * w[n - 2]  # innermost up: reads the bottleneck only
    total += sum(16 * 2 * w[i + 1] * w[i] + 2 * w[i] for i in range(n - 2))  # up: reads [skip, up]
    return total + 16 * 2 * w[0] * out_c + out_c  # outermost up-convolution with bias


def _patch_params_pytorch(in_c, ndf=64, n_layers=3, batch_norm=True):
    total, prev = 16 * in_c * ndf + ndf, ndf
    for i in range(1, n_layers + 1):
        width = ndf * min(2**i, 8)
        total += 16 * prev * width + (2 * width if batch_norm else width)  # BN affine, or conv bias
        prev = width
    return total + 16 * prev + 1


def test_parameter_counts_at_256():
    x = jax.ShapeDtypeStruct((1, 256, 256, 3), jnp.float32)
    g = num_params(UNetGenerator(), None, x)
    assert g == _unet_params_pytorch() == 54_413_955  # the authors' code prints 54.414 M
    d = num_params(PatchDiscriminator(), x, x)
    assert d == _patch_params_pytorch(6) == 2_768_705  # 2.769 M
    d_cyclegan = num_params(PatchDiscriminator(conditional=False, normalization="instance"), x, None)
    assert d_cyclegan == _patch_params_pytorch(3, batch_norm=False) == 2_764_737  # 2.765 M
    out = jax.eval_shape(lambda x: PatchDiscriminator().init_with_output(KEYS, x, x, train=False)[0], x)
    assert out.shape == (1, 30, 30)


def _small_unet(**kwargs):
    return UNetGenerator(base_channels=4, **kwargs)


X16 = jax.random.uniform(jax.random.PRNGKey(4), (2, 16, 16, 3), minval=-1, maxval=1)


@functools.cache
def _apply_fn(module, train):
    """Compiled ``module.apply`` at 16x16 with a dropout key, shared by the tests (one compile each)."""
    run = lambda v, key: module.apply(
        v, None, X16, train=train, rngs={"dropout": key}, mutable=["batch_stats"]
    )
    return jax.jit(run)


def test_unet_shapes_depth_and_skip_widths():
    x = jnp.zeros((2, 32, 32, 3))
    p = variable_shapes(_small_unet(out_channels=2), None, x)["params"]
    assert sorted(k for k in p if k.startswith("down_") and "norm" not in k) == [
        f"down_{i}" for i in range(5)
    ]
    widths = [4, 8, 16, 32, 32]  # log2(32) = 5 down layers to a 1x1 bottleneck
    assert [p[f"down_{i}"]["kernel"].shape[-1] for i in range(5)] == widths
    # decoder j mirrors encoder 3 - j; from j = 1 on it reads [skip, previous up] concatenated
    ins = [p[f"up_{j}"]["kernel"].shape[2] for j in range(4)] + [p["up_out"]["kernel"].shape[2]]
    assert ins == [32, 2 * 32, 2 * 16, 2 * 8, 2 * 4]
    assert [p[f"up_{j}"]["kernel"].shape[-1] for j in range(4)] + [p["up_out"]["kernel"].shape[-1]] == [
        32,
        16,
        8,
        4,
        2,
    ]
    assert "down_norm_3" in p and "down_norm_4" not in p  # no norm on the 1x1 bottleneck
    g = _small_unet()
    v = random_variables(g, None, X16)
    y, updated = _apply_fn(g, True)(v, KEYS["dropout"])
    assert y.shape == (2, 16, 16, 3)
    assert float(jnp.max(jnp.abs(y))) <= 1.0 and float(jnp.std(y)) > 0.1
    assert not np.allclose(updated["batch_stats"]["up_norm_0"]["mean"], v["batch_stats"]["up_norm_0"]["mean"])
    # num_downs smaller than log2(resolution), non-power-of-two size
    x24 = jnp.zeros((1, 24, 24, 3))
    g3 = _small_unet(num_downs=3)
    run = lambda v, x: g3.apply(v, None, x, train=False, rngs=KEYS)
    assert jax.eval_shape(run, variable_shapes(g3, None, x24), x24).shape == (1, 24, 24, 3)
    with pytest.raises(ValueError, match="power-of-two"):
        variable_shapes(_small_unet(), None, x24)
    with pytest.raises(ValueError, match="divisible"):
        variable_shapes(_small_unet(num_downs=4), None, x24)
    with pytest.raises(ValueError, match="condition image"):
        variable_shapes(_small_unet(), None, None)


def _input_gradient(grad_fn, *args):
    """|d out / d x| summed over channels: which input pixels one output reads."""
    return np.asarray(jnp.sum(jnp.abs(grad_fn(*args)[0]), axis=-1))


def test_skip_connection_carries_the_first_encoder_layer():
    """With the decoder half of the last up-convolution zeroed, the output reads only the outermost skip
    ``down_0(x)``: one output pixel then depends exactly on the 6x6 input window that the 4x4 stride-2
    convolution and the 4x4 stride-2 up-convolution reach; the whole network reads the whole image."""
    x = jax.random.uniform(jax.random.PRNGKey(3), (1, 32, 32, 3), minval=0.1, maxval=1)
    g = _small_unet(test_dropout=False)
    v = random_variables(g, None, x)
    # positive inputs and first-layer weights keep the decoder's ReLU of the skip active everywhere
    v["params"]["down_0"]["kernel"] = np.abs(v["params"]["down_0"]["kernel"])
    grad_fn = jax.jit(jax.grad(lambda x, v: g.apply(v, None, x, train=False)[0, 16, 16, 0]))
    full = _input_gradient(grad_fn, x, v)
    assert (full > 0).all()  # the 1x1 bottleneck sees every pixel
    kernel = v["params"]["up_out"]["kernel"]  # (4, 4, [skip 4 | decoder 4], 3)
    v["params"]["up_out"]["kernel"] = np.concatenate([kernel[:, :, :4], np.zeros_like(kernel[:, :, 4:])], 2)
    local = _input_gradient(grad_fn, x, v)
    window = np.zeros_like(local, bool)
    window[13:19, 13:19] = True  # out 16 <- skip {7, 8} <- input {13..16} U {15..18}
    np.testing.assert_array_equal(local > 0, window)


X64 = jax.random.uniform(jax.random.PRNGKey(8), (2, 64, 64, 3), minval=-1, maxval=1)


def _dropout_runner(module, v, train, x=X64):
    f = jax.jit(
        lambda v, key: module.apply(v, None, x, train=train, rngs={"dropout": key}, mutable=["batch_stats"])[
            0
        ]
    )
    return lambda seed: np.asarray(f(v, jax.random.PRNGKey(seed)))


def test_dropout_is_the_noise_at_train_and_test_time():
    """At 64x64 (6 downs) the authors' code has one dropout layer (decoder layer 1): the output depends
    on the dropout key in training and, with test_dropout, at test time."""
    g = UNetGenerator(base_channels=2)
    v = random_variables(g, None, X64)
    for train in (True, False):  # the paper keeps dropout at test time (test_dropout=True)
        run = _dropout_runner(g, v, train)
        np.testing.assert_array_equal(run(0), run(0))  # deterministic given the key
        assert not np.allclose(run(0), run(1))
    quiet = _dropout_runner(UNetGenerator(base_channels=2, test_dropout=False), v, False)
    np.testing.assert_array_equal(quiet(0), quiet(1))


@pytest.mark.parametrize(
    "size,dropout_layers", [(16, []), (32, []), (64, [1]), (128, [1, 2]), (256, [1, 2, 3])]
)
def test_dropout_sits_where_the_authors_unet_puts_it(size, dropout_layers):
    """``UnetGenerator(num_downs=n)`` builds ``n - 5`` ``use_dropout`` blocks right outside the innermost
    one: dropout after decoder layers 1 .. n - 5 (unet_256: 2-4 of 8; none at 32x32). Traced from the
    order in which the modules run: each dropout follows the normalisation of its decoder layer."""
    g = UNetGenerator(base_channels=1)
    x = jax.ShapeDtypeStruct((1, size, size, 3), jnp.float32)
    order = []

    def record(next_fun, args, kwargs, context):
        name = str(context.module.name)
        if context.method_name == "__call__" and (name.startswith("Dropout") or name.startswith("up_norm_")):
            order.append(name)
        return next_fun(*args, **kwargs)

    v = variable_shapes(g, None, x)
    with nn.intercept_methods(record):
        jax.eval_shape(lambda v, x: g.apply(v, None, x, train=True, rngs=KEYS, mutable=["batch_stats"]), v, x)
    after = [
        int(order[i - 1].rsplit("_", 1)[1]) for i, name in enumerate(order) if name.startswith("Dropout")
    ]
    assert after == dropout_layers


def test_pixel_discriminator_and_bias_rules():
    """``n_layers=0`` is the authors' PixelDiscriminator (1x1 convolutions to ndf, 2 ndf, 1: one logit per
    pixel); biases follow their ``use_bias``: instance norm only, plus the first and output layers of the
    PatchGAN (the PixelGAN's output layer follows use_bias)."""
    x = jax.ShapeDtypeStruct((1, 8, 8, 3), jnp.float32)
    assert receptive_field(patch_layers(0)) == 1
    for norm, bias in (("batch", False), ("instance", True), ("none", False)):
        p = variable_shapes(PatchDiscriminator(4, 0, conditional=False, normalization=norm), x)["params"]
        assert p["conv_0"]["kernel"].shape == (1, 1, 3, 4) and "bias" in p["conv_0"]
        assert p["conv_1"]["kernel"].shape == (1, 1, 4, 8) and ("bias" in p["conv_1"]) == bias
        assert p["conv_out"]["kernel"].shape == (1, 1, 8, 1) and ("bias" in p["conv_out"]) == bias
        assert ("norm_1" in p) == (norm == "batch")
        x32 = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
        q = variable_shapes(PatchDiscriminator(4, 2, conditional=False, normalization=norm), x32)["params"]
        assert "bias" in q["conv_0"] and "bias" in q["conv_out"]
        assert all(("bias" in q[f"conv_{i}"]) == bias for i in (1, 2))
        u = variable_shapes(UNetGenerator(base_channels=2, normalization=norm), None, x32)["params"]
        assert all(
            ("bias" in u[k]) == bias
            for k in u
            if k.startswith(("down_", "up_")) and "norm" not in k and k != "up_out"
        )
        assert "bias" in u["up_out"]
    d = PatchDiscriminator(4, 0, conditional=False)
    xs = jax.random.uniform(jax.random.PRNGKey(9), (2, 8, 8, 3), minval=-1, maxval=1)
    v = random_variables(d, xs)
    logits = d.apply(v, xs, train=False)
    assert logits.shape == (2, 8, 8)
    moved = d.apply(v, xs.at[:, 0, 0].set(0.5), train=False)  # one pixel changes one logit
    changed = np.argwhere(np.abs(np.asarray(moved - logits)) > 0)
    assert {tuple(c[1:]) for c in changed} == {(0, 0)}
    with pytest.raises(ValueError, match="n_layers must be >= 0"):
        patch_layers(-1)
    with pytest.raises(ValueError, match="unknown normalization 'group'"):
        variable_shapes(PatchDiscriminator(4, 1, conditional=False, normalization="group"), x)


def test_init_is_deterministic_and_follows_the_paper():
    x = jnp.zeros((1, 16, 16, 3))
    d = PatchDiscriminator(base_channels=16, n_layers=1, conditional=False)
    init = jax.jit(lambda key: d.init({"params": key}, x, train=False))
    a, b = init(jax.random.PRNGKey(0)), init(jax.random.PRNGKey(0))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    p = a["params"]
    assert abs(np.std(p["conv_1"]["kernel"]) - 0.02) < 0.002  # N(0, 0.02) weights (App. 6.2)
    assert abs(np.std(p["norm_1"]["scale"] - 1.0) - 0.02) < 0.01  # batch-norm scales N(1, 0.02)
    assert "bias" in p["conv_0"] and "bias" not in p["conv_1"]  # no bias before batch norm


@pytest.mark.parametrize("n_layers,field", [(1, 16), (2, 34), (3, 70)])
def test_patch_receptive_field(n_layers, field):
    """The formula gives the paper's patch sizes, and one logit's input gradient is non-zero exactly on
    that window (clipped to the image). Eval mode: batch norm is then a per-channel affine map."""
    assert receptive_field(patch_layers(n_layers)) == field
    d = PatchDiscriminator(base_channels=2, n_layers=n_layers, conditional=False)
    x = jax.random.uniform(jax.random.PRNGKey(5), (1, 96, 96, 3), minval=-1, maxval=1)
    v = random_variables(d, x)
    size = jax.eval_shape(lambda x: d.apply(v, x, train=False), x).shape[1]
    grad_fn = jax.jit(jax.grad(lambda x, i: d.apply(v, x, train=False)[0, i, i]))
    jump = 2**n_layers
    pad = sum(2 ** min(i, n_layers) for i in range(n_layers + 2))  # padding 1 per layer, in input pixels
    for i in (0, size // 2, size - 1):
        support = _input_gradient(grad_fn, x, i) > 0
        lo, hi = max(0, i * jump - pad), min(96, i * jump - pad + field)
        expected = np.zeros_like(support)
        expected[lo:hi, lo:hi] = True
        np.testing.assert_array_equal(support, expected)
        if i == size // 2:
            assert hi - lo == field  # the central logit's window lies inside the image


def test_conditional_discriminator_sees_condition_and_image():
    x = jax.random.uniform(jax.random.PRNGKey(6), (2, 32, 32, 3), minval=-1, maxval=1)
    c = jax.random.uniform(jax.random.PRNGKey(7), (2, 32, 32, 1), minval=-1, maxval=1)
    d = PatchDiscriminator(base_channels=4)
    v = random_variables(d, x, c)
    assert v["params"]["conv_0"]["kernel"].shape == (4, 4, 4, 4)  # [condition, image] channels
    apply = jax.jit(lambda x, c: d.apply(v, x, c, train=False))
    logits = apply(x, c)
    assert logits.shape == (2, 2, 2)  # 32 -> 16 -> 8 -> 4 -> 3 -> 2
    assert not np.allclose(logits, apply(x, -c))
    with pytest.raises(ValueError, match="condition image"):
        d.apply(v, x, None, train=False)
