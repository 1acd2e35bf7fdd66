"""SRGAN networks (Ledig et al. 2017, Fig. 4): SRResNet generator and the SRGAN discriminator."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models.srgan import SRGANDiscriminator, SRResNetGenerator, adaptive_average_pool
from tests.i2i_helpers import num_params, random_variables, variable_shapes


def _srresnet_params(blocks=16, c=64, prelus=None):
    conv = lambda k, i, o: k * k * i * o + o
    bn = 2 * c
    prelus = 1 + blocks + 2 if prelus is None else prelus  # one shared slope per PReLU
    total = conv(9, 3, c) + blocks * (2 * conv(3, c, c) + 2 * bn) + conv(3, c, c) + bn
    return total + 2 * conv(3, c, 4 * c) + conv(9, c, 3) + prelus


def _srgan_d_params(size=96, c=64, dense=1024):
    total, prev = 0, 3
    for i in range(8):
        width = c * 2 ** (i // 2)
        total += 9 * prev * width + width + (2 * width if i else 0)
        prev = width
    flat = (size // 16) ** 2 * prev
    return total + flat * dense + dense + dense + 1


def test_parameter_counts():
    lr = jnp.zeros((1, 24, 24, 3))
    assert num_params(SRResNetGenerator(), None, lr) == _srresnet_params() == 1_549_462  # ~1.55 M
    assert num_params(SRResNetGenerator(prelu_channelwise=True), None, lr) == _srresnet_params(prelus=19 * 64)
    hr = jnp.zeros((1, 96, 96, 3))
    assert num_params(SRGANDiscriminator(), hr) == _srgan_d_params() == 23_565_505
    pooled = variable_shapes(SRGANDiscriminator(pool_size=1), hr)["params"]
    assert pooled["dense_0"]["kernel"].shape == (512, 1024)
    out = jax.eval_shape(
        lambda v, x: SRResNetGenerator().apply(v, None, x, train=False),
        variable_shapes(SRResNetGenerator(), None, lr),
        lr,
    )
    assert out.shape == (1, 96, 96, 3)


def test_generator_upsamples_and_outputs():
    g = SRResNetGenerator(base_channels=8, num_blocks=2)
    lr = jax.random.uniform(jax.random.PRNGKey(0), (2, 6, 6, 3), minval=-1, maxval=1)
    v = random_variables(g, None, lr)
    for name in ("conv_mid", "up_0_conv", "up_1_conv"):
        assert v["params"][name]["kernel"].shape[-1] == {"conv_mid": 8}.get(name, 32)  # 4 x 8 -> shuffle
    train = jax.jit(lambda v: g.apply(v, None, lr, train=True, mutable=["batch_stats"]))
    hr, updated = train(v)
    assert hr.shape == (2, 24, 24, 3) and float(jnp.max(jnp.abs(hr))) <= 1.0
    np.testing.assert_array_equal(hr, train(v)[0])  # deterministic
    assert set(updated["batch_stats"]) == {f"block_{i}_bn_{j}" for i in range(2) for j in range(2)} | {
        "bn_mid"
    }
    # output="linear" is the same network without the final tanh
    linear = SRResNetGenerator(base_channels=8, num_blocks=2, output="linear")
    lin = jax.jit(lambda v: linear.apply(v, None, lr, train=True, mutable=["batch_stats"])[0])(v)
    np.testing.assert_allclose(jnp.tanh(lin), hr, atol=1e-6)
    assert float(jnp.max(jnp.abs(lin))) > 1.0
    with pytest.raises(ValueError, match="upscale_factor"):
        variable_shapes(SRResNetGenerator(upscale_factor=3), None, lr)
    with pytest.raises(ValueError, match="low-resolution image"):
        variable_shapes(g, None, None)


def test_discriminator_heads():
    hr = jax.random.uniform(jax.random.PRNGKey(1), (2, 32, 32, 3), minval=-1, maxval=1)
    d = SRGANDiscriminator(base_channels=4, dense_features=16, pool_size=1)
    v = random_variables(d, hr)
    assert [v["params"][f"conv_{i}"]["kernel"].shape[-1] for i in range(8)] == [4, 4, 8, 8, 16, 16, 32, 32]
    assert "bn_0" not in v["params"] and "bn_7" in v["params"]
    apply = jax.jit(lambda x: d.apply(v, x, train=False))
    logits = apply(hr)
    assert logits.shape == (2,)
    # global average pooling: the same parameters judge any crop size
    assert apply(jnp.concatenate([hr, hr], axis=1)).shape == (2,)
    flat = variable_shapes(SRGANDiscriminator(base_channels=4, dense_features=16), hr)["params"]
    assert flat["dense_0"]["kernel"].shape == (2 * 2 * 32, 16)  # paper: flatten the last feature map
    x = jnp.arange(2 * 4 * 6 * 1, dtype=jnp.float32).reshape(2, 4, 6, 1)  # 2x3 blocks: 0,1,2,6,7,8 -> 4
    np.testing.assert_allclose(adaptive_average_pool(x, 2)[0, :, :, 0], [[4.0, 7.0], [16.0, 19.0]])
    with pytest.raises(ValueError, match="divisible by 4"):
        adaptive_average_pool(x, 4)


def test_bicubic_residual_starts_as_bicubic_interpolation_and_learns_a_residual():
    """``output="bicubic_residual"``: bicubic(x) + conv_out(...), conv_out zero-initialised, so the
    untrained generator is bicubic interpolation (Kim et al. 2016's global residual); the same as PIL's
    bicubic upsampling away from the border, and every layer gets gradients after the first update."""
    from gans_jax.data.folder import uint8_to_unit_range
    from gans_jax.data.offline import photo_crops
    from gans_jax.data.transforms import bicubic_downsample, bicubic_upsample
    from gans_jax.metrics.translation import psnr, shave_border

    g = SRResNetGenerator(base_channels=8, num_blocks=2, output="bicubic_residual", normalization="none")
    high = photo_crops(("astronaut",), "test", 32, per_photo=4)[0]
    low = uint8_to_unit_range(bicubic_downsample(high, 4))
    v = g.init(jax.random.PRNGKey(0), None, low, train=False)
    np.testing.assert_array_equal(v["params"]["conv_out"]["kernel"], 0.0)
    out = g.apply(v, None, low, train=False)
    np.testing.assert_allclose(out, jax.image.resize(low, (4, 32, 32, 3), "bicubic"), atol=1e-6)
    pil = uint8_to_unit_range(bicubic_upsample(bicubic_downsample(high, 4), 4))
    assert psnr(shave_border(np.asarray(out), 4), shave_border(pil, 4)) > 45.0  # 8-bit rounding apart
    target = uint8_to_unit_range(high)

    def loss(params):
        return jnp.mean((g.apply({"params": params}, None, low, train=False) - target) ** 2)

    grads = jax.grad(loss)(v["params"])
    assert float(jnp.abs(grads["conv_out"]["kernel"]).max()) > 0
    stepped = jax.tree.map(lambda p, d: p - 1e-2 * d, v["params"], grads)
    deeper = jax.grad(loss)(stepped)
    assert float(jnp.abs(deeper["conv_in"]["kernel"]).max()) > 0
    assert float(loss(stepped)) < float(loss(v["params"]))


def test_normalization_none_drops_the_batch_norms():
    lr = jnp.zeros((1, 6, 6, 3))
    plain = variable_shapes(SRResNetGenerator(base_channels=8, num_blocks=2, normalization="none"), None, lr)
    assert "batch_stats" not in plain and not [k for k in plain["params"] if "bn" in k]
    c = 8
    bn_params = (2 * 2 + 1) * 2 * c  # scale and bias of 2 BNs per block and bn_mid
    with_bn = num_params(SRResNetGenerator(base_channels=c, num_blocks=2), None, lr)
    without = num_params(SRResNetGenerator(base_channels=c, num_blocks=2, normalization="none"), None, lr)
    assert with_bn == without + bn_params
    with pytest.raises(ValueError, match="unknown SRResNet normalization 'instance'"):
        variable_shapes(SRResNetGenerator(normalization="instance"), None, lr)
    with pytest.raises(ValueError, match="needs out_channels 3 equal to the input's channels"):
        variable_shapes(SRResNetGenerator(output="bicubic_residual"), None, jnp.zeros((1, 6, 6, 1)))
    with pytest.raises(ValueError, match="unknown output 'sigmoid'"):
        variable_shapes(SRResNetGenerator(output="sigmoid"), None, lr)
