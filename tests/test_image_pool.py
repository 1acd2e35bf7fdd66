"""History buffer of generated images (Shrivastava et al. 2017; CycleGAN, Zhu et al. 2017, Sec. 4)."""

import collections

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.training.image_pool import init_image_pool, query_image_pool

SHAPE = (2, 2, 1)
query = jax.jit(query_image_pool)


def _images(ids):
    """Image ``i`` is the constant ``i``: returned images can be traced back to their insertion."""
    return jnp.broadcast_to(jnp.asarray(ids, jnp.float32)[:, None, None, None], (len(ids), *SHAPE))


def _ids(images):
    images = np.asarray(images)
    ids = images[:, 0, 0, 0]
    np.testing.assert_array_equal(images, np.broadcast_to(ids[:, None, None, None], images.shape))
    return ids.astype(int)


def test_filling_returns_the_new_images():
    pool = init_image_pool(5, SHAPE)
    out, pool = query(pool, _images([1, 2, 3]), jax.random.PRNGKey(0))
    np.testing.assert_array_equal(_ids(out), [1, 2, 3])
    assert int(pool["count"]) == 3
    # the batch that fills the pool: its first two images are stored, the rest face the 1/2 swap
    out, pool = query(pool, _images([4, 5]), jax.random.PRNGKey(1))
    np.testing.assert_array_equal(_ids(out), [4, 5])
    np.testing.assert_array_equal(_ids(pool["images"]), [1, 2, 3, 4, 5])
    assert int(pool["count"]) == 5


def test_full_pool_swaps_half_of_the_images():
    """Once full, each new image is returned with probability 1/2, else a stored (older) image is returned
    and the new one takes its place: the pool and the returned images together are always exactly the
    images inserted so far (nothing lost, nothing invented)."""
    size, batch, steps = 50, 40, 50
    pool = init_image_pool(size, SHAPE)
    _, pool = query(pool, _images(np.arange(size)), jax.random.PRNGKey(0))
    returned, old, next_id = collections.Counter(range(size)), 0, size
    for step in range(steps):
        ids = np.arange(next_id, next_id + batch)
        out, pool = query(pool, _images(ids), jax.random.PRNGKey(step + 1))
        out_ids = _ids(out)
        is_old = out_ids != ids
        assert (out_ids[is_old] < ids[is_old]).all()  # a swapped-out image was inserted before the new one
        old += int(is_old.sum())
        returned.update(out_ids)
        next_id += batch
        pool_ids = collections.Counter(_ids(pool["images"]))
        # each image is returned at once or stored (and maybe returned later); the first `size` images
        # were also returned when they filled the pool
        total = returned + pool_ids
        assert total == collections.Counter(range(next_id)) + collections.Counter(range(size))
    fraction = old / (steps * batch)
    assert abs(fraction - 0.5) < 0.04  # 2000 Bernoulli(1/2) draws: std 0.011
    assert int(pool["count"]) == size


def test_empty_pool_and_determinism():
    images = _images([7, 8])
    out, pool = query(init_image_pool(0, SHAPE), images, jax.random.PRNGKey(0))
    np.testing.assert_array_equal(out, images)
    pool = init_image_pool(2, SHAPE)
    _, pool = query(pool, _images([1, 2]), jax.random.PRNGKey(0))
    a = query(pool, _images(np.arange(3, 23)), jax.random.PRNGKey(5))
    b = query(pool, _images(np.arange(3, 23)), jax.random.PRNGKey(5))
    jax.tree.map(np.testing.assert_array_equal, a, b)
    with pytest.raises(ValueError, match="shape"):
        query_image_pool(pool, jnp.zeros((1, 3, 3, 1)), jax.random.PRNGKey(0))
