"""VGG16 (configuration D) from the same VGG module as SRGAN's VGG19: parameter count, torchvision's
feature indices, feature shapes, and the torchvision-layout reader (round trip, a VGG19 file refused)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gans_jax.models.vgg import (
    VGG16,
    conv_layers,
    expected_shapes,
    feature_layers,
    load_vgg_params,
    torchvision_state_dict,
)

VGG16_CONV_PARAMS = 14_714_688  # torchvision vgg16().features: 13 convolutions, weights + biases


def random_vgg16_state_dict(layer="vgg53", seed=0) -> dict[str, np.ndarray]:
    """Random VGG16 weights in torchvision's layout (He-scaled)."""
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in expected_shapes(layer, 16).items():
        scale = np.sqrt(2.0 / (shape[1] * 9)) if len(shape) == 4 else 0.1
        out[key] = (rng.standard_normal(shape) * scale).astype(np.float32)
    return out


def test_vgg16_layers_and_parameter_count():
    assert [index for _, index, _, _ in conv_layers(16)] == [0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28]
    assert feature_layers(16)[-3:] == ("vgg51", "vgg52", "vgg53")
    params = jax.eval_shape(VGG16("vgg53").init, jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)))
    assert sum(x.size for x in jax.tree.leaves(params)) == VGG16_CONV_PARAMS
    out = jax.eval_shape(VGG16("vgg53").apply, params, jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32))
    assert len(out) == 13
    assert {k: out[k].shape for k in ("vgg12", "vgg22", "vgg33", "vgg43", "vgg53")} == {
        "vgg12": (2, 32, 32, 64),
        "vgg22": (2, 16, 16, 128),
        "vgg33": (2, 8, 8, 256),
        "vgg43": (2, 4, 4, 512),
        "vgg53": (2, 2, 2, 512),
    }
    with pytest.raises(ValueError, match="unknown VGG16 feature layer 'vgg54'"):
        VGG16("vgg54").init(jax.random.PRNGKey(0), jnp.zeros((1, 8, 8, 3)))


def test_vgg16_reader_round_trip_and_refuses_vgg19(tmp_path):
    state = random_vgg16_state_dict(seed=1)
    np.savez(tmp_path / "vgg16.npz", **state, **{"classifier.0.weight": np.zeros((2, 2), np.float32)})
    loaded = load_vgg_params(tmp_path / "vgg16.npz", "vgg53", depth=16)
    np.testing.assert_array_equal(
        loaded["params"]["conv4_1"]["kernel"][2, 0, 3, 9], state["features.17.weight"][9, 3, 2, 0]
    )
    back = torchvision_state_dict(loaded, depth=16)
    assert sorted(back) == sorted(state)
    jax.tree.map(np.testing.assert_array_equal, back, state)
    vgg19 = {**state, "features.16.weight": np.zeros((256, 256, 3, 3), np.float32)}  # conv3_4 of VGG19
    np.savez(tmp_path / "vgg19.npz", **vgg19)
    with pytest.raises(ValueError, match="unexpected tensor 'features.16.weight'.*not VGG19"):
        load_vgg_params(tmp_path / "vgg19.npz", "vgg22", depth=16)
    with pytest.raises(FileNotFoundError, match="vgg16-397923af.pth"):
        load_vgg_params(tmp_path / "missing.pth", depth=16)
