"""CycleGAN networks (Zhu et al. 2017, App. 7.2): ResNet generator, composite G/F and D_X/D_Y, cycle loss."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models.cyclegan import (
    CycleGANDiscriminator,
    CycleGANGenerator,
    ResnetGenerator,
)
from gans_jax.models.pix2pix import PatchDiscriminator
from tests.i2i_helpers import num_params, random_variables, variable_shapes


def _resnet_params_pytorch(n_blocks, ngf=64, c=3):
    """The authors' ``ResnetGenerator`` with instance norm (affine=False, so every convolution has a
    bias): c7s1-64, d128, d256, n_blocks x R256 (two 3x3 convolutions), u128, u64, c7s1-3."""
    conv = lambda k, i, o: k * k * i * o + o
    total = conv(7, c, ngf) + conv(3, ngf, 2 * ngf) + conv(3, 2 * ngf, 4 * ngf)
    total += n_blocks * 2 * conv(3, 4 * ngf, 4 * ngf)
    return total + conv(3, 4 * ngf, 2 * ngf) + conv(3, 2 * ngf, ngf) + conv(7, ngf, c)


def test_parameter_counts():
    x256, x128 = jnp.zeros((1, 256, 256, 3)), jnp.zeros((1, 128, 128, 3))
    assert num_params(ResnetGenerator(), x256) == _resnet_params_pytorch(9) == 11_378_179  # 11.378 M
    assert num_params(ResnetGenerator(n_blocks=6), x128) == _resnet_params_pytorch(6) == 7_837_699
    both = {"x": x256, "y": x256}
    assert num_params(CycleGANGenerator(), None, both) == 2 * 11_378_179
    assert num_params(CycleGANDiscriminator(), both) == 2 * 2_764_737  # two 70x70 PatchGANs, 2.765 M each
    shapes = variable_shapes(ResnetGenerator(), x256)["params"]
    assert shapes["up_0"]["kernel"].shape == (3, 3, 256, 128)  # the 3x3 transposed kernel, as in PyTorch
    assert shapes["block_8"]["conv_1"]["kernel"].shape == (3, 3, 256, 256)


X = jax.random.uniform(jax.random.PRNGKey(0), (2, 16, 16, 3), minval=-1, maxval=1)
Y = jax.random.uniform(jax.random.PRNGKey(1), (2, 16, 16, 3), minval=-1, maxval=1)
SMALL = dict(base_channels=4, n_blocks=1)


def test_resnet_generator_is_invariant_to_input_brightness_and_contrast():
    """Instance norm right after the first (reflection-padded) convolution removes any constant added to
    the input and any common factor: G(a x + b) = G(x) up to rounding and the norm's epsilon, for a > 0.
    Zero padding would break this at the borders. So the paper's generator cannot carry an input's
    overall brightness or contrast to its output (notebook 05's grey <-> colour crops)."""
    g = ResnetGenerator(**SMALL)
    v = random_variables(g, X)
    apply = jax.jit(lambda x: g.apply(v, x, train=False))
    y = apply(X)
    assert y.shape == X.shape and float(jnp.max(jnp.abs(y))) <= 1.0 and float(jnp.std(y)) > 0.05
    np.testing.assert_allclose(apply(X + 0.7), y, atol=2e-5)
    np.testing.assert_allclose(apply(0.5 * X + 0.2), y, atol=2e-4)  # measured 3.9e-5
    grey = jnp.repeat(jnp.mean(X, -1, keepdims=True), 3, -1)
    np.testing.assert_allclose(apply(0.5 * grey - 0.3), apply(grey), atol=2e-4)
    assert not np.allclose(apply(X[:, ::-1]), y, atol=1e-3)
    with pytest.raises(ValueError, match="multiples of 4"):
        variable_shapes(g, jnp.zeros((1, 18, 18, 3)))


def test_composite_generator_and_discriminator():
    """CycleGANGenerator returns G(x), F(y), the cycle reconstructions F(G(x)), G(F(y)) and the identity
    mappings F(x), G(y), with G = params["G"]: X -> Y and F = params["F"]: Y -> X (checked by feeding
    its own outputs back and by perturbing one network); CycleGANDiscriminator stacks D_X(x), D_Y(y)."""
    domains = {"x": X, "y": Y}
    cg = CycleGANGenerator(**SMALL)
    v = random_variables(cg, None, domains)
    assert sorted(v["params"]) == ["F", "G"]
    run = jax.jit(lambda v, d: cg.apply(v, None, d, train=True))
    out = run(v, domains)
    assert sorted(out) == ["idt_x", "idt_y", "rec_x", "rec_y", "x", "y"]
    again = run(v, {"x": out["y"], "y": out["x"]})  # {"x": G(x), "y": F(y)}
    np.testing.assert_allclose(again["idt_x"], out["rec_x"], atol=1e-5)  # F(G(x))
    np.testing.assert_allclose(again["idt_y"], out["rec_y"], atol=1e-5)  # G(F(y))
    swapped = run(v, {"x": Y, "y": X})
    np.testing.assert_allclose(swapped["y"], out["idt_y"], atol=1e-5)  # G(y)
    np.testing.assert_allclose(swapped["x"], out["idt_x"], atol=1e-5)  # F(x)
    v_f = jax.tree.map(lambda a: a, v)
    v_f["params"]["F"]["c7s1_out"]["bias"] = v_f["params"]["F"]["c7s1_out"]["bias"] + 0.5
    changed = run(v_f, domains)
    np.testing.assert_array_equal(changed["y"], out["y"])  # G(x) does not read F
    assert not np.allclose(changed["x"], out["x"]) and not np.allclose(changed["rec_y"], out["rec_y"])
    no_identity = jax.eval_shape(
        lambda d: CycleGANGenerator(identity=False, **SMALL).apply(v, None, d), domains
    )
    assert sorted(no_identity) == ["rec_x", "rec_y", "x", "y"]
    # the discriminator judges the generator's output dict directly (extra keys are ignored)
    cd = CycleGANDiscriminator(base_channels=4, n_layers=2, return_dict=True)
    dv = random_variables(cd, out)
    judged = jax.jit(lambda images: cd.apply(dv, images, None, train=True))(out)
    assert judged["logits"].shape == (4, 2, 2)  # 16 -> 8 -> 4 -> 3 -> 2
    patch = PatchDiscriminator(base_channels=4, n_layers=2, conditional=False, normalization="instance")
    d_x = patch.apply({"params": dv["params"]["D_X"]}, out["x"], train=True)
    d_y = patch.apply({"params": dv["params"]["D_Y"]}, out["y"], train=True)
    np.testing.assert_allclose(judged["logits_x"], d_x, atol=1e-5)
    np.testing.assert_allclose(judged["logits"], jnp.concatenate([d_x, d_y]), atol=1e-5)
    with pytest.raises(ValueError, match="'x' and 'y'"):
        cd.apply(dv, {"x": X})
