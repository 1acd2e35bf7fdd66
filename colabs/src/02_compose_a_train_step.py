# %% [markdown]
# # Compose a train step: the library without the CLI
#
# The CLI is a thin driver. Underneath, gans-jax is a handful of pure functions: networks (any flax
# modules), an objective (a pair of losses), regularisers, and **one train-step factory**,
# `make_train_step`, that composes them into `train_step(state, batch) -> (state, metrics)`. This
# notebook uses those pieces directly on the classic toy problem, a ring of 8 Gaussians:
#
# 1. your own tiny flax G and D, a loss and a regulariser, composed by the factory;
# 2. a training loop written by hand, then the same loop as one `lax.scan` program;
# 3. six GAN recipes side by side on the ring, with the modes each captures;
# 4. eight seeds trained at once with `vmap`.

# %% [setup]

# %% [markdown]
# ## Parameters
#
# The default trains each model for 3,000 steps: about a minute for the whole notebook on a Colab GPU,
# about 3 minutes on 2 CPU cores. `FAST=1` (the tests) trains for 1,500 steps with half the batch: about
# a minute there (measured; the default estimated from it as twice the steps on twice the batch).

# %% tags=["parameters"]
import os

FAST = os.environ.get("FAST", "0") == "1"
STEPS = 1500 if FAST else 3000
BATCH = 128 if FAST else 256

# %% [markdown]
# ## 1. Your own networks, a loss and a regulariser
#
# Any pair of flax modules will do. The library calls `G(z, labels, train=...)` and
# `D(x, labels, train=...)`; a module whose `__call__` takes only `z` or `x` is adapted, so the
# smallest possible pair is two MLPs. `GAN` bundles the networks, their optax optimisers and the latent
# space. `make_train_step` takes the objective (`get_objective("non_saturating")`: D's loss and G's
# non-saturating loss) and any regularisers: here R1 (Mescheder et al. 2018), a gradient penalty on
# real data. Every argument is checked when the step is built, not when it is traced.

# %%
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax

from gans_jax.data.toy import get_mixture
from gans_jax.losses import get_objective
from gans_jax.metrics.modes import mode_metrics
from gans_jax.regularizers import regularizer
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step


class G(nn.Module):
    @nn.compact
    def __call__(self, z):
        h = nn.leaky_relu(nn.Dense(128)(z), 0.2)
        h = nn.leaky_relu(nn.Dense(128)(h), 0.2)
        return nn.Dense(2)(h)


class D(nn.Module):
    @nn.compact
    def __call__(self, x):
        h = nn.leaky_relu(nn.Dense(128)(x), 0.2)
        h = nn.leaky_relu(nn.Dense(128)(h), 0.2)
        return nn.Dense(1)(h)[:, 0]  # one logit per example


ring = get_mixture("ring8")  # 8 Gaussians of std 0.02 on a circle of radius 1 (VEEGAN, PacGAN)
gan = GAN(G(), D(), optax.adam(1e-3, b1=0.5), optax.adam(1e-3, b1=0.5), latent_shape=2)
train_step = make_train_step(
    gan, get_objective("non_saturating"), regularizers=[regularizer("r1", gamma=0.1)]
)
state = train_step.init_state(jax.random.PRNGKey(0), (2,))
print(jax.tree.map(jnp.shape, state.g_params))

# %% [markdown]
# ## 2a. A loop written by hand
#
# The step is a pure function, so `jax.jit` compiles it once; the loop draws a real batch, calls it and
# keeps the new state. All randomness of the step (latents) comes from the state's key folded with the
# step number, so the run is reproducible.

# %%
step = jax.jit(train_step)
sample_ring = jax.jit(ring.sample_jax, static_argnums=1)
data_key = jax.random.PRNGKey(1)
state, _ = step(state, {"image": sample_ring(jax.random.fold_in(data_key, 0), BATCH)})  # step 0, compiles
start = time.perf_counter()
history = []
for i in range(1, STEPS):
    state, metrics = step(state, {"image": sample_ring(jax.random.fold_in(data_key, i), BATCH)})
    if i % 100 == 0:
        history.append({k: float(v) for k, v in metrics.items()})
jax.block_until_ready(state)
loop_seconds = time.perf_counter() - start
hand = mode_metrics(np.asarray(gan.generate(state, gan.sample_latents(jax.random.PRNGKey(2), 2500))), ring)
print(f"hand-written loop: {STEPS} steps in {loop_seconds:.1f} s;", hand)
print("last metrics:", history[-1])

# %% [markdown]
# ## 2b. The same loop as one `lax.scan`
#
# For data a JAX program can draw itself, the whole loop fits in one compiled program: `lax.scan`
# carries the state through `STEPS` applications of the same step, with no per-step dispatch or host
# copy. On a CPU, where these steps are tiny, that is several times faster. The same keys give the same
# model as the loop above.

# %%
from jax import lax


@jax.jit
def train_scan(state, data_key):
    def body(state, i):
        return train_step(state, {"image": ring.sample_jax(jax.random.fold_in(data_key, i), BATCH)})

    return lax.scan(body, state, jnp.arange(STEPS))


state0 = train_step.init_state(jax.random.PRNGKey(0), (2,))
jax.block_until_ready(train_scan(state0, data_key))  # compile (and a first run)
start = time.perf_counter()
scanned, scan_metrics = train_scan(state0, data_key)
jax.block_until_ready(scanned)
scan_seconds = time.perf_counter() - start
print(
    f"lax.scan: {STEPS} steps in {scan_seconds:.2f} s ({loop_seconds / scan_seconds:.1f}x the loop's speed)"
)
gap = max(
    float(jnp.abs(a - b).max())
    for a, b in zip(jax.tree.leaves(scanned.g_params), jax.tree.leaves(state.g_params), strict=True)
)
print("largest difference from the hand-written loop's generator parameters:", gap)

fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
axes[0].plot(np.asarray(scan_metrics["d_loss"]), label="D loss")
axes[0].plot(np.asarray(scan_metrics["g_loss"]), label="G loss")
axes[0].set_xlabel("step")
axes[0].legend()
axes[0].set_title("losses of the scanned run")
axes[1].plot(np.asarray(scan_metrics["reg/r1"]))
axes[1].set_xlabel("step")
axes[1].set_title("R1 penalty (squared gradient norm on real data)")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 3. Six recipes on the ring
#
# `gans_jax.mode_collapse.get_config` gives PacGAN's 2-D benchmark recipes (Lin et al. 2018); each variant
# changes only what its paper changes: the objective (non-saturating, minimax, least squares, Wasserstein,
# hinge), the regulariser (WGAN-GP's gradient penalty), spectral norm in D, `n_critic`, or packing
# (PacGAN2: D judges pairs of samples). We shrink the networks (MLPs of 128, no batch norm) and the run
# to `STEPS` steps; `builders.build_gan` / `build_train_step` turn each config into the same kind of step
# as above, and `scan.train_seeds` runs it as one `lax.scan`.
#
# Each panel shows 2,500 generated points (orange) over the real ring (blue) with the number of modes
# captured (a mode counts when it gets a sample within 3 std of its centre) and the fraction of such
# high-quality samples. Short runs differ mostly in how tightly they concentrate on the modes.

# %%
from gans_jax import builders, mode_collapse
from gans_jax.training import scan

SHORT = {  # the short recipe of tests/test_mode_collapse.py
    "model.g_hidden": (128, 128),
    "model.d_hidden": (128, 128),
    "model.g_batch_norm": False,
    "model.d_maxout_pieces": 0,
    "model.init_std": 0.0,
    "train.ema_decay": 0.0,
    "optim.g.schedule": "cosine",
    "optim.d.schedule": "cosine",
}
ADAM = {"lr": 1e-3, "b1": 0.5}
VARIANTS = {  # name shown: (variant, optimiser settings of both players)
    "non-saturating": ("gan", ADAM),
    "minimax": ("minimax_gan", ADAM),
    "LSGAN": ("lsgan", ADAM),
    "WGAN-GP": ("wgan_gp", {"lr": 3e-3}),
    "hinge + SN": ("hinge_sn", {"lr": 1e-3, "b1": 0.0, "b2": 0.9}),
    "PacGAN2": ("pacgan2", ADAM),
}
real = ring.sample(0, 2500)
results = {}
for title, (variant, optim) in VARIANTS.items():
    config = mode_collapse.get_config("ring8", variant)
    overrides = {**SHORT, "train.steps": STEPS}
    overrides.update({f"optim.{p}.{k}": v for p in ("g", "d") for k, v in optim.items()})
    config.update_from_flattened_dict(overrides)
    config.train.batch_size = BATCH * config.model.pack * config.train.n_critic
    vgan = builders.build_gan(config, (2,), None)
    vstep = builders.build_train_step(config, vgan)
    start = time.perf_counter()
    states, _ = scan.train_seeds(
        vgan,
        vstep,
        ring.sample_jax,
        seeds=[0],
        steps=STEPS,
        batch_size=config.train.batch_size,
        steps_per_call=STEPS,
    )
    fake = scan.generate_seeds(vgan, states, jax.random.PRNGKey(0), 2500)[0]
    results[title] = (fake, mode_metrics(fake, ring))
    print(f"{title:15s} {time.perf_counter() - start:5.1f} s", results[title][1])

fig, axes = plt.subplots(2, 3, figsize=(12, 8))
for ax, (title, (fake, m)) in zip(axes.flat, results.items(), strict=True):
    ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.5, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:orange", alpha=0.5, label="generated")
    ax.set_title(f"{title}: {m['modes_captured']}/8 modes, {100 * m['high_quality_fraction']:.0f}% HQ")
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
axes[0, 0].legend(loc="upper right", markerscale=5)
plt.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Eight seeds at once with `vmap`
#
# A tiny model leaves a GPU (or a CPU core) mostly idle. `jax.vmap` over a stacked batch of states trains
# eight independent models in one program: `scan.train_seeds` initialises one state per seed, stacks them
# and maps the scanned loop over the stack. Seeds differ a lot: in a short run some settle on all eight
# modes while others are still spread over the plane. One run is an anecdote, eight are a distribution.

# %%
config = mode_collapse.get_config("ring8", "gan")
config.update_from_flattened_dict(
    {**SHORT, "train.steps": STEPS, **{f"optim.{p}.{k}": v for p in ("g", "d") for k, v in ADAM.items()}}
)
sgan = builders.build_gan(config, (2,), None)
sstep = builders.build_train_step(config, sgan)
SEEDS = list(range(8))
start = time.perf_counter()
states, info = scan.train_seeds(
    sgan, sstep, ring.sample_jax, seeds=SEEDS, steps=STEPS, batch_size=BATCH, steps_per_call=STEPS
)
samples = scan.generate_seeds(sgan, states, jax.random.PRNGKey(0), 2500)
per_seed = [mode_metrics(s, ring) for s in samples]
print(f"{len(SEEDS)} seeds x {STEPS} steps in {time.perf_counter() - start:.1f} s")
for seed, m in zip(SEEDS, per_seed, strict=True):
    print(f"seed {seed}: {m['modes_captured']} modes, {m['high_quality_fraction']:.2f} high quality")

fig, axes = plt.subplots(1, 8, figsize=(16, 2.4))
for ax, seed, s, m in zip(axes, SEEDS, samples, per_seed, strict=True):
    ax.scatter(real[:, 0], real[:, 1], s=1, c="tab:blue", alpha=0.4)
    ax.scatter(s[:, 0], s[:, 1], s=1, c="tab:orange", alpha=0.4)
    ax.set_title(
        f"seed {seed}: {m['modes_captured']} modes\n{100 * m['high_quality_fraction']:.0f}% HQ", fontsize=9
    )
    ax.set_xlim(-1.6, 1.6)
    ax.set_ylim(-1.6, 1.6)
    ax.set_aspect("equal")
    ax.axis("off")
plt.tight_layout()
plt.show()
