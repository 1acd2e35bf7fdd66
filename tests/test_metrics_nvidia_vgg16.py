"""NVIDIA's metrics VGG16 (``vgg16.pt``) without the real file: its tensor names as ``torch.jit.save``
writes them (a tiny TorchScript fixture in the official layout), full-size random weights in that
layout written as a TorchScript archive, the loader's round trip and errors, the fc7 features against
an independent float64 numpy computation (TF1 bilinear resize to 224, ImageNet normalisation, NCHW
convolutions, torch's (C, H, W) flatten, fc1 and fc2), and LPIPS from the same file."""

import pathlib

import jax
import numpy as np
import pytest

from gans_jax.metrics import lpips, nvidia_vgg16
from gans_jax.models.vgg import IMAGENET_MEAN, IMAGENET_STD, VGG_CONFIGS
from gans_jax.torch_files import read_torch_file
from tests.torch_writer import nvidia_vgg16_module, write_torchscript

LAYOUT = pathlib.Path(__file__).parent / "fixtures" / "nvidia_vgg16"
HIGHEST = jax.lax.Precision.HIGHEST


def random_nvidia_state(seed: int = 0) -> dict[str, np.ndarray]:
    """Random weights in ``vgg16.pt``'s layout (He-scaled convolutions, LeCun-scaled fc layers, uniform
    non-negative LPIPS weights)."""
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in nvidia_vgg16.expected_shapes().items():
        if key.startswith("lpips"):
            state[key] = rng.uniform(0, 1, shape).astype(np.float32)
        elif key.endswith(".bias"):
            state[key] = rng.uniform(-0.1, 0.1, shape).astype(np.float32)
        else:
            fan_in = int(np.prod(shape[1:]))
            gain = 2.0 if len(shape) == 4 else 1.0
            state[key] = rng.standard_normal(shape, dtype=np.float32) * np.float32(np.sqrt(gain / fan_in))
    return state


@pytest.fixture(scope="module")
def official(tmp_path_factory):
    """Full-size random weights saved as ``vgg16.pt`` is (a TorchScript archive, 553 MB)."""
    state = random_nvidia_state()
    path = tmp_path_factory.mktemp("vgg16") / "vgg16.pt"
    write_torchscript(path, nvidia_vgg16_module(state))
    return state, path, nvidia_vgg16.load_nvidia_vgg16(path)


def test_tensor_names_of_a_torchscript_file_in_the_official_layout(tmp_path):
    """A module scripted and saved by torch in ``vgg16.pt``'s layout reads as the loader's names, and
    as the test writer's archive of the same tensors; the loader refuses its tiny shapes by name."""
    leaves = read_torch_file(LAYOUT / "layout.pt")
    tensors = {k for k, v in leaves.items() if isinstance(v, np.ndarray)}
    assert tensors == set(nvidia_vgg16.expected_shapes())
    expected = np.load(LAYOUT / "layout_expected.npz")
    state = {k.replace("/", "."): expected[k] for k in expected.files}
    write_torchscript(tmp_path / "written.pt", nvidia_vgg16_module(state))
    written = read_torch_file(tmp_path / "written.pt")
    for key in tensors:
        np.testing.assert_array_equal(written[key], leaves[key])
        np.testing.assert_array_equal(leaves[key], state[key])
    with pytest.raises(
        ValueError, match=r"layers.conv1.weight has shape \(2, 3, 3, 3\), expected \(64, 3, 3, 3\)"
    ):
        nvidia_vgg16.load_nvidia_vgg16(LAYOUT / "layout.pt")


def test_loader_round_trip_and_errors(official, tmp_path, monkeypatch):
    state, path, weights = official
    back = nvidia_vgg16.nvidia_state_dict(weights)
    assert sorted(back) == sorted(k for k in state if not k.startswith("layers.fc3"))
    for key, value in back.items():
        np.testing.assert_array_equal(value, state[key])
    assert weights["fc"]["fc1"]["kernel"].shape == (25088, 4096)
    np.testing.assert_array_equal(
        weights["vgg"]["params"]["conv3_1"]["kernel"][1, 2, 7, 5], state["layers.conv5.weight"][5, 7, 1, 2]
    )
    # An npz with the file's names reads the same (fc3 may be absent); bad files name the tensor.
    small = {k: v for k, v in state.items() if not k.startswith("layers.fc")}
    np.savez(tmp_path / "no_fc.npz", **small)
    with pytest.raises(ValueError, match=r"missing layers.fc1.weight of shape \(4096, 25088\)"):
        nvidia_vgg16.load_nvidia_vgg16(tmp_path / "no_fc.npz")
    with pytest.raises(ValueError, match="neg.pt: lpips2 has negative weights"):
        nvidia_vgg16.from_state_dict({**state, "lpips2": -state["lpips2"]}, "neg.pt")
    # Where the file is looked for: the path, $GANS_JAX_VGG16, the cache; else how to get it.
    monkeypatch.setenv("GANS_JAX_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(nvidia_vgg16.ENV_VAR, raising=False)
    with pytest.raises(FileNotFoundError, match="nvlabs-fi-cdn.nvidia.com/.*/metrics/vgg16.pt"):
        nvidia_vgg16.find_vgg16_file()
    with pytest.raises(FileNotFoundError, match="--vgg16 path '.*missing.pt' is not a file"):
        nvidia_vgg16.find_vgg16_file(tmp_path / "missing.pt")
    monkeypatch.setenv(nvidia_vgg16.ENV_VAR, str(path))
    assert nvidia_vgg16.find_vgg16_file() == path
    monkeypatch.delenv(nvidia_vgg16.ENV_VAR)
    dnnlib = tmp_path / ".cache" / "dnnlib" / "downloads"
    dnnlib.mkdir(parents=True)
    (dnnlib / "abc123_vgg16.pt").write_bytes(b"")
    assert nvidia_vgg16.find_vgg16_file() == dnnlib / "abc123_vgg16.pt"


def _np_resize_tf(x: np.ndarray, size: int) -> np.ndarray:
    """TF1 ``resize_bilinear`` (align_corners=False) of NCHW ``x``: source ``dst * in / out``, edges held."""
    for axis in (2, 3):
        n = x.shape[axis]
        src = np.arange(size) * (n / size)
        lo = np.floor(src).astype(int)
        hi = np.minimum(lo + 1, n - 1)
        frac = (src - lo).reshape([-1 if a == axis else 1 for a in range(4)])
        x = np.take(x, lo, axis=axis) * (1 - frac) + np.take(x, hi, axis=axis) * frac
    return x


def _np_conv3x3(x: np.ndarray, weight: np.ndarray, bias: np.ndarray) -> np.ndarray:
    """torch's Conv2d(padding=1) of NCHW ``x`` with OIHW ``weight``, as one matrix product (im2col)."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    cols = np.stack([xp[:, :, dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)], axis=2)
    out = np.einsum("nckhw,ock->nohw", cols, weight.reshape(weight.shape[0], c, 9), optimize=True)
    return out + bias[None, :, None, None]


def _numpy_fc7(state: dict[str, np.ndarray], images: np.ndarray) -> np.ndarray:
    """float64 fc7 of uint8 NHWC images, computed in torch's NCHW layout from the file's tensors."""
    relu = lambda v: np.maximum(v, 0.0)
    x = _np_resize_tf(images.transpose(0, 3, 1, 2).astype(np.float64), 224) / 255.0
    x = (x - np.array(IMAGENET_MEAN)[:, None, None]) / np.array(IMAGENET_STD)[:, None, None]
    conv = 0
    for v in VGG_CONFIGS[16]:
        if v == "M":
            n, c, h, w = x.shape
            x = x.reshape(n, c, h // 2, 2, w // 2, 2).max(axis=(3, 5))
        else:
            conv += 1
            weight, bias = (state[f"layers.conv{conv}.{f}"].astype(np.float64) for f in ("weight", "bias"))
            x = relu(_np_conv3x3(x, weight, bias))
    x = x.reshape(len(x), -1)  # torch's flatten: (C, H, W)
    for fc in ("fc1", "fc2"):
        x = relu(x @ state[f"layers.{fc}.weight"].astype(np.float64).T + state[f"layers.{fc}.bias"])
    return x


def test_fc7_features_match_a_numpy_reference(official):
    """A 20x20 RGB image and a 32x24 greyscale one (resized to 224x224 inside, as the official
    ``resize_images=True``), from the file's weights: a wrong kernel transpose, flatten order, resize or
    normalisation fails."""
    state, _, weights = official
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (1, 20, 20, 3), dtype=np.uint8)
    grey = rng.integers(0, 256, (1, 32, 24, 1), dtype=np.uint8)
    fc7 = jax.jit(lambda w, x: nvidia_vgg16.vgg16_fc7(w, x, HIGHEST))
    for images in (rgb, grey):
        got = np.asarray(fc7(weights, images))
        expected = _numpy_fc7(state, np.broadcast_to(images, (*images.shape[:3], 3)))
        assert got.shape == (1, 4096) and (expected > 0).mean() > 0.2  # live features
        np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())
    with pytest.raises(ValueError, match="1 or 3 channels"):
        nvidia_vgg16.vgg16_fc7(weights, np.zeros((1, 8, 8, 2), np.uint8))


def test_extractor_shards_and_pads(official):
    """:class:`VGG16Extractor` gives the same fc7 as the plain function, for a batch that does not fill
    its last call, on one device."""
    _, _, weights = official
    extractor = nvidia_vgg16.VGG16Extractor(weights, batch_size=2, devices=jax.devices()[:1])
    images = np.random.default_rng(4).integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    out = extractor(images)
    assert sorted(out) == ["fc7"] and out["fc7"].shape == (3, 4096)
    np.testing.assert_allclose(
        out["fc7"], nvidia_vgg16.vgg16_fc7(weights, images, HIGHEST), rtol=1e-4, atol=1e-5
    )
    assert extractor(images[:0])["fc7"].shape == (0, 4096)


def test_lpips_from_the_same_file(official):
    """``vgg16.pt``'s LPIPS (its convolutions and ``lpips<l>`` weights) is the LPIPS of
    :mod:`gans_jax.metrics.lpips`: its input scaling ``(x / 255 - mean) / std`` is LPIPS's
    ``(x / 127.5 - 1 - shift) / scale``, and the distance matches the float64 numpy LPIPS."""
    from tests.test_metrics_lpips import _numpy_lpips

    state, _, weights = official
    x = np.linspace(0, 255, 7)[:, None]
    imagenet = (x / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)
    lpips_scaling = (x / 127.5 - 1 - np.array(lpips.LPIPS_SHIFT)) / np.array(lpips.LPIPS_SCALE)
    np.testing.assert_allclose(imagenet, lpips_scaling, rtol=1e-12, atol=1e-12)
    w = {"vgg": weights["vgg"], "lin": weights["lin"]}
    np.testing.assert_array_equal(w["lin"]["lin3"], state["lpips3"].reshape(-1))
    rng = np.random.default_rng(5)
    a = rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    b = np.clip(a + 0.3 * rng.standard_normal(a.shape), -1, 1).astype(np.float32)
    backbone, _ = lpips.lpips_state_dicts(w)
    expected = _numpy_lpips(backbone, w["lin"], a, b)
    np.testing.assert_allclose(lpips.lpips_distance(w, a, b, HIGHEST), expected, rtol=1e-4)
