# %% [markdown]
# # Metrics: FID, KID, IS and precision/recall
#
# gans-jax computes the standard sample-quality metrics on a JAX port of the FID Inception network
# (matching the reference TorchScript network to 7e-6 relative per sample). This notebook:
#
# 1. computes the Inception statistics of a folder of images, and the FID between two folders;
# 2. computes KID, IS and precision/recall of a trained generator;
# 3. shows how FID moves as the samples are perturbed: noise, blur, dropped classes;
# 4. shows how many samples FID needs: its bias at small sample sizes.
#
# The Inception weights are found where the metrics code looks for them (`make weights` in a checkout
# puts them in `.cache/weights/`); on Colab the next cells download pytorch-fid's weights file, which
# also carries the logits the Inception Score needs.

# %% [setup]

# %% [markdown]
# ## Parameters
#
# Every image through Inception is resized to 299x299, so the cost is per image, whatever its size:
# about 15 images/s on 2 CPU cores (measured: 32 in 2.2 s, once compiled), over 1,000 images/s on a
# Colab GPU. The default (about two minutes on a Colab GPU; about 20 minutes on 2 CPU cores, for some
# 16,500 images) uses every real digit and 10,000 generated ones. `FAST=1` (the tests) uses a few dozen
# images per set: every number below is then dominated by small-sample bias (section 4 says how much),
# but the directions of the effects still show.

# %% tags=["parameters"]
import os

FAST = os.environ.get("FAST", "0") == "1"
NUM_REF = 32 if FAST else 1437  # real training digits (folder A)
NUM_HELD_OUT = 16 if FAST else 360  # real test digits (folder B)
NUM_GEN = 32 if FAST else 10_000  # generated digits
TRAIN_STEPS = 400 if FAST else 1500
NOISE = [0.0, 0.5] if FAST else [0.0, 0.1, 0.2, 0.4, 0.8]  # std of added Gaussian noise (images in [-1, 1])
BLUR = [0.0, 1.5] if FAST else [0.0, 0.5, 1.0, 1.5, 2.0]  # Gaussian blur sigma, pixels
DROPPED = [0, 5] if FAST else [0, 2, 4, 6, 8]  # classes missing from the sample
SIZES = [8, 16, 32] if FAST else [1000, 5000, 10_000]  # sample sizes of the bias study
BATCH = 16 if FAST else 200  # images per Inception call

# %% [markdown]
# ## The Inception weights
#
# `find_weights_file` looks in `$GANS_JAX_INCEPTION_WEIGHTS`, gans-jax's cache, `./.cache/weights` and the
# checkout's `.cache/weights`, and torch hub's checkpoint folder. When nothing is there (a fresh Colab
# runtime) we download pytorch-fid's file into torch hub's folder, one of those places.

# %%
import urllib.request

from gans_jax.metrics import inception_weights

try:
    weights_path = inception_weights.find_weights_file()
except inception_weights.MissingWeightsError:
    url = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/pt_inception-2015-12-05-6726825d.pth"
    folder = os.path.join(os.path.expanduser("~"), ".cache", "torch", "hub", "checkpoints")
    os.makedirs(folder, exist_ok=True)
    urllib.request.urlretrieve(url, os.path.join(folder, os.path.basename(url)))
    weights_path = inception_weights.find_weights_file()
print("Inception weights:", weights_path)

# %% [markdown]
# ## 1. Statistics of a folder, FID between two folders
#
# FID (Heusel et al. 2017) compares two sets of images through the mean and covariance of their 2048
# Inception pool3 features. We write two folders of real digits (16x16 PNGs): A from the training split,
# B from the held-out split. `stats_of_path` streams a folder (or zip) through the extractor into
# `FeatureStats`; `save_stats` writes them as the `mu`/`sigma` npz that `gans-jax fid` and pytorch-fid
# read. Both are samples of the same distribution, so their FID is small, apart from sampling error.

# %%
import tempfile
import time

import jax
import matplotlib.pyplot as plt
import numpy as np
from PIL import Image

from gans_jax.data.digits import load_digits_dataset
from gans_jax.metrics.commands import stats_of_path
from gans_jax.metrics.features import InceptionExtractor, images_to_uint8
from gans_jax.metrics.fid import FeatureStats, frechet_distance, load_stats, save_stats
from gans_jax.visualize import image_grid

root = tempfile.mkdtemp(prefix="gans_jax_metrics_")
train_digits = load_digits_dataset(16, "train")
test_digits = load_digits_dataset(16, "test")
for name, images in (("a", train_digits["image"][:NUM_REF]), ("b", test_digits["image"][:NUM_HELD_OUT])):
    os.makedirs(os.path.join(root, name))
    for i, img in enumerate(images_to_uint8(images)):
        Image.fromarray(img[..., 0]).save(os.path.join(root, name, f"{i:05d}.png"))

extractor = InceptionExtractor(weights_path, batch_size=BATCH)
start = time.perf_counter()
stats_a = stats_of_path(os.path.join(root, "a"), extractor, batch_size=BATCH, progress=False)
save_stats(os.path.join(root, "a.npz"), stats_a)
mu_a, sigma_a, _ = load_stats(os.path.join(root, "a.npz"))
folder_b = sorted(os.listdir(os.path.join(root, "b")))
images_b = np.stack([np.asarray(Image.open(os.path.join(root, "b", n))) for n in folder_b])[..., None]
feats_b = extractor(images_b)["pool3"]
stats_b = FeatureStats(2048).update(feats_b)
print(f"{stats_a.num} + {stats_b.num} images through Inception in {time.perf_counter() - start:.1f} s")
fid_ab = frechet_distance(mu_a, sigma_a, stats_b.mu, stats_b.sigma)
print(f"FID(folder A, folder B) = {fid_ab:.2f}")

fig, axes = plt.subplots(1, 2, figsize=(8, 2.6))
for ax, (title, imgs) in zip(  # noqa: B905
    axes,
    (("folder A (train)", train_digits["image"][:24]), ("folder B (held out)", images_b[:24] / 127.5 - 1)),
):
    ax.imshow(image_grid(np.asarray(imgs), ncols=12)[..., 0], cmap="gray")
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %% [markdown]
# ## 2. KID, IS and precision/recall of a trained generator
#
# We train the class-conditional DCGAN of the quickstart (`experiments/dcgan_digits.py`) briefly and draw
# `NUM_GEN` samples with uniformly random classes.
#
# - **FID** against folder A's statistics.
# - **KID** (Binkowski et al. 2018): the unbiased squared MMD of a cubic polynomial kernel on the same
#   features, averaged over subsets; unlike FID it has no bias at small sample sizes.
# - **Precision/recall** (Kynkaanniemi et al. 2019): the fraction of generated samples inside the k-NN
#   manifold of the real ones (quality), and of real samples inside the generated manifold (coverage).
# - **IS** (Salimans et al. 2016) needs the network's class logits, which only some weights files carry.
#
# With `FAST`, the generator has trained for a few hundred steps and the sets hold a few dozen images:
# expect a large FID and KID, and precision and recall near 0 (each k-NN ball around so few points is
# small).

# %%
import gans_jax
from gans_jax import builders, configs
from gans_jax.metrics.inception_score import inception_score
from gans_jax.metrics.kid import kernel_inception_distance
from gans_jax.metrics.precision_recall import precision_recall
from gans_jax.train import train

experiments = os.path.join(os.path.dirname(os.path.dirname(gans_jax.__file__)), "experiments")
config = configs.load_config(
    os.path.join(experiments, "dcgan_digits.py"),
    {"train.steps": TRAIN_STEPS, "train.sample_every": TRAIN_STEPS, "train.checkpoint_every": TRAIN_STEPS},
)
workdir = os.path.join(root, "run")

state, final = train(config, workdir, progress=False)
_, gan, _ = builders.load_run(workdir)
print(f"trained {TRAIN_STEPS} steps: class_agreement {final['class_agreement']:.3f}")

generate = jax.jit(lambda z, y: gan.generate(state, z, y))
generated = []
for i in range(0, NUM_GEN, 500):
    key = jax.random.fold_in(jax.random.PRNGKey(123), i)
    n = min(500, NUM_GEN - i)
    generated.append(
        np.asarray(generate(gan.sample_latents(key, n), gan.sample_labels(jax.random.fold_in(key, 1), n)))
    )
generated = np.concatenate(generated)
start = time.perf_counter()
out_gen = extractor(images_to_uint8(generated))
feats_gen = out_gen["pool3"]
print(f"{len(generated)} generated images through Inception in {time.perf_counter() - start:.1f} s")

stats_gen = FeatureStats(2048).update(feats_gen)
fid_gen = frechet_distance(mu_a, sigma_a, stats_gen.mu, stats_gen.sigma)
subset = min(1000, len(feats_b), len(feats_gen))
kid = kernel_inception_distance(feats_b, feats_gen, subset_size=subset)
kid_real = kernel_inception_distance(
    feats_b, extractor(images_to_uint8(train_digits["image"][: len(feats_b)]))["pool3"], subset_size=subset
)
pr = precision_recall(feats_b, feats_gen, k=3)
print(f"FID(generated, A) = {fid_gen:.2f}   (real B against A: {fid_ab:.2f})")
print(f"KID(generated, B) = {kid['kid']:.4f} +- {kid['kid_std']:.4f}", end="   ")
print(f"(real train digits against B: {kid_real['kid']:.4f})")
print(f"precision = {pr['precision']:.3f}   recall = {pr['recall']:.3f}   (k = 3)")
if extractor.has_logits:
    score = inception_score(out_gen["logits_unbiased"], num_splits=10 if len(generated) >= 1000 else 1)
    print(f"IS = {score['inception_score']:.2f}")
else:
    print(
        f"IS: not computed, {weights_path.name} has pool3 features only (no logits); "
        "NVIDIA's inception-2015-12-05.pt or pytorch-fid's pt_inception-*.pth have them"
    )

plt.figure(figsize=(8, 1.6))
plt.imshow(image_grid(generated[:24], ncols=12)[..., 0], cmap="gray")
plt.title(f"generated digits after {TRAIN_STEPS} steps")
plt.axis("off")
plt.show()

# %% [markdown]
# ## 3. How FID moves as the samples are perturbed
#
# Starting from the held-out real digits (folder B), we add Gaussian noise, blur them, or drop whole
# classes (resampling the missing ones from the remaining classes, so the sample size stays the same), and
# compute FID against folder A's statistics. Noise and blur damage every image a little; dropping classes
# leaves each image perfect but the set less diverse. FID grows with each, which is why it is used as a
# single number for both quality and diversity.

# %%
from scipy.ndimage import gaussian_filter

clean = test_digits["image"][:NUM_HELD_OUT]
labels_b = test_digits["label"][:NUM_HELD_OUT]
rng = np.random.default_rng(0)


def noisy(level):
    return np.clip(clean + level * rng.standard_normal(clean.shape).astype(np.float32), -1, 1)


def blurred(level):
    return np.stack([gaussian_filter(img, sigma=(level, level, 0)) for img in clean]) if level else clean


pool = test_digits["image"]  # all held-out digits, to refill the dropped classes


def dropped(k):
    kept = pool[test_digits["label"] >= k]  # classes 0 .. k-1 are missing
    return kept[rng.choice(len(kept), len(clean), replace=False)] if k else clean


def fid_to_a(images):
    stats = FeatureStats(2048).update(extractor(images_to_uint8(images))["pool3"])
    return frechet_distance(mu_a, sigma_a, stats.mu, stats.sigma)


baseline = frechet_distance(mu_a, sigma_a, stats_b.mu, stats_b.sigma)
curves, examples = {}, {}
start = time.perf_counter()
for name, fn, levels in (
    ("noise std", noisy, NOISE),
    ("blur sigma", blurred, BLUR),
    ("classes dropped", dropped, DROPPED),
):
    curves[name] = [baseline if level == 0 else fid_to_a(fn(level)) for level in levels]
    examples[name] = fn(levels[-1])[:12]
    pairs = zip(levels, curves[name], strict=True)
    print(f"{name:16s}", "   ".join(f"{level:g}: FID {fid:.1f}" for level, fid in pairs))
print(f"perturbations in {time.perf_counter() - start:.1f} s")

fig, axes = plt.subplots(1, 3, figsize=(13, 3.2))
for ax, (name, levels) in zip(  # noqa: B905
    axes, (("noise std", NOISE), ("blur sigma", BLUR), ("classes dropped", DROPPED))
):
    ax.plot(levels, curves[name], "o-")
    ax.set_xlabel(name)
    ax.set_ylabel("FID against folder A")
    ax.set_title(f"FID vs {name}")
plt.tight_layout()
plt.show()
fig, axes = plt.subplots(3, 1, figsize=(8, 3.6))
for ax, (name, imgs) in zip(axes, examples.items(), strict=True):
    ax.imshow(image_grid(np.asarray(imgs), ncols=12)[..., 0], cmap="gray", vmin=0, vmax=255)
    strongest = {"noise std": NOISE[-1], "blur sigma": BLUR[-1], "classes dropped": DROPPED[-1]}[name]
    ax.set_title(f"{name} = {strongest}", fontsize=9)
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. How many samples FID needs
#
# FID's estimate from N samples is biased upwards, by roughly a constant over N (Chong & Forsyth 2020):
# the same generator scores worse on fewer samples, so FIDs are only comparable at the same N (hence
# `fid50k`). We compute FID of the first N generated samples against folder A for growing N, and fit
# FID = FID_inf + c / N: the intercept estimates the infinite-sample FID. KID, an unbiased estimator,
# barely moves with N.

# %%
fids, kids = [], []
for n in SIZES:
    s = FeatureStats(2048).update(feats_gen[:n])
    fids.append(frechet_distance(mu_a, sigma_a, s.mu, s.sigma))
    kids.append(
        kernel_inception_distance(feats_b, feats_gen[:n], subset_size=min(1000, n, len(feats_b)))["kid"]
    )
slope, intercept = np.polyfit(1.0 / np.array(SIZES), fids, 1)
for n, f, k in zip(SIZES, fids, kids, strict=True):
    print(f"N = {n:6d}: FID {f:8.2f}   KID {k:.4f}")
print(f"fit FID = {intercept:.2f} + {slope:.1f} / N")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.4))
ax1.plot(SIZES, fids, "o-", label="FID of N samples")
ax1.axhline(intercept, color="gray", ls="--", label=f"fitted FID at N = inf ({intercept:.1f})")
ax1.set_xlabel("N generated samples")
ax1.set_ylabel("FID")
ax1.set_ylim(0, 1.2 * max(fids))
ax1.legend()
ax1.set_title("FID is biased at small N")
ax2.plot(SIZES, kids, "o-", color="tab:green")
ax2.set_xlabel("N generated samples")
ax2.set_ylabel("KID")
ax2.set_ylim(min(0.0, min(kids)), 1.5 * max(max(kids), 1e-3))  # from 0: on the scale of FID's plot
ax2.set_title("KID (unbiased)")
plt.tight_layout()
plt.show()
