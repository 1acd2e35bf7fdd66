"""VGG19 features equal PyTorch's: a plain-torch ``vgg19().features`` Sequential (the same layers and
indices as torchvision's, written out here because torchvision is not installed), randomly initialised,
saved with ``torch.save`` in torchvision's key layout (``features.<index>.weight``), read back without
torch by :func:`gans_jax.models.vgg.load_vgg19_params`, and run on the same images through torchvision's
preprocessing. Skipped without torch."""

import jax
import numpy as np
import pytest

from gans_jax.models.vgg import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG19,
    VGG19_CONFIG,
    load_vgg19_params,
    preprocess,
    vgg_feature_fn,
)

torch = pytest.importorskip("torch")
nn = torch.nn

# Output index in the Sequential of relu<i>_<j> (the ReLU right after conv<i>_<j>).
RELU_INDEX = {"vgg12": 3, "vgg22": 8, "vgg54": 35}


def torch_vgg19_features() -> nn.Sequential:
    """torchvision's ``vgg19().features`` (``make_layers(cfgs["E"])``), layer for layer."""
    layers, cin = [], 3
    for v in VGG19_CONFIG:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(cin, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    return nn.Sequential(*layers)


class TorchVGG(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch_vgg19_features()

    def forward(self, x, upto):
        return self.features[: upto + 1](x)


@pytest.fixture(scope="module")
def torch_model_and_file(tmp_path_factory):
    torch.manual_seed(0)
    model = TorchVGG().eval()
    with torch.no_grad():  # biases large enough that they matter (PyTorch's default is small)
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                m.bias.uniform_(-0.2, 0.2)
    folder = tmp_path_factory.mktemp("vgg")
    torch.save(model.state_dict(), folder / "vgg19-zip.pth")
    # torchvision's vgg19-dcbb9e9d.pth (2017) predates torch 1.6's zip format: the legacy format too.
    torch.save(model.state_dict(), folder / "vgg19-legacy.pth", _use_new_zipfile_serialization=False)
    return model, folder


def _torch_features(model, images, layer):
    x = (torch.from_numpy(images).permute(0, 3, 1, 2).double() + 1) / 2  # [-1, 1] -> [0, 1]
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)
    with torch.no_grad():
        out = model.double()(((x - mean) / std), RELU_INDEX[layer])
    return out.permute(0, 2, 3, 1).numpy()


@pytest.mark.parametrize("layer, file", [("vgg22", "vgg19-zip.pth"), ("vgg54", "vgg19-legacy.pth")])
def test_features_match_torch(torch_model_and_file, layer, file):
    model, folder = torch_model_and_file
    path = folder / file
    assert sorted(model.state_dict())[:2] == ["features.0.bias", "features.0.weight"]
    images = np.random.default_rng(1).uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
    reference = _torch_features(model, images, layer)  # float64
    params = load_vgg19_params(path, layer)
    ours = VGG19(layer, precision=jax.lax.Precision.HIGHEST).apply(params, preprocess(images))[layer]
    ours = np.asarray(ours, np.float64)
    assert ours.shape == reference.shape == {"vgg22": (2, 16, 16, 128), "vgg54": (2, 2, 2, 512)}[layer]
    error = np.linalg.norm(ours - reference) / np.linalg.norm(reference)
    print(f"{layer} from {file}: relative error {error:.2e} against torch (float64)")
    assert error < 1e-5
    assert np.abs(reference).max() > 1e-2  # a non-trivial comparison
    phi = vgg_feature_fn(path, layer, precision=jax.lax.Precision.HIGHEST)
    np.testing.assert_allclose(phi(images), ours / 12.75, rtol=2e-5, atol=1e-6)


def test_content_loss_gradient_matches_torch(torch_model_and_file):
    """The gradient of SRGAN's VGG22 content loss with respect to the generated image, as torch's
    autograd computes it (through the ImageNet normalisation and a max-pooling)."""
    model, folder = torch_model_and_file
    rng = np.random.default_rng(2)
    fake, real = (rng.uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32) for _ in range(2))
    phi = vgg_feature_fn(folder / "vgg19-zip.pth", "vgg22", precision=jax.lax.Precision.HIGHEST)
    target = phi(real)
    ours = jax.grad(lambda x: jax.numpy.mean(jax.numpy.square(phi(x) - target)))(fake)

    model = model.double()
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float64).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float64).view(1, 3, 1, 1)

    def torch_phi(x):
        return model(((x.permute(0, 3, 1, 2) + 1) / 2 - mean) / std, RELU_INDEX["vgg22"]) / 12.75

    x = torch.from_numpy(fake).double().requires_grad_(True)
    with torch.no_grad():
        t = torch_phi(torch.from_numpy(real).double())
    torch.mean(torch.square(torch_phi(x) - t)).backward()
    reference = x.grad.numpy()
    error = np.linalg.norm(np.asarray(ours, np.float64) - reference) / np.linalg.norm(reference)
    print(f"content-loss gradient: relative error {error:.2e} against torch (float64)")
    assert error < 1e-5
