# %% [markdown]
# # Style and scale: StyleGAN2 and BigGAN, and sharding over devices
#
# The `:tiny` presets of two large recipes, `stylegan2_ffhq:tiny` and `biggan_imagenet:tiny`, train on
# the bundled digits at 16x16 in minutes on a CPU and show the same controls as the full models:
#
# 1. StyleGAN2: a truncation sweep, the style-mixing grid, and interpolation in W;
# 2. BigGAN: class-conditional rows;
# 3. sharding: the same train step replicated over 8 devices, then with its parameters sharded (FSDP),
#    then with gradient accumulation, each ending with the parameters of a one-device run;
# 4. converting and sampling an official pretrained checkpoint, when you give its path or URL.

# %% [setup]
# Run on a CPU, this notebook simulates 8 devices for the sharding section. This must happen before JAX is
# imported (restart the runtime to change it); NPROC keeps 8 simulated devices from deadlocking on a
# machine with few cores. A GPU or TPU runtime uses its real devices instead.
import os
import shutil

if not (shutil.which("nvidia-smi") or os.path.exists("/dev/accel0") or "COLAB_TPU_ADDR" in os.environ):
    if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
        os.environ["XLA_FLAGS"] = (
            os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=8"
        ).strip()
    os.environ.setdefault("NPROC", "16")

# %% [markdown]
# ## Parameters
#
# The default trains StyleGAN2 for 2,000 and BigGAN for 1,000 steps: a few minutes on a Colab GPU, about
# 15 minutes on 2 CPU cores (measured there: after about a minute of compiling each, StyleGAN2 runs about
# 10 steps/s and BigGAN 2). `FAST=1` (the tests) trains each for 150 steps, most of it compiling: BigGAN's
# rows then show roughly the digit of each class (class agreement about 0.65), but StyleGAN2's images are
# still blobs (at 400 steps they start to show strokes), so its figures show the mechanics (psi = 0 gives
# one image for every seed, variety grows with psi) more than digits. `PRETRAINED`: the path or
# URL of an official checkpoint for the last section (a StyleGAN2-ADA pickle, a BigGAN-PyTorch run
# folder or `G_ema.pth`, a pix2pix/CycleGAN `.pth`, a PyTorch-examples DCGAN `netG`); empty skips it.

# %% tags=["parameters"]
FAST = os.environ.get("FAST", "0") == "1"
STYLEGAN_STEPS = 150 if FAST else 2000
BIGGAN_STEPS = 150 if FAST else 1000
SHARDING_STEPS = 2 if FAST else 5
PRETRAINED = os.environ.get("PRETRAINED", "")

# %% [markdown]
# ## Train the tiny StyleGAN2
#
# `stylegan2_ffhq:tiny` is StyleGAN2 config F shrunk to 16x16 digits: mapping network of 2 layers to a
# 32-dimensional W, modulated convolutions, skip generator, residual discriminator, style mixing, lazy
# R1 and path-length regularisation, EMA. We train it on one device (the simulated devices are for the
# sharding section).

# %%
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np

import gans_jax
from gans_jax import builders, configs, style_sampling
from gans_jax.train import train
from gans_jax.visualize import image_grid

experiments = os.path.join(os.path.dirname(os.path.dirname(gans_jax.__file__)), "experiments")
runs = os.path.abspath("runs")


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
    workdir = os.path.join(runs, f"colab_{name}_tiny")
    shutil.rmtree(workdir, ignore_errors=True)
    start = time.perf_counter()
    _, final = train(config, workdir, progress=False, devices=jax.devices()[:1])
    print(f"{name}:tiny, {steps} steps in {time.perf_counter() - start:.1f} s:", final)
    return builders.load_run(workdir)


# eval.num_samples: the final evaluation has no metric for unconditional digits, only samples to draw
_, sgan, sstate = train_tiny("stylegan2_ffhq", STYLEGAN_STEPS, {"eval.num_samples": 16})


def show(images, ncols, title, width=8):
    grid = image_grid(np.asarray(images), ncols=ncols)
    plt.figure(figsize=(width, width * grid.shape[0] / grid.shape[1]))
    plt.imshow(grid[..., 0], cmap="gray", vmin=0, vmax=255)
    plt.title(title)
    plt.axis("off")
    plt.show()


# %% [markdown]
# ## Truncation in W
#
# StyleGAN's truncation trick moves each `w` towards the average `w_avg` tracked during training:
# `w' = w_avg + psi (w - w_avg)`. Each column below is one seed; rows go from `psi = 0` (every seed gives
# the same "average digit") to `psi = 1` (no truncation): lower psi trades variety for typicality.

# %%
seeds = list(range(8))
z = style_sampling.seed_latents(sgan, seeds)
psis = [0.0, 0.25, 0.5, 0.75, 1.0]
rows = [
    style_sampling.synthesis(sgan, sstate, style_sampling.mapping(sgan, sstate, z, psi=psi)) for psi in psis
]
show(np.concatenate(rows), len(seeds), "truncation sweep: rows psi = " + ", ".join(map(str, psis)))

# %% [markdown]
# ## Style mixing
#
# The generator takes one `w` per layer. The grid's first row and first column are images of six column
# and six row seeds; cell (i, j) uses row seed i's `w` for the fine layers and column seed j's for the
# first (coarse, 4x4) layers: it takes its overall shape from the column and its details from the row.

# %%
num_ws = style_sampling.mapping(sgan, sstate, z[:1]).shape[1]
mixed = style_sampling.style_mixing_grid(
    sgan, sstate, [10, 11, 12, 13, 14, 15], [20, 21, 22, 23, 24, 25], mix_layers=2
)
print(f"{num_ws} styles per image; the first 2 come from the column seed")
show(mixed, 7, "style mixing: coarse styles from the top row, fine styles from the left column", width=6)

# %% [markdown]
# ## Interpolation in W
#
# A straight line between the `w`s of two seeds (StyleGAN, Sec. 4.1: W is where paths are short and
# images change smoothly). Four pairs, eight steps each.

# %%
z0 = style_sampling.seed_latents(sgan, [30, 31, 32, 33])
z1 = style_sampling.seed_latents(sgan, [40, 41, 42, 43])
show(
    style_sampling.interpolate_w(sgan, sstate, z0, z1, 8), 8, "interpolation in W: one pair per row", width=6
)

# %% [markdown]
# ## BigGAN: class-conditional rows
#
# `biggan_imagenet:tiny` is BigGAN (Brock et al. 2019) at 16x16: a shared class embedding with the
# latent split across blocks (skip-z), class-conditional batch norm, self-attention at 8x8, a projection
# discriminator, hinge loss, orthogonal regularisation. Each row below is one class, each column one
# latent, drawn truncated at 1.0 (BigGAN's truncation trick resamples latents beyond the threshold).

# %%
from gans_jax.sampling import grid_labels, truncated_latents

# FAST: the final evaluation scores class agreement only, without the preset's standing statistics and
# truncation sweep (half a minute on a CPU)
_, bgan, bstate = train_tiny(
    "biggan_imagenet", BIGGAN_STEPS, {"eval.standing_stats": 0, "eval.truncations": ()} if FAST else {}
)
labels = grid_labels(10, 8)  # 0 x 8, 1 x 8, ...
z = truncated_latents(jax.random.PRNGKey(0), 8, tuple(bgan.latent_shape), 1.0)
z = jnp.tile(z, (10, 1))  # the same 8 latents in every row
show(bgan.generate(bstate, z, labels), 8, "BigGAN: one row per class 0-9, one latent per column", width=5)

# %% [markdown]
# ## Sharding over 8 devices
#
# One train step serves every device count: it is jitted over a `Mesh` with the batch split along the
# `"data"` axis, and the compiler inserts the collectives. We take the class-conditional DCGAN of the
# quickstart (16-channel networks, batch 32) and run the same `SHARDING_STEPS` steps on the same batches,
# from the same initial state,
#
# 1. on one device;
# 2. on all devices, the state **replicated** on each (data parallel);
# 3. with the parameters and optimiser states **sharded** across devices (FSDP / ZeRO-3:
#    `state_shardings(shard_params=True)`; each device holds a slice of every large tensor, and the
#    compiler gathers a weight where a layer needs it);
# 4. sharded, with **gradient accumulation** over 2 micro-batches (`train.accumulation_steps=2`), against
#    one device accumulating the same way.
#
# Batch-norm statistics are computed over the global batch in every case, so each run ends with the
# one-device parameters up to float rounding. On CPU the devices are simulated (slow: correctness only);
# every step is awaited, which the simulated devices need on a machine with few cores.

# %%
from gans_jax.data.digits import load_digits_dataset
from gans_jax.training import sharding

devices = jax.devices()
print(len(devices), "devices:", devices)
base = configs.load_config(
    os.path.join(experiments, "dcgan_digits.py"),
    {"model.g_channels": 16, "model.d_channels": 16, "train.batch_size": 32},
)
data = load_digits_dataset(16, "train")
batches = [
    {"image": data["image"][i * 32 : (i + 1) * 32], "label": data["label"][i * 32 : (i + 1) * 32]}
    for i in range(SHARDING_STEPS)
]


def recipe(accumulation):
    config = base.copy_and_resolve_references()
    config.train.accumulation_steps = accumulation
    return builders.build_train_step(config, builders.build_gan(config, (16, 16, 1), 10))


train_steps = {1: recipe(1), 2: recipe(2)}
# every run starts from this state (kept on the host: each step donates the state it was given)
initial = jax.device_get(train_steps[1].init_state(jax.random.PRNGKey(0), (16, 16, 1)))


def run(devs, shard_params=False, accumulation=1):
    train_step = train_steps[accumulation]
    mesh = sharding.data_mesh(devs)
    shardings = sharding.state_shardings(initial, mesh, shard_params=shard_params, min_size=1024)
    state = jax.device_put(initial, shardings)
    step = sharding.compile_train_step(train_step, mesh, shardings)
    for batch in batches:
        state, metrics = step(state, sharding.put_batch(batch, mesh))
        jax.block_until_ready(state)
    per_device = sum(
        int(np.prod(s.shard_shape(np.shape(x)))) * x.dtype.itemsize
        for s, x in zip(jax.tree.leaves(shardings), jax.tree.leaves(state), strict=True)
    )
    return jax.device_get(state), per_device


def max_gap(a, b):
    return max(
        float(np.max(np.abs(np.asarray(x) - np.asarray(y))))
        for x, y in zip(
            jax.tree.leaves((a.g_params, a.d_params)), jax.tree.leaves((b.g_params, b.d_params)), strict=True
        )
    )


start = time.perf_counter()
one, one_bytes = run(devices[:1])
one_acc, _ = run(devices[:1], accumulation=2)
results = {}
for name, kwargs, reference in (
    ("replicated", {}, one),
    ("FSDP", {"shard_params": True}, one),
    ("FSDP + accumulation 2", {"shard_params": True, "accumulation": 2}, one_acc),
):
    state, per_device = run(devices, **kwargs)
    results[name] = (max_gap(state, reference), per_device)
    print(
        f"{name:22s} max |param - one device's| = {results[name][0]:.2e}",
        f"  state bytes per device {per_device / 1e6:.2f} MB",
    )
print(f"one device: state {one_bytes / 1e6:.2f} MB; all runs in {time.perf_counter() - start:.1f} s")

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 3.2))
names = ["one device"] + list(results)
ax1.bar(
    names,
    [one_bytes / 1e6] + [r[1] / 1e6 for r in results.values()],
    color=["gray", "tab:blue", "tab:orange", "tab:green"],
)
ax1.set_ylabel("train state per device (MB)")
ax1.set_title(f"memory per device ({len(devices)} devices)")
ax2.bar(
    list(results), [max(r[0], 1e-10) for r in results.values()], color=["tab:blue", "tab:orange", "tab:green"]
)
ax2.set_yscale("log")
ax2.set_ylim(1e-10, 1e-2)
ax2.set_ylabel("max |param - one device's|")
ax2.set_title(f"after {SHARDING_STEPS} steps: equal up to float rounding")
for ax in (ax1, ax2):
    ax.tick_params(axis="x", labelsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## An official pretrained checkpoint
#
# `gans-jax convert SRC --workdir OUT` turns an official checkpoint (StyleGAN2-ADA pickles, BigGAN-PyTorch
# runs, pix2pix/CycleGAN and PyTorch-examples DCGAN `.pth` files) into a workdir that `gans-jax sample`
# reads like a trained run. Set `PRETRAINED` above to a path or URL, e.g. a StyleGAN2-ADA pickle such as
# `https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/afhqdog.pkl`. Without one, this cell
# does nothing. The tests run it on `tests/fixtures/reference/stylegan2/orig_8.pkl`, a random-weight 8x8
# network of the official code pickled as its training loop saves snapshots: its samples are noise, but
# converted and sampled as a released model's would be.

# %%
import json
import tempfile
import urllib.parse
import urllib.request

from gans_jax.cli import main as gans_jax_cli  # `gans-jax ARGS` in this kernel: JAX is not started again

if not PRETRAINED:
    print("No PRETRAINED checkpoint given: skipped.")
else:
    source = PRETRAINED
    if urllib.parse.urlparse(PRETRAINED).scheme in ("http", "https"):
        source = os.path.join(tempfile.mkdtemp(), os.path.basename(urllib.parse.urlparse(PRETRAINED).path))
        urllib.request.urlretrieve(PRETRAINED, source)
    converted = os.path.join(tempfile.mkdtemp(), "converted")
    grid_path = os.path.join(converted, "pretrained_samples.png")
    gans_jax_cli(["gans-jax", "convert", source, "--workdir", converted])
    gans_jax_cli(["gans-jax", "sample", "--workdir", converted, "--num", "16", "--out", grid_path])
    from PIL import Image

    with open(os.path.join(converted, "run.json")) as f:
        run_info = json.load(f)
    grid = np.asarray(Image.open(grid_path))
    print(
        f"converted {run_info['kind']} {os.path.basename(source)}: samples of shape",
        f"{tuple(run_info['sample_shape'])}, {run_info['num_classes'] or 'no'} classes; grid {grid.shape}",
    )
    plt.figure(figsize=(8, 8))
    plt.imshow(grid, cmap="gray")
    plt.axis("off")
    plt.title(f"16 samples of {os.path.basename(source)}")
    plt.show()
