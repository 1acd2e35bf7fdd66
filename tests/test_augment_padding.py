"""The geometric stage's padding, as the official ``AugmentPipe`` does it: a margin that depends on the
batch's transforms (the mapped output corners plus ``2 Hz_pad``, the maximum over the batch), reflect
padding by it, zeros beyond it. Against a numpy re-implementation of the official execution
(tests/augment_reference.py; checked against the official torch code, ``upfirdn2d`` ``impl='ref'``, to
1e-5 in float32) on batches of the ``bgc`` pipeline's own transforms."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax import augment as aug
from gans_jax.augment.transforms import geometric_margin, geometric_transform
from tests.augment_reference import official_geometric, official_margin


def _transforms(preset, p, num, height, width, seed=0):
    """``G^-1`` of ``num`` examples drawn by the pipeline (float32, as the library computes them)."""
    spec = aug.augment_spec(preset)
    keys = jax.random.split(jax.random.PRNGKey(seed), num)
    draws = jax.vmap(lambda k: aug.random_variables(k, spec, 1))(keys)
    return np.asarray(aug.augment_parameters(draws, p, spec, (height, width)).geometric)


@pytest.mark.parametrize("height,width", [(16, 16), (12, 20)])
def test_margin_is_the_official_one(height, width):
    """Batches of 1 and 8 of continuous transforms (``geom`` at p = 1): the official margin exactly. Quarter
    turns and flips give margins that are integers up to float32 rounding (cos(pi / 2) = -4e-8), rounded
    up either way in float32 as in the official code: there one pixel apart at most, and the output the
    same (the sampled positions reach that pixel with zero weight; checked below on ``bgc``)."""
    margin = jax.jit(geometric_margin, static_argnums=(1, 2))
    g = _transforms("geom", 1.0, 64, height, width)
    for batch in (1, 8):
        for s in range(0, 64, batch):
            got = np.asarray(margin(jnp.asarray(g[s : s + batch]), height, width))
            np.testing.assert_array_equal(got, official_margin(g[s : s + batch], height, width))
    g = _transforms("bgc", 0.3, 64, height, width, seed=1)
    got = np.stack([np.asarray(margin(jnp.asarray(g[b : b + 1]), height, width)) for b in range(64)])
    want = np.stack([official_margin(g[b : b + 1], height, width) for b in range(64)])
    assert np.all(got >= 0) and np.all(got <= [width - 1, height - 1] * 2)
    assert np.all(np.abs(got - want) <= 1)


@pytest.mark.parametrize("height,width,batch", [(16, 16, 1), (16, 16, 4), (12, 20, 2)])
def test_geometric_execution_matches_the_official_padding(height, width, batch):
    """The ``bgc`` pipeline's transforms at p = 1 on uniform noise in [-1, 1] (the most high-frequency
    content), in batches that share the official margin: ours equals the official execution within
    float32 rounding (measured 1e-5)."""
    fn = jax.jit(geometric_transform)
    num = 64
    g = _transforms("bgc", 1.0, num, height, width, seed=2)
    x = np.random.default_rng(0).uniform(-1, 1, (num, height, width, 1)).astype(np.float32)
    for s in range(0, num, batch):
        gb, xb = g[s : s + batch], x[s : s + batch]
        got = np.asarray(fn(jnp.asarray(xb), jnp.asarray(gb)))
        np.testing.assert_allclose(got, official_geometric(xb, gb), atol=2e-5, err_msg=f"examples {s}+")


def _zoom(sx, sy):
    return np.array([[[sx, 0.0, 0.0], [0.0, sy, 0.0], [0.0, 0.0, 1.0]]], np.float32)


@pytest.mark.parametrize("g", [_zoom(2.0, 2.0), _zoom(1.875, 0.833), _zoom(1.4, 1.4)], ids=str)
def test_zooming_out_reads_zeros_beyond_the_official_margin(g):
    """Zooming out (``G^-1`` stretching an axis) maps the output's border band past the official window:
    the official code reads zeros there, reflect padding by the largest margin (``size - 1``, what this
    module did before) reads reflected pixels, 5e-5 to 1e-3 apart on noise; ours reads zeros."""
    x = np.random.default_rng(0).uniform(-1, 1, (1, 16, 16, 1)).astype(np.float32)
    want = official_geometric(x, g)
    largest = official_geometric(x, g, margin=(15,) * 4)
    assert np.abs(largest - want).max() > 4e-5 and np.all(official_margin(g, 16, 16) < 15)
    got = np.asarray(jax.jit(geometric_transform)(jnp.asarray(x), jnp.asarray(g)))
    np.testing.assert_allclose(got, want, atol=2e-5)


def test_the_margin_is_the_batch_maximum_and_can_be_given():
    """An example's output depends on its batch only through the shared margin: alone, it equals the
    official execution at its own margin; within a batch that needs a wider one, the official execution
    at the wider margin; and an explicit ``margin`` argument is used as given."""
    g = _transforms("bgc", 1.0, 64, 16, 16, seed=3)
    x = np.random.default_rng(1).uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    alone = [official_margin(g[b : b + 1], 16, 16) for b in range(64)]
    small = min(range(64), key=lambda b: alone[b].sum())
    large = max(range(64), key=lambda b: alone[b].sum())
    pair = np.stack([g[small], g[large]])
    both = official_margin(pair, 16, 16)
    assert np.all(both == np.maximum(alone[small], alone[large])) and np.any(both != alone[small])
    got = np.asarray(jax.jit(geometric_transform)(jnp.asarray(x), jnp.asarray(pair)))
    np.testing.assert_allclose(got, official_geometric(x, pair), atol=2e-5)
    given = np.asarray(geometric_transform(jnp.asarray(x[:1]), jnp.asarray(pair[:1]), jnp.asarray(both)))
    np.testing.assert_allclose(given[0], got[0], atol=1e-5)
