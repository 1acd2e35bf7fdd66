# %% [markdown]
# # gans-jax quickstart: a class-conditional DCGAN on digits
#
# This notebook installs gans-jax, trains the library's demo experiment (`experiments/dcgan_digits.py`:
# a class-conditional DCGAN on scikit-learn's 1,437 bundled training digits, upscaled to 16x16), and
# then looks at what it learnt: sample grids as training goes on, the loss curves, a digits classifier's
# verdict on the samples, chosen digits, a latent interpolation, and saving and reloading the run.
#
# Nothing is downloaded besides the package itself: the data ships with scikit-learn.

# %% [setup]

# %% [markdown]
# ## Parameters
#
# `FAST` (set by the environment variable `FAST=1`, as the tests do) trains for 600 steps instead of
# the demo's 1,500. The default takes about 15 s on a Colab GPU and about 45 s on 2 CPU cores; FAST about
# 35 s there, most of it compiling (measured: the train step then runs about 75 steps/s).

# %% tags=["parameters"]
import os

FAST = os.environ.get("FAST", "0") == "1"
STEPS = 600 if FAST else 1500
SAMPLE_EVERY = 150 if FAST else 300
WORKDIR = os.path.abspath(os.path.join("runs", "colab_quickstart"))

# %% [markdown]
# ## Train
#
# An experiment is an `ml_collections` config returned by `get_config()` in `experiments/`;
# `load_config` reads it and applies dotted overrides, exactly as `gans-jax train --config.train.steps=...`
# does on the command line. `gans_jax.train.train` runs the training loop: it writes checkpoints, a
# sample grid every `sample_every` steps (same latents and labels each time), `metrics.jsonl` and,
# at the end, `metrics.json` with the evaluation.

# %%
import json
import shutil
import time

import gans_jax
from gans_jax import configs
from gans_jax.train import train

experiments = os.path.join(os.path.dirname(os.path.dirname(gans_jax.__file__)), "experiments")
config = configs.load_config(
    os.path.join(experiments, "dcgan_digits.py"),
    {"train.steps": STEPS, "train.sample_every": SAMPLE_EVERY, "train.checkpoint_every": STEPS},
)
shutil.rmtree(WORKDIR, ignore_errors=True)
start = time.perf_counter()
state, final = train(config, WORKDIR, progress=False)
print(f"trained {STEPS} steps in {time.perf_counter() - start:.1f} s")
print(json.dumps(final))

# %% [markdown]
# ## The samples as training goes on
#
# Each grid below is the EMA generator on the same 100 latents: **one row per digit class 0-9**.
# Early grids are blobs; the digits take shape over a few hundred steps.

# %%
import glob

import matplotlib.pyplot as plt
from PIL import Image

grids = sorted(glob.glob(os.path.join(WORKDIR, "samples", "step_*_ema.png")))
fig, axes = plt.subplots(1, len(grids), figsize=(3.2 * len(grids), 3.4))
for ax, path in zip(axes, grids, strict=True):
    ax.imshow(Image.open(path), cmap="gray")
    ax.set_title(f"step {int(os.path.basename(path).split('_')[1])}")
    ax.axis("off")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Loss curves
#
# `metrics.jsonl` holds one line per `log_every` steps: the discriminator's and generator's losses and
# the discriminator's mean logits on real and generated images. In a healthy run neither player wins:
# the losses settle instead of one going to zero.

# %%
with open(os.path.join(WORKDIR, "metrics.jsonl")) as f:
    log = [json.loads(line) for line in f if line.strip()]
log = [row for row in log if "d_loss" in row]
steps = [row["step"] for row in log]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.5))
ax1.plot(steps, [row["d_loss"] for row in log], label="D loss")
ax1.plot(steps, [row["g_loss"] for row in log], label="G loss")
ax1.set_xlabel("step")
ax1.legend()
ax1.set_title("losses")
ax2.plot(steps, [row["d_real"] for row in log], label="D(real) logit")
ax2.plot(steps, [row["d_fake"] for row in log], label="D(fake) logit")
ax2.set_xlabel("step")
ax2.legend()
ax2.set_title("discriminator logits")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Are the digits the ones asked for?
#
# The evaluation trains an SVM on the real training digits and classifies 1,000 generated samples:
# `class_agreement` is the fraction classified as the digit they were conditioned on. The same
# classifier's accuracy on the 360 held-out real digits, `real_accuracy`, is the ceiling.

# %%
print(f"class_agreement {final['class_agreement']:.3f}   real_accuracy {final['real_accuracy']:.3f}")
plt.figure(figsize=(4, 3))
plt.bar(
    ["generated\n(class_agreement)", "held-out real\n(real_accuracy)"],
    [final["class_agreement"], final["real_accuracy"]],
    color=["tab:orange", "tab:blue"],
)
plt.ylim(0, 1)
plt.title("digits classifier accuracy")
plt.show()

# %% [markdown]
# ## Sample chosen digits
#
# `gan.generate(state, z, labels)` runs the EMA generator (running batch-norm statistics). Here: eight
# latents, each rendered as the digits 3, 1, 4, 1, 5, 9, 2, 6: a column keeps its latent (the
# "style"), a row its digit.

# %%
import jax
import jax.numpy as jnp
import numpy as np

from gans_jax import builders
from gans_jax.visualize import image_grid

digits = [3, 1, 4, 1, 5, 9, 2, 6]
cfg, gan, _ = builders.load_run(WORKDIR)  # the networks and latent space of this run
z = gan.sample_latents(jax.random.PRNGKey(7), 8)
z = jnp.tile(z, (len(digits), 1))  # row r: the 8 latents again
labels = jnp.repeat(jnp.array(digits), 8)
images = np.asarray(gan.generate(state, z, labels))
plt.figure(figsize=(5, 5))
plt.imshow(image_grid(images, ncols=8)[..., 0], cmap="gray")
plt.axis("off")
plt.title("rows: 3 1 4 1 5 9 2 6; columns: one latent each")
plt.show()

# %% [markdown]
# ## Interpolate
#
# Spherical interpolation (`gans_jax.sampling.slerp`) between two latents, for the digits 0, 7 and 8:
# the stroke width and slant change smoothly while the class stays put.

# %%
from gans_jax.sampling import slerp

z0, z1 = gan.sample_latents(jax.random.PRNGKey(1), 2)
t = jnp.linspace(0.0, 1.0, 10)
path = jax.vmap(lambda s: slerp(z0, z1, s))(t)
rows = []
for digit in (0, 7, 8):
    rows.append(np.asarray(gan.generate(state, path, jnp.full((10,), digit))))
plt.figure(figsize=(8, 2.8))
plt.imshow(image_grid(np.concatenate(rows), ncols=10)[..., 0], cmap="gray")
plt.axis("off")
plt.title("slerp from z0 (left) to z1 (right), digits 0, 7, 8")
plt.show()

# %% [markdown]
# ## Save and reload
#
# The run is already saved: `WORKDIR` holds `config.json`, the orbax checkpoints and the samples.
# `builders.load_run(workdir)` rebuilds the networks from the config and restores the latest checkpoint;
# the reloaded generator gives the same images, bit for bit. The CLI reads the same workdir:
# `gans-jax sample --workdir WORKDIR --num 100 --out grid.png`.

# %%
_, gan2, restored = builders.load_run(WORKDIR)
again = np.asarray(gan2.generate(restored, z, labels))
print(
    "reloaded step",
    int(restored.step),
    "| max |difference| of the samples:",
    float(np.abs(again - images).max()),
)
assert np.array_equal(again, images)
print(sorted(os.listdir(WORKDIR)))
