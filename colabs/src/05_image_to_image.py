# %% [markdown]
# # Image-to-image: pix2pix, CycleGAN and SRGAN
#
# Image-to-image GANs go through the same train step as the others: the generator takes a source image
# in place of a latent (`GAN(..., translation="paired" | "unpaired")`), and the reconstruction terms
# (L1, cycle consistency, content) are auxiliary losses. The `:tiny` presets train on data built offline
# from images bundled with scikit-image and scikit-learn, at 32x32:
#
# 1. **pix2pix** (Isola et al. 2017): Canny edges -> face crops (`offline:edges2faces`);
# 2. **CycleGAN** (Zhu et al. 2017): grey <-> colour photo crops from two disjoint sets
#    (`offline:gray2color`);
# 3. **SRGAN** (Ledig et al. 2017): x4 super-resolution of photo crops, against bicubic upsampling.
#
# Each is shown side by side on held-out images, with the held-out metrics the training run reports.

# %% [setup]

# %% [markdown]
# ## Parameters
#
# The default trains pix2pix and SRGAN for the 600 steps of their `:tiny` presets and CycleGAN for 600:
# about two minutes on a Colab GPU, about 5 minutes on 2 CPU cores (measured there: each model first
# compiles for 20-40 s, then pix2pix runs about 40 steps/s, CycleGAN 10 and SRGAN 7). `FAST=1` (the
# tests) trains 400, 300 and 150 steps, most of it compiling: pix2pix's faces are then blurry, SRGAN is
# about 1 dB ahead of bicubic, and CycleGAN has not learnt the translation yet: F(y) keeps the large
# edges and bands of each colour crop but not its brightness (a dark night sky comes out light grey:
# the generator cannot see overall brightness, as the CycleGAN section explains),
# G(x) is colour blotches that only roughly follow the grey input's light and dark areas, and neither
# cycle gives back its input. The default 600 steps have not been run on a CPU.

# %% tags=["parameters"]
import os

FAST = os.environ.get("FAST", "0") == "1"
PIX2PIX_STEPS = 400 if FAST else 600
CYCLEGAN_STEPS = 300 if FAST else 600
SRGAN_STEPS = 150 if FAST else 600
SRGAN_EVAL = 128 if FAST else 768  # held-out crops scored

# %%
import shutil
import time

import matplotlib.pyplot as plt
import numpy as np

import gans_jax
from gans_jax import builders, configs, evaluation
from gans_jax.train import train
from gans_jax.visualize import to_uint8

experiments = os.path.join(os.path.dirname(os.path.dirname(gans_jax.__file__)), "experiments")


def train_tiny(name, steps, overrides=None):
    config = configs.load_config(
        os.path.join(experiments, f"{name}.py:tiny"),
        {
            "train.steps": steps,
            "train.sample_every": steps,
            "train.checkpoint_every": steps,
            **(overrides or {}),
        },
    )
    workdir = os.path.abspath(os.path.join("runs", f"colab_{name}_tiny"))
    shutil.rmtree(workdir, ignore_errors=True)
    start = time.perf_counter()
    _, final = train(config, workdir, progress=False)
    print(f"{name}:tiny, {steps} steps in {time.perf_counter() - start:.1f} s")
    print("held-out metrics:", {k: round(v, 4) if isinstance(v, float) else v for k, v in final.items()})
    config, gan, state = builders.load_run(workdir)
    return config, gan, state, final


def show_rows(rows, titles, suptitle):
    """rows: {name: (n, H, W, C) images in [-1, 1]}, one figure row per entry."""
    n = len(next(iter(rows.values())))
    fig, axes = plt.subplots(len(rows), n, figsize=(1.5 * n, 1.6 * len(rows)))
    for r, (name, images) in enumerate(rows.items()):
        for c in range(n):
            img = to_uint8(images[c])
            axes[r, c].imshow(img[..., 0] if img.shape[-1] == 1 else img, cmap="gray", vmin=0, vmax=255)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(titles.get(name, name), fontsize=9)
    fig.suptitle(suptitle)
    plt.tight_layout()
    plt.show()


# %% [markdown]
# ## pix2pix: edges -> faces
#
# A U-Net generator with dropout maps an edge map to a face; a 70x70-style PatchGAN discriminator judges
# (edges, face) pairs, and an L1 term (weight 100) pulls the output towards the true face. The held-out
# metrics compare `G(edges)` with the true faces: L1 (lower is better) and PSNR (higher), next to the
# same numbers for the edge map itself (`baseline_*`, the input as a guess of the output).

# %%
p_config, p_gan, p_state, p_final = train_tiny("pix2pix_facades", PIX2PIX_STEPS)
batch = evaluation.held_out_examples(p_config, p_gan, 8)
target, edges = p_gan.split_batch(batch)
fake = evaluation.translate(p_gan, p_state, edges)
show_rows(
    {"edges": edges, "pix2pix": fake, "real": target},
    {"pix2pix": "G(edges)"},
    f"pix2pix after {PIX2PIX_STEPS} steps (held-out faces)",
)

# %% [markdown]
# ## CycleGAN: grey <-> colour, unpaired
#
# Two generators, G: grey -> colour and F: colour -> grey, trained on two disjoint image sets with no
# pairs; each has a PatchGAN discriminator (least-squares loss), and the cycle-consistency loss asks that
# F(G(x)) = x and G(F(y)) = y. The held-out metrics are the cycle L1 in each direction. The figure shows,
# for held-out grey images x: G(x) and F(G(x)); and for held-out colour images y: F(y) and G(F(y)).
#
# Brightness is the hard part of this pair. The paper's generator starts with a convolution followed by
# instance norm, which removes any overall brightness shift b and contrast factor a of its input:
# G(a x + b) = G(x) (checked in `tests/test_models_cyclegan.py`). So a crop's overall brightness reaches
# the output only as far as the crop's structure reveals it; a dark sky and a light wall with the same
# texture give the same translation.

# %%
# For a run this short: 4x the cycle weight (10; the preset's 2.5 is the paper's lambda = 10 in this
# library's scale) and learning rate 1e-3 (the paper's 2e-4). With the preset's, 300 steps leave G(x) and
# F(G(x)) noise; with these, the outputs follow the input's large shapes, not yet its brightness.
c_config, c_gan, c_state, c_final = train_tiny(
    "cyclegan_horse2zebra",
    CYCLEGAN_STEPS,
    {"auxiliary_losses.cycle_consistency.weight": 10.0, "optim.g.lr": 1e-3, "optim.d.lr": 1e-3},
)
batch = evaluation.held_out_examples(c_config, c_gan, 8)
real, condition = c_gan.split_batch(batch)
out = evaluation.translate(c_gan, c_state, condition)
show_rows(
    {
        "x": real["x"],
        "y_fake": out["y"],
        "rec_x": out["rec_x"],
        "y": real["y"],
        "x_fake": out["x"],
        "rec_y": out["rec_y"],
    },
    {
        "x": "grey x",
        "y_fake": "G(x)",
        "rec_x": "F(G(x))",
        "y": "colour y",
        "x_fake": "F(y)",
        "rec_y": "G(F(y))",
    },
    f"CycleGAN after {CYCLEGAN_STEPS} steps (held-out crops)",
)

# %% [markdown]
# ## SRGAN: x4 super-resolution against bicubic
#
# A residual generator (SRResNet, here with a bicubic skip connection) upsamples 8x8 crops to 32x32; it
# trains on pixel MSE first, then adds the adversarial term (weight 3e-4) in the last sixth of the run.
# The held-out metrics are PSNR (on the luma channel too, `psnr_y`) of the generator and of bicubic
# upsampling (`baseline_psnr*`) against the true 32x32 crops, a 4-pixel border shaved as in the paper.

# %%
from gans_jax.data.folder import uint8_to_unit_range
from gans_jax.data.transforms import bicubic_upsample, unit_range_to_uint8

s_config, s_gan, s_state, s_final = train_tiny(
    "srgan_folder",
    SRGAN_STEPS,
    {"objective.adversarial_start": SRGAN_STEPS * 5 // 6, "eval.num_samples": SRGAN_EVAL},
)

batch = evaluation.held_out_examples(s_config, s_gan, 8)
high, low = s_gan.split_batch(batch)
sr = np.clip(evaluation.translate(s_gan, s_state, low), -1, 1)
bicubic = uint8_to_unit_range(bicubic_upsample(unit_range_to_uint8(low), high.shape[1] // low.shape[1]))
show_rows(
    {"low": low, "bicubic": bicubic, "srgan": sr, "high": high},
    {"low": "input 8x8", "bicubic": "bicubic x4", "srgan": "SRGAN x4", "high": "real 32x32"},
    f"SRGAN after {SRGAN_STEPS} steps (held-out crops)",
)

# %% [markdown]
# ## The held-out numbers side by side

# %%
summary = {
    "pix2pix L1 (G / edge map)": (p_final["l1"], p_final["baseline_l1"]),
    "pix2pix PSNR dB (G / edge map)": (p_final["psnr"], p_final["baseline_psnr"]),
    "CycleGAN cycle L1 (x / y)": (c_final["cycle_l1_x"], c_final["cycle_l1_y"]),
    "SRGAN PSNR dB (G / bicubic)": (s_final["psnr"], s_final["baseline_psnr"]),
}
for name, (a, b) in summary.items():
    print(f"{name:34s} {a:8.3f} {b:8.3f}")
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(["SRGAN", "bicubic"], [s_final["psnr"], s_final["baseline_psnr"]], color=["tab:orange", "tab:gray"])
ax.set_ylim(
    min(s_final["psnr"], s_final["baseline_psnr"]) - 2, max(s_final["psnr"], s_final["baseline_psnr"]) + 1
)
ax.set_ylabel("held-out PSNR (dB)")
ax.set_title("x4 super-resolution")
plt.show()
