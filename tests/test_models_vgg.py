"""VGG19 features for SRGAN's content loss: architecture (parameter count, shapes), torchvision-layout
weights (round trip, errors), numbers against an independent numpy reference, and the config path
through one SRGAN train step. None of this needs torch (see test_models_vgg_torch.py for parity)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from gans_jax.models.vgg import (
    CONV_LAYERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    SRGAN_RESCALE,
    VGG19,
    WEIGHTS_FILE,
    expected_shapes,
    load_vgg19_params,
    preprocess,
    torchvision_state_dict,
    vgg_feature_fn,
)
from gans_jax.training.state import GAN
from tests.i2i_helpers import PairD, PixelG

VGG19_CONV_PARAMS = 20_024_384  # torchvision vgg19().features: 16 convolutions, weights + biases


def _abstract_params(layer="vgg54", size=32):
    return jax.eval_shape(VGG19(layer).init, jax.random.PRNGKey(0), jnp.zeros((1, size, size, 3)))


def random_state_dict(layer="vgg54", seed=0) -> dict[str, np.ndarray]:
    """Random VGG19 weights in torchvision's layout (He-scaled, so activations stay O(1))."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in expected_shapes(layer).items():
        scale = np.sqrt(2.0 / (shape[1] * 9)) if len(shape) == 4 else 0.1
        out[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return out


def write_npz(path, state):
    np.savez(path, **state)
    return str(path)


def test_parameter_count_up_to_conv5_4_is_vgg19s():
    params = _abstract_params("vgg54")
    assert sum(x.size for x in jax.tree.leaves(params)) == VGG19_CONV_PARAMS
    assert sum(int(np.prod(s)) for s in expected_shapes("vgg54").values()) == VGG19_CONV_PARAMS
    # Only the layers up to the requested one exist: conv1_1 .. conv2_2 for phi_{2,2}.
    small = _abstract_params("vgg22")["params"]
    assert sorted(small) == ["conv1_1", "conv1_2", "conv2_1", "conv2_2"]
    assert sum(x.size for x in jax.tree.leaves(small)) == 1792 + 36928 + 73856 + 147584
    indices = [index for _, index, _, _ in CONV_LAYERS]  # torchvision's vgg19().features
    assert indices == [0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34]


def test_feature_shapes_at_32x32():
    x = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
    out = jax.eval_shape(VGG19("vgg22").apply, _abstract_params("vgg22"), x)
    assert {k: v.shape for k, v in out.items()} == {
        "vgg11": (2, 32, 32, 64),
        "vgg12": (2, 32, 32, 64),
        "vgg21": (2, 16, 16, 128),
        "vgg22": (2, 16, 16, 128),
    }
    out = jax.eval_shape(VGG19("vgg54").apply, _abstract_params("vgg54"), x)
    assert out["vgg54"].shape == (2, 2, 2, 512) and out["vgg34"].shape == (2, 8, 8, 256)
    assert len(out) == 16
    with pytest.raises(ValueError, match="'vgg55'"):
        VGG19("vgg55").init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)))


def test_torchvision_npz_round_trip(tmp_path):
    """torchvision-layout tensors -> npz -> the module's parameter tree (HWIO) -> the same tensors."""
    state = random_state_dict("vgg54", seed=1)
    path = write_npz(tmp_path / "vgg19.npz", {**state, "classifier.0.weight": np.zeros((4, 3), np.float32)})
    loaded = load_vgg19_params(path)  # the classifier's tensors are ignored
    abstract = _abstract_params("vgg54")
    assert jax.tree.structure(loaded) == jax.tree.structure(abstract)
    assert jax.tree.map(np.shape, loaded) == jax.tree.map(lambda v: v.shape, abstract)
    kernel = loaded["params"]["conv3_2"]["kernel"]  # features.12: HWIO from OIHW
    np.testing.assert_array_equal(kernel[1, 2, 5, 7], state["features.12.weight"][7, 5, 1, 2])
    back = torchvision_state_dict(loaded)
    assert sorted(back) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(back[key], value, err_msg=key)
    # A prefix of the layers loads alone (and from a file holding only that prefix).
    small = load_vgg19_params(path, "vgg22")
    assert sorted(small["params"]) == ["conv1_1", "conv1_2", "conv2_1", "conv2_2"]
    truncated = write_npz(tmp_path / "vgg22.npz", {k: state[k] for k in expected_shapes("vgg22")})
    jax.tree.map(np.testing.assert_array_equal, load_vgg19_params(truncated, "vgg22"), small)
    # The module's own initial parameters survive the trip through torchvision's layout.
    init = VGG19("vgg22").init(jax.random.PRNGKey(2), jnp.zeros((1, 8, 8, 3)))
    saved = write_npz(tmp_path / "init.npz", torchvision_state_dict(init))
    jax.tree.map(np.testing.assert_array_equal, load_vgg19_params(saved, "vgg22"), init)


def test_weight_errors_name_the_file_the_key_and_the_shape(tmp_path):
    state = random_state_dict("vgg22")
    with pytest.raises(FileNotFoundError, match=f"nowhere.pth.*{WEIGHTS_FILE}"):
        load_vgg19_params(tmp_path / "nowhere.pth")
    with pytest.raises(ValueError, match="no VGG19 weights path"):
        vgg_feature_fn("", "vgg22")
    truncated = write_npz(tmp_path / "vgg22.npz", state)
    missing = r"vgg22.npz: missing features.10.weight of shape \(256, 128, 3, 3\)"
    with pytest.raises(ValueError, match=missing):
        load_vgg19_params(truncated, "vgg54")
    bad = dict(state, **{"features.5.weight": state["features.5.weight"][:, :32]})
    wrong = r"bad_shape.npz: features.5.weight has shape \(128, 32, 3, 3\), expected \(128, 64, 3, 3\)"
    with pytest.raises(ValueError, match=wrong):
        load_vgg19_params(write_npz(tmp_path / "bad_shape.npz", bad), "vgg22")
    shifted = dict(state, **{"features.1.weight": state["features.0.weight"]})  # a batch-norm VGG's layout
    with pytest.raises(ValueError, match="unexpected tensor 'features.1.weight'"):
        load_vgg19_params(write_npz(tmp_path / "vgg19_bn.npz", shifted), "vgg22")
    with pytest.raises(ValueError, match="not a torch file"):
        (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
        load_vgg19_params(tmp_path / "junk.pth", "vgg22")


def _np_conv3x3(x, weight, bias):
    """Cross-correlation as torch's Conv2d(padding=1): x NCHW, weight OIHW."""
    n, c, h, w = x.shape
    xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    out = np.zeros((n, weight.shape[0], h, w), np.float64) + bias[None, :, None, None]
    for dy in range(3):
        for dx in range(3):
            out += np.einsum("nchw,oc->nohw", xp[:, :, dy : dy + h, dx : dx + w], weight[:, :, dy, dx])
    return out


def test_first_blocks_match_an_independent_numpy_reference(tmp_path):
    """relu1_2 and relu2_1 (across the first max-pooling) from a numpy NCHW/OIHW computation of the same
    torchvision-layout weights, including the ImageNet normalisation of [-1, 1] images. Random kernels
    are not symmetric, so a wrong OIHW -> HWIO transpose (or a flipped kernel) fails."""
    state = random_state_dict("vgg22", seed=3)
    path = write_npz(tmp_path / "vgg.npz", state)
    images = np.random.default_rng(4).uniform(-1, 1, (2, 10, 10, 3)).astype(np.float32)

    x = (images.astype(np.float64) + 1) / 2
    x = ((x - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(preprocess(images), x.transpose(0, 2, 3, 1), rtol=1e-6, atol=1e-6)
    relu = lambda v: np.maximum(v, 0.0)
    h11 = relu(_np_conv3x3(x, state["features.0.weight"], state["features.0.bias"]))
    h12 = relu(_np_conv3x3(h11, state["features.2.weight"], state["features.2.bias"]))
    pooled = h12.reshape(2, 64, 5, 2, 5, 2).max(axis=(3, 5))
    h21 = relu(_np_conv3x3(pooled, state["features.5.weight"], state["features.5.bias"]))

    params = load_vgg19_params(path, "vgg22")
    out = VGG19("vgg21", precision=jax.lax.Precision.HIGHEST).apply(params, preprocess(images))
    np.testing.assert_allclose(out["vgg12"], h12.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(out["vgg21"], h21.transpose(0, 2, 3, 1), rtol=1e-5, atol=1e-5)
    assert np.abs(h21).max() > 0.1  # not a trivially small comparison

    # The feature map phi of the content loss: that map / 12.75; greyscale is repeated to RGB.
    phi = vgg_feature_fn(path, "vgg22", precision=jax.lax.Precision.HIGHEST)
    full = VGG19("vgg22", precision=jax.lax.Precision.HIGHEST).apply(params, preprocess(images))["vgg22"]
    np.testing.assert_allclose(phi(images), full * SRGAN_RESCALE, rtol=1e-6)
    grey = images[..., :1]
    np.testing.assert_allclose(phi(grey), phi(np.repeat(grey, 3, axis=-1)), rtol=1e-6)
    grads = jax.grad(lambda v: jnp.sum(phi(v)))(jnp.asarray(images))
    assert grads.shape == images.shape and np.isfinite(grads).all() and np.abs(grads).max() > 0


def test_srgan_config_with_vgg22_content_runs_train_steps(tmp_path):
    """``srgan_folder:tiny`` with ``auxiliary_losses.content = dict(features="vgg22", weights=<npz>)``:
    the config's train step (objective, 1e-3 adversarial weight, content loss through
    ``auxiliary_loss_kwargs``) logs a finite ``g_aux_content`` equal to the VGG22 MSE of G's output, and
    trains. Stand-in 1x1-convolution networks keep it fast (SRResNet's own step is covered by
    test_learns_translation.py)."""
    from gans_jax import builders
    from tests.helpers import experiment_config

    path = write_npz(tmp_path / "vgg.npz", random_state_dict("vgg22", seed=5))
    config = experiment_config("srgan_folder:tiny")
    config.auxiliary_losses = {"content": dict(weight=1.0, features="vgg22", weights=path)}
    gan = GAN(
        PixelG(channels=3),
        PairD(),
        optax.adam(1e-2),
        optax.adam(1e-2),
        latent_shape=(),
        translation="paired",
        condition_shape=(16, 16, 3),
    )
    step = jax.jit(builders.build_train_step(config, gan))
    state = gan.init_state(jax.random.PRNGKey(0), (16, 16, 3))
    k1, k2 = jax.random.split(jax.random.PRNGKey(1))
    image = jax.random.uniform(k1, (4, 16, 16, 3), minval=-1, maxval=1)
    batch = {"image": image, "condition": 0.5 * image + 0.1 * jax.random.normal(k2, image.shape)}
    phi = vgg_feature_fn(path, "vgg22")

    @jax.jit
    def vgg_mse(g_params, batch):
        fake = gan.generator.apply({"params": g_params}, None, batch["condition"])
        return jnp.mean(jnp.square(phi(fake) - phi(batch["image"])))

    losses = []
    for _ in range(3):
        expected = vgg_mse(state.g_params, batch)
        state, metrics = step(state, batch)
        assert np.isfinite(metrics["g_aux_content"]) and float(metrics["g_aux_content"]) > 0
        np.testing.assert_allclose(metrics["g_aux_content"], expected, rtol=1e-4)
        losses.append(float(metrics["g_aux_content"]))
    assert losses[-1] < losses[0]  # G descends the VGG content loss


def test_config_refuses_vgg_features_without_weights(tmp_path):
    from gans_jax.builders import auxiliary_loss_kwargs
    from tests.helpers import experiment_config

    config = experiment_config("srgan_folder:tiny")
    for spec in ({"features": "vgg54"}, {"features": "vgg54", "weights": ""}):
        with pytest.raises(ValueError, match=f"needs auxiliary_losses.content.weights.*{WEIGHTS_FILE}"):
            auxiliary_loss_kwargs(config, "content", {"weight": 1.0, **spec})
    with pytest.raises(ValueError, match="only used with VGG features"):
        auxiliary_loss_kwargs(config, "content", {"weight": 1.0, "features": "pixel", "weights": "x.pth"})
    with pytest.raises(FileNotFoundError, match="missing.pth"):
        missing = {"weight": 1.0, "features": "vgg22", "weights": "missing.pth"}
        auxiliary_loss_kwargs(config, "content", missing)
    path = write_npz(tmp_path / "vgg.npz", random_state_dict("vgg22"))
    given = {"weight": 1.0, "features": "vgg22", "weights": path, "rescale": 1}
    spec = auxiliary_loss_kwargs(config, "content", given)
    assert sorted(spec) == ["features", "weight"]
    out = jax.eval_shape(spec["features"], jax.ShapeDtypeStruct((2, 32, 32, 1), jnp.float32))
    assert out.shape == (2, 16, 16, 128)
