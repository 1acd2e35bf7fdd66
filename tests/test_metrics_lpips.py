"""LPIPS (VGG16, v0.1) as a feature map: the reader of the lpips package's real channel weights (their
key names and shapes), the feature shapes, d(x, x) = 0, symmetry, and the squared-distance form
against a direct numpy LPIPS (scaling layer, VGG16 convolutions in NCHW/OIHW, unit normalisation,
weighted channel sum, spatial mean, sum over layers) on small random images with random backbone
weights in torchvision's layout."""

import pathlib

import jax
import numpy as np
import pytest

from gans_jax.metrics import lpips
from gans_jax.models.vgg import VGG_CONFIGS, conv_layers
from tests.test_models_vgg import _np_conv3x3
from tests.test_models_vgg16 import random_vgg16_state_dict

LPIPS_FILE = pathlib.Path(__file__).parent / "fixtures" / "lpips" / "vgg_v0.1.pth"  # BSD-2, see README
HIGHEST = jax.lax.Precision.HIGHEST


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("lpips")
    state = random_vgg16_state_dict(seed=7)
    np.savez(folder / "vgg16.npz", **state)
    return state, lpips.load_lpips_weights(folder / "vgg16.npz", LPIPS_FILE)


def test_reader_maps_the_official_lin_keys_to_the_layers(tmp_path):
    lin = lpips.read_lin_weights(LPIPS_FILE)
    assert {k: v.shape for k, v in lin.items()} == {
        "lin0": (64,), "lin1": (128,), "lin2": (256,), "lin3": (512,), "lin4": (512,)
    }  # fmt: skip
    assert all((v >= 0).all() for v in lin.values())
    from gans_jax.torch_files import read_torch_file

    raw = read_torch_file(LPIPS_FILE)
    assert sorted(raw) == [f"lin{i}.model.1.weight" for i in range(5)]
    np.testing.assert_array_equal(lin["lin3"], np.asarray(raw["lin3.model.1.weight"])[0, :, 0, 0])
    # An npz with the same keys reads the same; bad files name the key and the shape.
    np.savez(tmp_path / "lin.npz", **raw)
    jax.tree.map(np.testing.assert_array_equal, lpips.read_lin_weights(tmp_path / "lin.npz"), lin)
    np.savez(tmp_path / "short.npz", **{k: v for k, v in raw.items() if not k.startswith("lin4")})
    with pytest.raises(ValueError, match=r"missing lin4.model.1.weight of shape \(1, 512, 1, 1\)"):
        lpips.read_lin_weights(tmp_path / "short.npz")
    np.savez(tmp_path / "neg.npz", **{**raw, "lin1.model.1.weight": -np.asarray(raw["lin1.model.1.weight"])})
    with pytest.raises(ValueError, match="lin1.model.1.weight has negative weights"):
        lpips.read_lin_weights(tmp_path / "neg.npz")
    with pytest.raises(FileNotFoundError, match="pip download --no-deps lpips"):
        lpips.read_lin_weights(tmp_path / "missing.pth")


def test_state_dict_round_trip(weights):
    state, w = weights
    backbone, lin = lpips.lpips_state_dicts(w)
    assert sorted(backbone) == sorted(state)
    jax.tree.map(np.testing.assert_array_equal, backbone, state)
    assert sorted(lin) == [f"lin{i}.model.1.weight" for i in range(5)]


def _numpy_lpips(state, lin, a, b):
    """LPIPS v0.1 of [-1, 1] NHWC images, computed directly in float64 NCHW."""
    relu = lambda v: np.maximum(v, 0.0)

    def feats(x):
        x = x.transpose(0, 3, 1, 2).astype(np.float64) - np.array(lpips.LPIPS_SHIFT)[:, None, None]
        x = x / np.array(lpips.LPIPS_SCALE)[:, None, None]
        out, layers = {}, iter(conv_layers(16))
        block, j = 1, 0
        for v in VGG_CONFIGS[16]:
            if v == "M" and block == 5:  # relu5_3 is the last feature LPIPS reads
                break
            if v == "M":
                n, c, h, w = x.shape
                x = x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
                block, j = block + 1, 0
                continue
            _, index, _, _ = next(layers)
            j += 1
            x = relu(_np_conv3x3(x, state[f"features.{index}.weight"], state[f"features.{index}.bias"]))
            out[f"vgg{block}{j}"] = x
        return out

    fa, fb = feats(a), feats(b)
    total = np.zeros(len(a))
    for i, layer in enumerate(lpips.LPIPS_LAYERS):
        na = fa[layer] / (np.sqrt((fa[layer] ** 2).sum(1, keepdims=True)) + 1e-10)
        nb = fb[layer] / (np.sqrt((fb[layer] ** 2).sum(1, keepdims=True)) + 1e-10)
        weighted = np.einsum("nchw,c->nhw", (na - nb) ** 2, lin[f"lin{i}"].astype(np.float64))
        total += weighted.mean(axis=(1, 2))
    return total


def test_squared_feature_distance_is_lpips(weights):
    state, w = weights
    rng = np.random.default_rng(8)
    a = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    b = np.clip(a + 0.3 * rng.standard_normal(a.shape), -1, 1).astype(np.float32)
    feats = lpips.lpips_features(w, (a + 1) * 127.5, HIGHEST)
    assert feats.shape == (2, 16 * 16 * 64 + 8 * 8 * 128 + 4 * 4 * 256 + 2 * 2 * 512 + 1 * 1 * 512)
    expected = _numpy_lpips(state, w["lin"], a, b)
    got = lpips.lpips_distance(w, a, b, HIGHEST)
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    assert expected.min() > 1e-3  # a real difference, not a trivially small one
    np.testing.assert_allclose(lpips.lpips_distance(w, b, a, HIGHEST), got, rtol=1e-6)  # symmetric
    np.testing.assert_allclose(lpips.lpips_distance(w, a, a, HIGHEST), 0.0, atol=1e-12)
    grey = a[..., :1]  # 1-channel images are repeated to RGB
    np.testing.assert_allclose(
        lpips.lpips_features(w, (grey + 1) * 127.5, HIGHEST),
        lpips.lpips_features(w, (np.repeat(grey, 3, -1) + 1) * 127.5, HIGHEST),
        rtol=1e-6,
    )
    with pytest.raises(ValueError, match="1 or 3 channels"):
        lpips.lpips_features(w, np.zeros((1, 16, 16, 2), np.float32))
