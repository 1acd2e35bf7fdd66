"""FID: the Fréchet distance against closed forms and scipy's sqrtm, streaming statistics, stats files."""

import numpy as np
import pytest
import scipy.linalg

from gans_jax.metrics.features import images_to_uint8
from gans_jax.metrics.fid import (
    FeatureStats,
    compute_stats,
    fid_from_features,
    fid_of_generator,
    frechet_distance,
    generator_batches,
    load_stats,
    save_stats,
)


def _random_spd(rng, d, rank=None):
    a = rng.normal(size=(d, rank or d))
    return a @ a.T / d


def _scipy_fid(mu1, s1, mu2, s2):
    """pytorch-fid's formula with scipy.linalg.sqrtm, as the reference."""
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))


def test_isotropic_gaussians_closed_form():
    # N(mu1, a^2 I) vs N(mu2, b^2 I) in d dimensions: |mu1 - mu2|^2 + d (a - b)^2
    d, a, b = 16, 1.5, 0.5
    mu1, mu2 = np.full(d, 0.25), np.zeros(d)
    got = frechet_distance(mu1, a**2 * np.eye(d), mu2, b**2 * np.eye(d))
    assert got == pytest.approx(d * 0.25**2 + d * (a - b) ** 2, rel=1e-12)


def test_commuting_covariances_closed_form():
    rng = np.random.default_rng(0)
    d = 32
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x, y = rng.uniform(0.1, 3, d), rng.uniform(0, 2, d)  # shared eigenvectors, one of them singular-ish
    y[:4] = 0.0
    s1, s2 = (q * x) @ q.T, (q * y) @ q.T
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    want = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(x) - np.sqrt(y)) ** 2)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(
        want, rel=1e-7
    )  # sqrt near 0 amplifies round-off


@pytest.mark.parametrize("rank", [None, 20])  # full rank, and singular covariances (n < d)
def test_matches_scipy_sqrtm(rank):
    rng = np.random.default_rng(1)
    d = 64
    s1, s2 = _random_spd(rng, d, rank), _random_spd(rng, d, rank)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    got = frechet_distance(mu1, s1, mu2, s2)
    assert np.isfinite(got)
    assert got == pytest.approx(_scipy_fid(mu1, s1, mu2, s2), rel=1e-6, abs=1e-8)


def test_identical_sets_and_symmetry():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(500, 32)), rng.normal(size=(400, 32)) * 1.2 + 0.1
    assert abs(fid_from_features(x, x)) < 1e-9
    assert fid_from_features(x, y) == pytest.approx(fid_from_features(y, x), rel=1e-9)


def test_bad_inputs():
    with pytest.raises(ValueError, match="shapes do not match"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))
    with pytest.raises(ValueError, match="NaN"):
        frechet_distance(np.zeros(2), np.eye(2), np.array([np.nan, 0]), np.eye(2))
    with pytest.raises(ValueError, match="shape"):
        FeatureStats(4).update(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="at least 2"):
        _ = FeatureStats(4).update(np.zeros((1, 4))).sigma


def test_streaming_statistics_match_numpy():
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(1000, 48)) * 0.1 + 1000.0).astype(np.float32)  # large mean, small spread
    stats = FeatureStats(48)
    for start in range(0, 1000, 77):
        stats.update(x[start : start + 77])
    x64 = x.astype(np.float64)
    np.testing.assert_allclose(stats.mu, x64.mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.sigma, np.cov(x64, rowvar=False), rtol=1e-9, atol=1e-12)
    a, b = FeatureStats(48).update(x[:300]), FeatureStats(48).update(x[300:])
    merged = a.merge(b)
    assert merged.num == 1000
    np.testing.assert_allclose(merged.sigma, stats.sigma, rtol=1e-9, atol=1e-12)


def test_stats_files_roundtrip_and_pytorch_fid_format(tmp_path):
    rng = np.random.default_rng(4)
    stats = FeatureStats(8).update(rng.normal(size=(50, 8)))
    save_stats(tmp_path / "ours.npz", stats, resize="clean")
    mu, sigma, num = load_stats(tmp_path / "ours.npz")
    np.testing.assert_array_equal(mu, stats.mu)
    np.testing.assert_array_equal(sigma, stats.sigma)
    assert num == 50
    with np.load(tmp_path / "ours.npz") as f:  # what pytorch-fid reads
        assert set(f.files) >= {"mu", "sigma"} and str(f["resize"]) == "clean"
    np.savez(tmp_path / "theirs.npz", mu=stats.mu.astype(np.float32), sigma=stats.sigma)  # pytorch-fid's file
    assert load_stats(tmp_path / "theirs.npz")[2] is None
    np.savez(tmp_path / "bad.npz", mean=stats.mu)
    with pytest.raises(ValueError, match="expected 'mu' and 'sigma'"):
        load_stats(tmp_path / "bad.npz")


def _toy_extractor(images):
    """Deterministic 6-d features of uint8 images: channel means and standard deviations."""
    x = np.asarray(images, np.float64) / 255.0
    return {"pool3": np.concatenate([x.mean(axis=(1, 2)), x.std(axis=(1, 2))], axis=1)}


def test_compute_stats_streams_and_counts():
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    stats = compute_stats(
        (images[i : i + 6] for i in range(0, 20, 6)), _toy_extractor, num=15, progress=False
    )
    assert stats.num == 15
    want = _toy_extractor(images[:15])["pool3"]
    np.testing.assert_allclose(stats.sigma, np.cov(want, rowvar=False), rtol=1e-10, atol=1e-14)
    with pytest.raises(ValueError, match="only 20"):
        compute_stats(iter([images]), _toy_extractor, num=30, progress=False)


def test_fid_of_generator():
    """The training-time entry point: sample_fn(batch_index, n), float images converted like StyleGAN."""
    rng = np.random.default_rng(6)
    real = rng.integers(0, 256, (64, 8, 8, 3), dtype=np.uint8)
    ref = FeatureStats(6).update(_toy_extractor(real)["pool3"])
    calls = []

    def sample_fn(index, n):
        calls.append((index, n))
        return np.random.default_rng(index).uniform(-1, 1, (n, 8, 8, 3)).astype(np.float32)

    result = fid_of_generator(sample_fn, 50, ref, _toy_extractor, batch_size=16, progress=False)
    assert calls == [(0, 16), (1, 16), (2, 16), (3, 2)]
    fake = np.concatenate([images_to_uint8(sample_fn(i, n)) for i, n in calls[:4]])
    assert result["num_samples"] == 50 and result["num_ref_samples"] == 64
    assert result["fid"] == pytest.approx(
        fid_from_features(_toy_extractor(fake)["pool3"], _toy_extractor(real)["pool3"])
    )
    again = fid_of_generator(
        sample_fn, 50, (ref.mu, ref.sigma), _toy_extractor, batch_size=16, progress=False
    )
    assert again["fid"] == pytest.approx(result["fid"]) and again["num_ref_samples"] is None
    with pytest.raises(ValueError, match="returned 3 images"):
        list(generator_batches(lambda i, n: np.zeros((3, 8, 8, 3), np.uint8), 8, 4))


def test_images_to_uint8_is_stylegans_conversion():
    x = np.array([-1.0, -0.999, 0.0, 0.5, 1.0, 1.2])
    np.testing.assert_array_equal(images_to_uint8(x), [0, 0, 128, 191, 255, 255])
