"""gans_jax.augment: StyleGAN2-ADA's pipeline against the official ``AugmentPipe`` (a parity fixture of its
``debug_percentile`` mode) and against numpy computations of single transforms, p = 0 as the identity bit
for bit, gradients through every transform, the non-leaking property of the geometric group at p < 0.8,
DiffAugment's operations, and the per-example keys that let a batch be split across devices."""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import erfinv

from gans_jax import augment as aug
from gans_jax.augment.pipeline import _VARIABLES
from gans_jax.augment.transforms import band_filter, filter_bank, geometric_transform
from tests.fixtures.reference import make_augment_fixtures as fixtures
from tests.helpers import ROOT

FIXTURE = f"{ROOT}/tests/fixtures/reference/augment/debug_percentile.npz"


def _images(batch=2, size=16, channels=3, seed=0):
    return jnp.asarray(fixtures.test_images(channels, size)[np.arange(batch) % 2]) + 0.01 * seed


def _variables(spec, batch, channels, **values):
    """Hand-made draws for :func:`augment_parameters`: the transforms named in ``values`` happen (selection
    0) with that value (a float, or a tuple for the 2-vector draws); the spec's other transforms do not."""
    out = {}
    for name, _, size in _VARIABLES:
        if spec.multiplier(name) <= 0 or (name in ("hue", "saturation") and channels == 1):
            continue
        taken = name in values
        value = jnp.broadcast_to(jnp.asarray(values.get(name, 0.5), jnp.float32), (size,))
        select_shape = (batch, 4) if name == "imgfilter" else (batch,)
        out[name] = (jnp.full(select_shape, 0.0 if taken else 2.0), jnp.broadcast_to(value, (batch, size)))
    return out


def _apply(spec, images, **values):
    spec = aug.augment_spec(spec) if isinstance(spec, str) else spec
    return _apply_jit(spec, images, {k: jnp.asarray(v, jnp.float32) for k, v in values.items()})


@functools.partial(jax.jit, static_argnums=0)
def _apply_jit(spec, images, values):
    batch, height, width, channels = images.shape
    params = aug.augment_parameters(_variables(spec, batch, channels, **values), 1.0, spec, (height, width))
    return aug.apply_augmentation(images, params)


def test_presets_and_strengths_are_the_official_ones():
    """train.py's augpipe_specs and AugmentPipe's default strengths (NVlabs training/augment.py)."""
    for name, multipliers in fixtures.PRESET_SPECS.items():
        assert aug.PRESETS[name] == multipliers, name
    assert aug.PRESETS["bgcfnc"] == {**fixtures.PRESET_SPECS["bgcf"], "noise": 1, "cutout": 1}
    spec = aug.AugmentSpec()
    official = dict(
        xint_max=0.125, scale_std=0.2, rotate_max=1, aniso_std=0.2, xfrac_std=0.125, brightness_std=0.2,
        contrast_std=0.5, hue_max=1, saturation_std=1, imgfilter_std=1, noise_std=0.1, cutout_size=0.5,
        imgfilter_bands=(1, 1, 1, 1),
    )  # fmt: skip
    assert {k: getattr(spec, k) for k in official} == official


def _debug_percentile_values(spec, q):
    """The official debug_percentile parameters as draws: uniform draws at q, normal draws at erfinv(2q - 1)
    (the official code scales erfinv(2q - 1) by the strength), no post-rotation (theta 0: draw 0.5)."""
    normal = float(erfinv(2 * q - 1))
    values = {}
    for name, dist, _ in _VARIABLES:
        if spec.multiplier(name) > 0:
            values[name] = q if dist == "uniform" else normal
    if "rotate_post" in values:
        values["rotate_post"] = 0.5
    values.pop("noise", None)
    return values


@pytest.mark.parametrize("preset", list(fixtures.PRESETS))
def test_matches_the_official_augment_pipe(preset):
    """Each preset, grey and RGB, at four percentiles: our composition and execution of the transforms the
    official AugmentPipe applies in its debug_percentile mode (fixture made by make_augment_fixtures.py)."""
    fixture = np.load(FIXTURE)
    spec = aug.augment_spec(fixtures.PRESET_SPECS[preset])
    size = fixtures.PRESETS[preset]
    for channels in (1, 3):
        images = jnp.asarray(fixture[f"images_c{channels}_{size}"])
        for q in fixtures.PERCENTILES:
            got = np.asarray(_apply(spec, images, **_debug_percentile_values(spec, q)))
            want = fixture[f"{preset}/c{channels}/q{q}"]
            np.testing.assert_allclose(got, want, atol=2e-4, err_msg=f"{preset} c{channels} q{q}")


def test_p_zero_is_the_identity_bit_for_bit():
    for channels, size, preset in ((1, 16, "bgc"), (3, 24, "bgcfnc")):
        images = _images(4, size, channels)
        out = jax.jit(lambda k, x, p, preset=preset: aug.augment(k, x, p, preset))(
            jax.random.PRNGKey(0), images, 0.0
        )
        assert out.dtype == images.dtype
        np.testing.assert_array_equal(np.asarray(out), np.asarray(images))


def _close_blit(got, want):
    """Equal up to the sym6 filter's asymmetry: a flip or a turn through the up/down-sampling is not an
    exact pixel permutation (nor in the official code; the parity fixture checks that part exactly)."""
    diff = np.abs(np.asarray(got) - np.asarray(want))
    assert diff.max() < 0.1 and diff.mean() < 0.01, (diff.max(), diff.mean())


def test_blits_match_numpy():
    """x-flip, quarter turns and integer translation move whole pixels: np.flip and np.rot90 of the image,
    and np.roll (exact: a translation commutes with the filters) where the shifted image stays inside;
    the identity passes the resampling unchanged."""
    x = _images(2, 16, 3)
    xn = np.asarray(x)
    resampled = geometric_transform(x, jnp.broadcast_to(jnp.eye(3), (2, 3, 3)))
    np.testing.assert_allclose(resampled, xn, atol=1e-5)
    _close_blit(_apply("blit", x, xflip=0.75), xn[:, :, ::-1])
    for quarter, draw in ((1, 0.3), (2, 0.6), (3, 0.9)):
        _close_blit(_apply("blit", x, rotate90=draw), np.rot90(xn, k=quarter, axes=(1, 2)))
    # xint draws (u_x, u_y): t = (2u - 1) * 0.125 * 16 pixels, rounded: 2 to the right, 1 up
    got = np.asarray(_apply("blit", x, xint=(0.5 + 2 / 4, 0.5 - 1 / 4)))
    want = np.roll(xn, (-1, 2), axis=(1, 2))
    np.testing.assert_allclose(got[:, 3:-4, 5:-3], want[:, 3:-4, 5:-3], atol=1e-5)


def test_colour_transforms_match_numpy():
    """Brightness adds, contrast multiplies, the luma flip reflects along (1, 1, 1), a hue rotation of
    2 pi / 3 permutes the channels, saturation 0 leaves the grey of the channel mean."""
    x = _images(2, 16, 3)
    xn = np.asarray(x)
    std = aug.AugmentSpec()
    b = 0.7
    np.testing.assert_allclose(_apply("color", x, brightness=b), xn + b * std.brightness_std, atol=1e-6)
    c = 0.8
    np.testing.assert_allclose(_apply("color", x, contrast=c), xn * 2 ** (c * std.contrast_std), atol=1e-6)
    mean = xn.mean(-1, keepdims=True)
    np.testing.assert_allclose(_apply("color", x, lumaflip=0.9), xn - 2 * mean, atol=1e-6)
    hue = np.asarray(_apply("color", x, hue=0.5 + 1 / 3))  # theta = (2u - 1) pi = 2 pi / 3
    np.testing.assert_allclose(hue, np.roll(xn, 1, axis=-1), atol=1e-5)
    grey = np.asarray(_apply("color", x, saturation=-1e4))  # 2^(-1e4) = 0
    np.testing.assert_allclose(grey, np.broadcast_to(mean, xn.shape), atol=1e-6)
    # grey images: the mean of the colour matrix's rows (brightness, contrast, luma flip act)
    g = _images(2, 16, 1)
    np.testing.assert_allclose(_apply("color", g, lumaflip=0.9), -np.asarray(g), atol=1e-6)


def test_filter_bank_and_band_filter():
    """The four bands sum to the identity (unit gains leave an image unchanged); a band gain scales that
    band, computed here with numpy's separable convolution of the reflect-padded image."""
    bank = filter_bank()
    assert bank.shape == (4, 43)
    np.testing.assert_allclose(bank.sum(0), np.eye(1, 43, 21)[0], atol=1e-6)
    np.testing.assert_allclose(bank, bank[:, ::-1], atol=1e-7)  # symmetric
    x = _images(2, 32, 1)
    np.testing.assert_allclose(band_filter(x, jnp.ones((2, 4))), x, atol=1e-5)
    gains = np.array([[1.0, 2.0, 0.5, 1.5], [0.2, 1.0, 1.0, 3.0]], np.float32)
    taps = gains @ bank
    want = []
    for b in range(2):
        img = np.pad(np.asarray(x[b, :, :, 0]), 21, mode="reflect")
        img = np.stack([np.convolve(row, taps[b], mode="valid") for row in img])
        img = np.stack([np.convolve(col, taps[b], mode="valid") for col in img.T]).T
        want.append(img[..., None])
    np.testing.assert_allclose(band_filter(x, jnp.asarray(gains)), np.stack(want), atol=1e-4)


def test_noise_and_cutout_match_numpy():
    x = _images(2, 16, 3)
    spec = aug.augment_spec({"noise": 1, "cutout": 1})
    variables = _variables(spec, 2, 3, noise=1.5, cutout=(0.25, 0.75))
    params = aug.augment_parameters(variables, 1.0, spec, (16, 16))
    noise = jax.random.normal(jax.random.PRNGKey(1), x.shape)
    got = np.asarray(aug.apply_augmentation(x, params, noise))
    mask = np.ones((16, 16, 1), np.float32)
    mask[12 - 4 : 12 + 4, 4 - 4 : 4 + 4] = 0  # 8x8 (size 0.5) centred at x = 4, y = 12 pixels
    want = (np.asarray(x) + np.asarray(noise) * 1.5 * 0.1) * mask
    np.testing.assert_allclose(got, want, atol=1e-6)


@pytest.mark.parametrize("preset", ["blit", "geom", "color", "filter", "noise", "cutout", "diffaugment"])
def test_gradients_flow_through_every_transform(preset):
    """d/dx of a weighted sum of augmented images: finite and non-zero for every example."""
    size = 24 if preset == "filter" else 16
    x = _images(2, size, 3)
    w = jax.random.normal(jax.random.PRNGKey(2), x.shape)
    key = jax.random.PRNGKey(3)
    if preset == "diffaugment":
        fn = lambda x: aug.diff_augment(key, x)
    else:
        fn = lambda x: aug.augment(key, x, 1.0, preset)
    grad = np.asarray(jax.grad(lambda x: jnp.sum(fn(x) * w))(x))
    assert np.all(np.isfinite(grad)) and np.abs(grad).sum(axis=(1, 2, 3)).min() > 0


def test_geometric_group_is_non_leaking_below_p_0_8():
    """Karras et al. 2020, Sec. 2.2: a transform applied with probability p < 1 leaves the distribution of
    the clean images recoverable. The mean of many augmented copies of an image (blits and general
    geometric transforms at p = 0.6) keeps the image's mean intensity; and the x-flip's mixture
    m = (1 - p/2) x + (p/2) flip(x) is estimated well enough from 2048 copies to solve for x itself."""
    x = _images(1, 16, 1)
    copies = 2048
    keys = jax.random.split(jax.random.PRNGKey(4), copies)
    batch = jnp.broadcast_to(x, (copies, *x.shape[1:]))
    out = jax.jit(lambda k, b: aug.augment_examples(k, b, 0.6, aug.augment_spec("bg")))(keys, batch)
    assert abs(float(out.mean()) - float(x.mean())) < 0.02
    flips = jax.jit(lambda k, b: aug.augment_examples(k, b, 0.6, aug.augment_spec({"xflip": 1})))(keys, batch)
    m = np.asarray(flips.mean(0))
    q = 0.6 / 2
    recovered = ((1 - q) * m - q * m[:, ::-1]) / ((1 - q) ** 2 - q**2)
    np.testing.assert_allclose(recovered, np.asarray(x[0]), atol=0.1)
    assert (1 - 0.5) ** 2 - 0.5**2 == 0  # at p = 1 flip(x) and x are equally likely: x is lost


def test_probability_of_each_transform_is_multiplier_times_p():
    """The selection draws: at p = 0.5 a quarter of the examples flip x (the flip itself draws i in {0, 1})
    and the colour stage touches some but not all examples."""
    n = 4000
    keys = jax.random.split(jax.random.PRNGKey(5), n)
    spec = aug.augment_spec({"xflip": 1})
    draw = jax.jit(lambda k, s: jax.vmap(lambda k: aug.random_variables(k, s, 1))(k), static_argnums=1)
    params = aug.augment_parameters(draw(keys, spec), 0.5, spec, (8, 8))
    flipped = np.asarray(params.geometric[:, 0, 0] < 0)
    assert abs(flipped.mean() - 0.25) < 0.03
    rot = aug.augment_spec({"rotate": 1})
    params = aug.augment_parameters(draw(keys, rot), 0.5, rot, (8, 8))
    rotated = ~np.all(np.isclose(np.asarray(params.geometric), np.eye(3), atol=1e-7), axis=(1, 2))
    assert abs(rotated.mean() - 0.5) < 0.03  # pre or post rotation: 1 - (1 - p_rot)^2 = p


def test_per_example_keys_make_each_example_independent_of_the_batch():
    """Example b's augmentation depends on keys[b] only: permuting the batch permutes the output (what lets
    a data-parallel step augment its slice of the global batch as the single-device step would)."""
    x = _images(4, 16, 3) * jnp.arange(1, 5)[:, None, None, None] / 4
    keys = jax.random.split(jax.random.PRNGKey(6), 4)
    perm = np.array([2, 0, 3, 1])
    spec = aug.augment_spec("bgc")
    for fn in (
        jax.jit(lambda k, x: aug.augment_examples(k, x, 0.7, spec)),
        jax.jit(lambda k, x: aug.diff_augment_examples(k, x, "color,translation,cutout")),
    ):
        np.testing.assert_allclose(fn(keys[perm], x[perm]), np.asarray(fn(keys, x))[perm], atol=1e-6)


def test_diffaugment_operations():
    """Zhao et al. 2020 (DiffAugment_pytorch.py): brightness adds one U(-0.5, 0.5) per image, saturation
    scales each pixel's deviation from its channel mean by U(0, 2), translation shifts by at most 1/8 of
    the size with zero fill, cutout zeroes a (H/2 x W/2) rectangle."""
    x = _images(8, 16, 3, seed=1) * 0.5 + 0.1
    xn = np.asarray(x)
    key = jax.random.PRNGKey(7)
    out = np.asarray(aug.diff_augment(key, x, "translation"))
    for b in range(8):
        matches = []
        for dy in range(-2, 3):
            for dx in range(-2, 3):
                padded = np.pad(xn[b], ((2, 2), (2, 2), (0, 0)))
                matches.append(np.array_equal(out[b], padded[2 + dy : 18 + dy, 2 + dx : 18 + dx]))
        assert sum(matches) == 1, b
    out = np.asarray(aug.diff_augment(key, x, "cutout"))
    zeroed = np.all(out == 0, axis=-1) & ~np.all(xn == 0, axis=-1)
    assert np.all(out[~zeroed] == xn[~zeroed])
    for b in range(8):
        rows, cols = np.nonzero(zeroed[b])
        assert 0 < zeroed[b].sum() <= 64 and rows.max() - rows.min() < 8 and cols.max() - cols.min() < 8
    keys = jax.random.split(key, 8)
    bright = np.asarray(aug.diff_augment_examples(keys, x, ["color"]))
    # color = brightness, saturation, contrast: the result is affine in x per image, check its range
    assert bright.shape == xn.shape and np.all(np.isfinite(bright))
    with pytest.raises(ValueError, match="'colour'"):
        aug.diff_augment(key, x, "colour,translation")


def test_augment_refuses_bad_inputs():
    x = _images(2, 16, 3)
    with pytest.raises(ValueError, match="NHWC"):
        aug.augment(jax.random.PRNGKey(0), x[0], 0.5)
    with pytest.raises(ValueError, match="3 augmentation keys for a batch of 2"):
        aug.augment_examples(jax.random.split(jax.random.PRNGKey(0), 3), x, 0.5, aug.augment_spec("bgc"))
    with pytest.raises(ValueError, match="'bgq'"):
        aug.augment_spec("bgq")
    with pytest.raises(ValueError, match=r"\['rotation'\]"):
        aug.augment_spec("bgc", rotation=1)
    with pytest.raises(ValueError, match="scale_std=-1"):
        aug.augment_spec("bgc", scale_std=-1)
    with pytest.raises(ValueError, match="got 2"):
        aug.augment(jax.random.PRNGKey(0), jnp.zeros((2, 8, 8, 2)), 1.0, "color")
    assert math.isclose(aug.augment_spec("bgc", rotate_max=0.5).rotate_max, 0.5)
