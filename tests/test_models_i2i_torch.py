"""The image-to-image networks equal PyTorch re-implementations of the authors' code (pix2pix/CycleGAN
``networks.py``: UnetGenerator, NLayerDiscriminator, ResnetGenerator; SRResNet of Ledig et al. Fig. 4)
with the same weights, ported as the module docs say (conv HWIO -> OIHW, transposed conv HWIO -> IOHW).
Eval mode, random batch-norm statistics. Skipped without torch."""

import jax
import numpy as np
import pytest

from gans_jax.models.cyclegan import ResnetGenerator
from gans_jax.models.pix2pix import PatchDiscriminator, UNetGenerator
from gans_jax.models.srgan import SRResNetGenerator
from tests.i2i_helpers import random_variables

torch = pytest.importorskip("torch")
F = torch.nn.functional


def _t(a):
    return torch.from_numpy(np.asarray(a, np.float32).copy())


def _conv(p, x, stride=1, padding=0):
    return F.conv2d(
        x, _t(p["kernel"]).permute(3, 2, 0, 1), _t(p["bias"]) if "bias" in p else None, stride, padding
    )


def _up(p, x, output_padding=0):
    w = _t(p["kernel"]).permute(2, 3, 0, 1)  # (in, out, k, k)
    b = _t(p["bias"]) if "bias" in p else None
    return F.conv_transpose2d(x, w, b, stride=2, padding=1, output_padding=output_padding)


def _bn(p, s, x):
    return F.batch_norm(x, _t(s["mean"]), _t(s["var"]), _t(p["scale"]), _t(p["bias"]), False, 0.0, 1e-5)


def _nchw(x):
    return _t(x).permute(0, 3, 1, 2)


def _check(ours, ref):
    np.testing.assert_allclose(np.asarray(ours), ref.permute(0, 2, 3, 1).numpy(), atol=2e-4, rtol=1e-3)


def test_unet_matches_authors_structure():
    """UnetSkipConnectionBlock: down = [LeakyReLU, conv, BN] (no ReLU/BN outermost, no BN innermost),
    up = [ReLU, upconv, BN (+ Dropout)], output ``cat([x, up(down(x))])``; outermost up ends in tanh."""
    x = jax.random.uniform(jax.random.PRNGKey(0), (2, 16, 16, 3), minval=-1, maxval=1)
    g = UNetGenerator(base_channels=4, test_dropout=False)
    v = random_variables(g, None, x)
    p, s = v["params"], v["batch_stats"]
    n, h, skips = 4, _conv(p["down_0"], _nchw(x), 2, 1), []
    for i in range(1, n):
        skips.append(h)
        h = _conv(p[f"down_{i}"], F.leaky_relu(h, 0.2), 2, 1)
        if i < n - 1:
            h = _bn(p[f"down_norm_{i}"], s[f"down_norm_{i}"], h)
    for j, i in enumerate(range(n - 2, -1, -1)):
        h = _bn(p[f"up_norm_{j}"], s[f"up_norm_{j}"], _up(p[f"up_{j}"], F.relu(h)))
        h = torch.cat([skips[i], h], 1)
    ref = torch.tanh(_up(p["up_out"], F.relu(h)))
    _check(jax.jit(lambda x: g.apply(v, None, x, train=False))(x), ref)


def test_patch_discriminator_matches_nlayer_discriminator():
    x = jax.random.uniform(jax.random.PRNGKey(1), (2, 32, 32, 3), minval=-1, maxval=1)
    c = jax.random.uniform(jax.random.PRNGKey(2), (2, 32, 32, 3), minval=-1, maxval=1)
    d = PatchDiscriminator(base_channels=4, n_layers=3)
    v = random_variables(d, x, c)
    p, s = v["params"], v["batch_stats"]
    h = F.leaky_relu(_conv(p["conv_0"], torch.cat([_nchw(c), _nchw(x)], 1), 2, 1), 0.2)
    for i, stride in ((1, 2), (2, 2), (3, 1)):
        h = F.leaky_relu(_bn(p[f"norm_{i}"], s[f"norm_{i}"], _conv(p[f"conv_{i}"], h, stride, 1)), 0.2)
    ref = _conv(p["conv_out"], h, 1, 1)
    _check(jax.jit(lambda x, c: d.apply(v, x, c, train=False))(x, c)[..., None], ref)


def test_resnet_generator_matches_authors_structure():
    x = jax.random.uniform(jax.random.PRNGKey(3), (2, 16, 16, 3), minval=-1, maxval=1)
    g = ResnetGenerator(base_channels=4, n_blocks=2)
    v = random_variables(g, x)
    p = v["params"]
    pad = lambda h, k: F.pad(h, (k, k, k, k), mode="reflect")
    h = F.relu(F.instance_norm(_conv(p["c7s1_in"], pad(_nchw(x), 3)), eps=1e-5))
    for i in range(2):
        h = F.relu(F.instance_norm(_conv(p[f"down_{i}"], h, 2, 1), eps=1e-5))
    for i in range(2):
        b = p[f"block_{i}"]
        t = F.relu(F.instance_norm(_conv(b["conv_0"], pad(h, 1)), eps=1e-5))
        h = h + F.instance_norm(_conv(b["conv_1"], pad(t, 1)), eps=1e-5)
    for i in range(2):
        h = F.relu(F.instance_norm(_up(p[f"up_{i}"], h, output_padding=1), eps=1e-5))
    ref = torch.tanh(_conv(p["c7s1_out"], pad(h, 3)))
    _check(jax.jit(lambda x: g.apply(v, x, train=False))(x), ref)


def test_srresnet_matches_figure_4():
    lr = jax.random.uniform(jax.random.PRNGKey(4), (2, 6, 6, 3), minval=-1, maxval=1)
    g = SRResNetGenerator(base_channels=8, num_blocks=2)
    v = random_variables(g, None, lr)
    p, s = v["params"], v["batch_stats"]
    v["params"] = p = jax.tree.map(lambda a: a, p)
    for name in p:  # distinct slopes per PReLU
        if "prelu" in name:
            p[name]["negative_slope"] = np.float32(0.1 + 0.05 * len(name))
    prelu = lambda name, h: F.prelu(h, _t(p[name]["negative_slope"]).reshape(1))
    bn = lambda name, h: _bn(p[name], s[name], h)
    skip = h = prelu("prelu_in", _conv(p["conv_in"], _nchw(lr), 1, 4))
    for i in range(2):
        t = prelu(f"block_{i}_prelu", bn(f"block_{i}_bn_0", _conv(p[f"block_{i}_conv_0"], h, 1, 1)))
        h = h + bn(f"block_{i}_bn_1", _conv(p[f"block_{i}_conv_1"], t, 1, 1))
    h = skip + bn("bn_mid", _conv(p["conv_mid"], h, 1, 1))
    for i in range(2):
        h = prelu(f"up_{i}_prelu", F.pixel_shuffle(_conv(p[f"up_{i}_conv"], h, 1, 1), 2))
    ref = torch.tanh(_conv(p["conv_out"], h, 1, 4))
    _check(jax.jit(lambda x: g.apply(v, None, x, train=False))(lr), ref)
