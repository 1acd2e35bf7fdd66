"""Train-step throughput: the library's compiled JAX step against the same model in plain PyTorch.

    python benchmarks/train_step.py --model dcgan --resolution 64 --batch 64
    python benchmarks/train_step.py --model mlp --batch 256 --no-torch
    python benchmarks/train_step.py --model sngan_resnet --batch 64 --steps 2 --repeats 1
    python benchmarks/train_step.py --model biggan --resolution 128 --batch 2048 --dtype bfloat16
    python benchmarks/train_step.py --model pix2pix --resolution 256 --batch 1   # also cyclegan, srgan (96)
    python benchmarks/train_step.py --model srgan --resolution 96 --batch 4 --content vgg54
    python benchmarks/train_step.py --model pggan --resolution 64 --batch 16 --steps 5 --repeats 1
    python benchmarks/train_step.py --model stylegan2 --resolution 256 --batch 4 --steps 2 --repeats 1

``dcgan`` is the DCGAN of the PyTorch examples (nz=100, ngf=ndf=64, nc=3, BCE loss, Adam lr 2e-4,
beta1 0.5), built with the library (``gans_jax.models.dcgan``) and trained by the library's step
(``make_train_step`` + ``compile_train_step``); ``mlp`` is the original GAN's MLP pair on 2-D data;
``sngan_resnet`` is SNGAN's 32x32 ResNet pair (Miyato et al. 2018; ``experiments/sngan_cifar10.py``:
hinge loss, Adam 2e-4 betas (0, 0.9), n_dis = 5, ``--batch`` reals per discriminator update, so one
step consumes ``5 * batch`` real images; no PyTorch reference). ``pggan`` is the Progressive GAN stage
at ``--resolution`` of ``experiments/pggan_celebahq.py`` (the paper's networks, WGAN-GP + drift), in the
middle of its fade-in (``gans_jax.training.progressive.fade_in_step`` around the library's step).
``stylegan2`` is config F from
``experiments/stylegan2_ffhq.py`` at ``--resolution`` (lazy R1 every 16 and path length every 4 steps:
the timed steps average over the schedule only when ``--steps`` covers it; ``s_per_kimg`` is the
seconds per thousand real images, the unit of StyleGAN2-ADA's tables).
The PyTorch reference (run when ``import torch`` works, unless ``--no-torch``) is the same
architecture written here in plain PyTorch with the examples' training iteration: D on reals, D on
``fake.detach()``, step D; D on the same fakes with real labels, step G. It runs on CUDA when torch
sees a GPU (``--torch-device``), with ``cudnn.benchmark`` on there; ``--torch-amp`` runs it as a PyTorch
user would for speed: channels-last tensors and ``torch.autocast`` in bfloat16 (no loss scaling
needed), the counterpart of ``--dtype bfloat16`` on the JAX side. ``--dtype`` sets the JAX step's
compute dtype for every model; ``--upsample`` the DCGAN generator's transposed-convolution form.

Both sides train on one fixed random batch (uint8-like images scaled to [-1, 1], seed 0) that stays
on the device, so the numbers are the step itself, not data loading. JAX: ``compile_s`` is the first
call (tracing + compilation + one step, blocked on); ``steps_per_s`` is ``steps`` calls after
``warmup`` calls, blocked on at the end, best of ``--repeats`` timings. PyTorch is timed the same
way, with ``torch.set_num_threads(threads)``; the two sides' timed repeats alternate so that both see
the same background load, and the JSON records the CPU share other processes took during each best
repeat (``others_cpu_*``: on a shared machine, trust repeats where it is near 0). With
``--threads T`` below the machine's core count the process is pinned to ``T`` cores before JAX
starts, which sizes XLA:CPU's thread pool to ``T``.

Prints a table, then as the LAST line one JSON object (``model, resolution, batch, compile_s,
steps_per_s, torch_steps_per_s, ratio, device, threads, jax_version, ...``).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import platform
import time


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--model",
        choices=("dcgan", "mlp", "sngan_resnet", "biggan", "pggan", "stylegan2", *TRANSLATION),
        default="dcgan",
    )
    p.add_argument("--ch", type=int, default=96, help="BigGAN channel multiplier")
    p.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32", help="JAX compute dtype")
    p.add_argument(
        "--accumulation",
        default="1",
        help="BigGAN micro-batches per update; a list (4,8,16) takes the first whose compiled program fits "
        "90%% of the device's memory",
    )
    p.add_argument("--n-critic", type=int, default=None, help="BigGAN D updates per step (default: config's)")
    p.add_argument("--preset", default="", help="biggan/stylegan2: the experiment's preset (e.g. tiny)")
    p.add_argument("--peak-flops", type=float, default=None, help="peak FLOP/s (default: looked up/measured)")
    p.add_argument("--upsample", default="auto", help="DCGAN generator: SubPixelConvTranspose method")
    p.add_argument("--torch-device", default="auto", help="cuda, cpu, or auto (cuda when torch sees a GPU)")
    p.add_argument("--torch-amp", action="store_true", help="PyTorch: channels-last + autocast bfloat16")
    p.add_argument(
        "--content",
        choices=("pixel", "vgg22", "vgg54"),
        default="pixel",
        help="SRGAN content loss: pixel MSE, or VGG19 features (random weights: timing only)",
    )
    p.add_argument("--resolution", type=int, default=64, help="DCGAN image size (ignored for mlp)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=20, help="timed steps per repeat")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps after the compiling call")
    p.add_argument("--repeats", type=int, default=3, help="timings of --steps steps; the best is reported")
    p.add_argument("--threads", type=int, default=None, help="CPU threads for both (default: all cores)")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch reference")
    p.add_argument("--torch-first", action="store_true", help="time PyTorch before JAX")
    args = p.parse_args(argv)
    for name in ("batch", "steps", "repeats"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be >= 1, got {getattr(args, name)}")
    if args.warmup < 0:
        p.error(f"--warmup must be >= 0, got {args.warmup}")
    try:
        args.accumulation = [int(a) for a in str(args.accumulation).split(",")]
    except ValueError:
        p.error(f"--accumulation must be an integer or a comma-separated list, got {args.accumulation!r}")
    if any(a < 1 or args.batch % a for a in args.accumulation):
        p.error(f"--accumulation {args.accumulation}: each must be >= 1 and divide --batch {args.batch}")
    return args


def available_cores() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return list(range(os.cpu_count() or 1))


def pin_threads(threads: int | None) -> int:
    """Restrict this process to ``threads`` cores (before JAX starts); return the thread count."""
    cores = available_cores()
    if threads is None:
        return len(cores)
    if threads < 1:
        raise SystemExit(f"--threads must be >= 1, got {threads}")
    if threads < len(cores) and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, cores[:threads])
    return threads


def device_name(device) -> str:
    """``gpu: NVIDIA H200`` for accelerators; the CPU's model name and usable cores for CPUs."""
    if device.platform == "cpu":
        return f"cpu: {cpu_name()} ({len(available_cores())} cores usable)"
    return f"{device.platform}: {device.device_kind}"


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


class OthersCPU:
    """Share of the machine's CPU time used by *other* processes between ``start()`` and ``stop()``
    (from /proc/stat and /proc/self/stat; None where those do not exist)."""

    @staticmethod
    def _ticks():
        try:
            with open("/proc/stat") as f:
                fields = [int(v) for v in f.readline().split()[1:9]]
            with open("/proc/self/stat") as f:
                own = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return sum(fields), sum(fields) - fields[3] - fields[4], int(own[11]) + int(own[12])

    def start(self):
        self.begin = self._ticks()
        return self

    def stop(self) -> float | None:
        end = self._ticks()
        if self.begin is None or end is None or end[0] == self.begin[0]:
            return None
        busy = (end[1] - self.begin[1]) - (end[2] - self.begin[2])
        return max(0.0, busy / (end[0] - self.begin[0]))


class Timer:
    """One side of the comparison: ``step()`` runs one training step, ``block()`` waits for it."""

    def __init__(self, step, block):
        self.step, self.block = step, block
        self.rates, self.others = [], []

    def first(self, warmup: int) -> float:
        """Seconds of the first call (JAX: tracing + compilation + one step), then ``warmup`` steps."""
        t0 = time.perf_counter()
        self.step()
        self.block()
        seconds = time.perf_counter() - t0
        for _ in range(warmup):
            self.step()
        self.block()
        return seconds

    def repeat(self, steps: int) -> None:
        others = OthersCPU().start()
        t0 = time.perf_counter()
        for _ in range(steps):
            self.step()
        self.block()
        self.rates.append(steps / (time.perf_counter() - t0))
        self.others.append(others.stop())

    def best(self) -> tuple[float, float | None]:
        """Best steps/s and the other processes' CPU share while it was measured."""
        i = max(range(len(self.rates)), key=self.rates.__getitem__)
        return self.rates[i], self.others[i]


# --------------------------------------------------------------------------------------------------
# JAX: the library.
# --------------------------------------------------------------------------------------------------

NZ, NGF, NDF, NC = 100, 64, 64, 3  # the PyTorch DCGAN example's sizes
MLP_LATENT, MLP_HIDDEN, MLP_DIM = 2, (128, 128), 2  # the original GAN's MLPs on 2-D data
SNGAN_N_DIS = 5  # SNGAN ResNet: discriminator updates per generator update


def real_batch(args):
    """One fixed random batch, NHWC float32 in [-1, 1] (dcgan) or (B, 2) points (mlp), seed 0."""
    import numpy as np

    rng = np.random.default_rng(0)
    if args.model == "dcgan":
        pixels = rng.integers(0, 256, size=(args.batch, args.resolution, args.resolution, NC), dtype=np.uint8)
        return pixels.astype(np.float32) / 127.5 - 1.0
    if args.model == "sngan_resnet":
        pixels = rng.integers(0, 256, size=(SNGAN_N_DIS * args.batch, 32, 32, NC), dtype=np.uint8)
        return pixels.astype(np.float32) / 127.5 - 1.0
    return rng.normal(size=(args.batch, MLP_DIM)).astype(np.float32)


# Dense peak FLOP/s per device kind (bf16 for accelerators); CPUs are measured instead.
PEAK_FLOPS = {
    "H100": 989e12,
    "H200": 989e12,
    "A100": 312e12,
    "V100": 125e12,
    "TPU v4": 275e12,
    "TPU v5": 459e12,
}


@functools.cache
def peak_flops() -> tuple[float, str]:
    """The device's dense peak FLOP/s and where the number comes from (measured once per process)."""
    import time

    import jax
    import jax.numpy as jnp

    kind = jax.devices()[0].device_kind
    for name, peak in PEAK_FLOPS.items():
        if name.lower() in kind.lower():
            return peak, f"{name} datasheet (bf16 dense)"
    x = jnp.ones((2048, 2048), jnp.float32)
    matmul = jax.jit(lambda a: a @ a)
    matmul(x).block_until_ready()
    start = time.perf_counter()
    for _ in range(10):
        out = matmul(x)
    out.block_until_ready()
    return 10 * 2 * 2048**3 / (time.perf_counter() - start), f"measured float32 matmul on {kind}"


def time_jax_step(train_step, state, batch, warmup: int) -> tuple:
    """A :class:`Timer` over a compiled JAX step (first call and ``warmup`` steps done) and its info:
    ``compile_s`` and ``metrics`` (the last step's, as floats)."""
    import jax

    holder = {"state": state, "metrics": None}

    def step():
        holder["state"], holder["metrics"] = train_step(holder["state"], batch)

    def block():
        jax.block_until_ready((holder["state"], holder["metrics"]))

    timer = Timer(step, block)
    compile_s = timer.first(warmup)
    return timer, {
        "compile_s": compile_s,
        "metrics": lambda: {k: float(v) for k, v in holder["metrics"].items()},
    }


def bench_config(
    config, sample_shape, batch, warmup: int, num_classes=None, condition_shape=None, accumulation=None
) -> tuple:
    """The train step of an experiment ``config`` (the library's own path: build_gan, build_train_step),
    compiled for ``batch`` and timed; also its XLA FLOP count per step. ``accumulation``: candidate
    ``train.accumulation_steps``, the first whose compiled program fits the device is timed."""
    import jax

    from gans_jax import builders

    gan = builders.build_gan(config, sample_shape, num_classes, condition_shape)
    step = builders.build_train_step(config, gan)
    state = jax.jit(lambda k: step.init_state(k, sample_shape))(jax.random.PRNGKey(0))
    batch = jax.device_put(batch)
    tried = []
    for i, steps in enumerate(accumulation or [config.train.accumulation_steps]):
        config.train.accumulation_steps = steps
        compiled = compile_step(builders.build_train_step(config, gan), state, batch)
        tried.append({"accumulation": steps, "program_bytes": compiled["program_bytes"]})
        if compiled["fits"] or i == len(accumulation or [0]) - 1:
            break
    timer, info = time_compiled_step(compiled, state, batch, warmup)
    extra = {"accumulation": steps, "accumulation_tried": tried, "n_critic": config.train.n_critic}
    return timer, {**info, **extra}


def device_memory() -> dict:
    """The first device's allocator figures (GPU/TPU; empty on CPU): bytes_limit, peak_bytes_in_use."""
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return {k: int(stats[k]) for k in ("bytes_limit", "peak_bytes_in_use", "bytes_in_use") if k in stats}


def compile_step(train_step, state, batch) -> dict:
    """``train_step`` compiled ahead of time (the state donated): ``compiled``, ``compile_s``, XLA's FLOP
    count per step (``flops_per_step``), the program's memory (arguments + outputs + temporaries, less
    donated buffers: ``program_bytes``) and whether that fits 90% of the device (``fits``; True on CPU)."""
    import time

    from gans_jax.training.sharding import compile_train_step

    start = time.perf_counter()
    compiled = compile_train_step(train_step).lower(state, batch).compile()
    seconds = time.perf_counter() - start
    cost = compiled.cost_analysis()
    cost = cost[0] if isinstance(cost, (list, tuple)) else cost
    try:
        m = compiled.memory_analysis()
        program = m.argument_size_in_bytes + m.output_size_in_bytes + m.temp_size_in_bytes
        program -= m.alias_size_in_bytes
    except Exception:  # noqa: BLE001 - not every backend reports it
        program = None
    limit = device_memory().get("bytes_limit")
    return {
        "compiled": compiled,
        "compile_s": seconds,
        "flops_per_step": float(cost.get("flops", float("nan"))),
        "program_bytes": program,
        "fits": limit is None or program is None or program <= 0.9 * limit,
    }


def time_compiled_step(compiled: dict, state, batch, warmup: int) -> tuple:
    """:func:`time_jax_step` of a step from :func:`compile_step`, with its FLOP count, its program's
    memory and the device's peak memory after the timed steps (``peak_bytes``, GPU/TPU)."""
    timer, info = time_jax_step(compiled["compiled"], state, batch, warmup)
    info["compile_s"] += compiled["compile_s"]
    info["flops_per_step"] = compiled["flops_per_step"]
    info["program_bytes"] = compiled["program_bytes"]
    info["peak_bytes"] = lambda: device_memory().get("peak_bytes_in_use")
    return timer, info


# --model -> (experiment file, its network width overrides); the image side is --resolution.
TRANSLATION = {
    "pix2pix": "pix2pix_facades.py",
    "cyclegan": "cyclegan_horse2zebra.py",
    "srgan": "srgan_folder.py",
}


def _random_vgg19_npz(layer: str) -> str:
    """A temporary ``.npz`` of VGG19 weights (random, in torchvision's layout) up to ``layer``: SRGAN's
    VGG content loss costs the same with any weights, and the real ones cannot be downloaded here."""
    import tempfile

    import jax
    import jax.numpy as jnp
    import numpy as np

    from gans_jax.models.vgg import VGG19, torchvision_state_dict

    params = VGG19(layer).init(jax.random.PRNGKey(0), jnp.zeros((1, 32, 32, 3)))
    path = os.path.join(tempfile.mkdtemp(), "vgg19_random.npz")
    np.savez(path, **torchvision_state_dict(params))
    return path


def bench_translation(args) -> tuple:
    """pix2pix, CycleGAN or SRGAN at ``--resolution`` with the papers' networks (their experiment
    files), on a random batch of ``--batch`` (target, source) pairs."""
    import numpy as np

    from gans_jax import configs

    res = args.resolution
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = configs.load_config(
        os.path.join(root, "experiments", TRANSLATION[args.model]),
        {"model.resolution": res, "train.batch_size": args.batch},
    )
    if args.model == "srgan" and args.content != "pixel":
        config.auxiliary_losses.content.update(features=args.content, weights=_random_vgg19_npz(args.content))
    source_res = res // config.data.scale if args.model == "srgan" else res
    rng = np.random.default_rng(0)
    pixels = lambda side: (
        rng.integers(0, 256, size=(args.batch, side, side, NC)).astype(np.float32) / 127.5 - 1
    )
    batch = {"image": pixels(res), "condition": pixels(source_res)}
    return bench_config(
        config, (res, res, NC), batch, args.warmup, condition_shape=(source_res, source_res, NC)
    )


def bench_biggan(args) -> tuple:
    """BigGAN's train step built from ``experiments/biggan_imagenet.py`` (the library's own path)."""
    import numpy as np

    from gans_jax import configs

    res = args.resolution
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = configs.load_config(
        os.path.join(root, "experiments", "biggan_imagenet.py") + (f":{args.preset}" if args.preset else ""),
        {
            "model.resolution": res,
            "model.g_channels": args.ch,
            "model.d_channels": args.ch,
            "model.attention": str(min(64, res // 2)),
            "train.compute_dtype": args.dtype,
        },
    )
    if args.n_critic is not None:
        config.train.n_critic = args.n_critic
    images = config.train.n_critic * args.batch  # one minibatch of --batch per D update
    config.train.batch_size = images
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(images, res, res, NC), dtype=np.uint8)
    batch = {
        "image": pixels.astype(np.float32) / 127.5 - 1.0,
        "label": rng.integers(0, 1000, images).astype(np.int32),
    }
    return bench_config(
        config, (res, res, NC), batch, args.warmup, num_classes=1000, accumulation=args.accumulation
    )


def bench_stylegan2(args) -> tuple:
    """StyleGAN2 config F's train step from ``experiments/stylegan2_ffhq.py`` at ``--resolution``."""
    import numpy as np

    from gans_jax import configs

    res = args.resolution
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = configs.load_config(
        os.path.join(root, "experiments", "stylegan2_ffhq.py") + (f":{args.preset}" if args.preset else ""),
        {"model.resolution": res, "train.batch_size": args.batch, "train.compute_dtype": args.dtype},
    )
    pixels = np.random.default_rng(0).integers(0, 256, size=(args.batch, res, res, NC), dtype=np.uint8)
    batch = {"image": pixels.astype(np.float32) / 127.5 - 1.0}
    return bench_config(config, (res, res, NC), batch, args.warmup)


def bench_pggan(args) -> tuple:
    """The Progressive GAN stage at ``args.resolution`` of ``experiments/pggan_celebahq.py``, mid-fade."""
    import jax
    import numpy as np

    from gans_jax import builders, configs
    from gans_jax.training import progressive

    res = args.resolution
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    config = configs.load_config(os.path.join(root, "experiments", "pggan_celebahq.py"))
    config.model.resolution = res
    config.train.batch_size = args.batch
    recipe = builders.build_train_step(config, builders.build_gan(config, (res, res, NC), None))
    state = jax.jit(lambda k: recipe.init_state(k, (res, res, NC)))(jax.random.PRNGKey(0))
    # A stage whose fade is half done at step 0 and never ends during the benchmark.
    half = 10**6
    stage = progressive.Stage(res, args.batch, 2 * half * args.batch, 2 * half, 1, -half)
    step = progressive.fade_in_step(recipe, stage)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(args.batch, res, res, NC), dtype=np.uint8)
    batch = {"image": jax.device_put(pixels.astype(np.float32) / 127.5 - 1.0)}
    return time_compiled_step(compile_step(step, state, batch), state, batch, args.warmup)


def bench_jax(args) -> dict:
    if args.model == "biggan":
        return bench_biggan(args)
    if args.model in TRANSLATION:
        return bench_translation(args)
    if args.model == "pggan":
        return bench_pggan(args)
    if args.model == "stylegan2":
        return bench_stylegan2(args)
    import jax
    import optax

    from gans_jax.losses import get_objective
    from gans_jax.training.state import GAN
    from gans_jax.training.step import make_train_step

    objective, n_critic, betas = "non_saturating", 1, (0.5, 0.999)
    if args.model == "dcgan":
        from gans_jax.models.dcgan import Discriminator, Generator

        generator = Generator(args.resolution, NGF, NC, upsample=args.upsample)
        discriminator = Discriminator(args.resolution, NDF)
        latent_shape = (NZ,)
    elif args.model == "sngan_resnet":
        from gans_jax.models.sngan import ResNetDiscriminator, ResNetGenerator

        generator, discriminator = ResNetGenerator(32, 256, NC), ResNetDiscriminator(32, 128)
        latent_shape = (128,)
        objective, n_critic, betas = "hinge", SNGAN_N_DIS, (0.0, 0.9)
    else:
        from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator

        generator = MLPGenerator(MLP_DIM, MLP_HIDDEN)
        discriminator = MLPDiscriminator(MLP_HIDDEN)
        latent_shape = (MLP_LATENT,)
    gan = GAN(
        generator,
        discriminator,
        optax.adam(2e-4, b1=betas[0], b2=betas[1]),
        optax.adam(2e-4, b1=betas[0], b2=betas[1]),
        latent_shape,
    )
    real = real_batch(args)
    state = gan.init_state(jax.random.PRNGKey(0), real.shape[1:])
    dtype = None if args.dtype == "float32" else args.dtype
    train_step = make_train_step(gan, get_objective(objective), n_critic=n_critic, compute_dtype=dtype)
    batch = {"image": jax.device_put(real)}
    return time_compiled_step(compile_step(train_step, state, batch), state, batch, args.warmup)


# --------------------------------------------------------------------------------------------------
# PyTorch: the reference, written from the architecture description.
# --------------------------------------------------------------------------------------------------


def torch_models(torch, args):
    nn = torch.nn
    if args.model == "mlp":

        def mlp(sizes, act):
            layers = []
            for i in range(len(sizes) - 1):
                layers.append(nn.Linear(sizes[i], sizes[i + 1]))
                if i < len(sizes) - 2:
                    layers.append(act())
            return nn.Sequential(*layers)

        net_g = mlp((MLP_LATENT, *MLP_HIDDEN, MLP_DIM), nn.ReLU)
        net_d = mlp((MLP_DIM, *MLP_HIDDEN, 1), lambda: nn.LeakyReLU(0.2))
        return net_g, net_d, (MLP_LATENT,)

    stages = args.resolution.bit_length() - 3  # log2(resolution) - 2 up/down-sampling stages
    # Generator: 1x1 -> 4x4 by a 4x4 transposed conv, then stride-2 transposed convs halving channels.
    width = NGF * 2 ** (stages - 1)
    g_layers = [nn.ConvTranspose2d(NZ, width, 4, 1, 0, bias=False), nn.BatchNorm2d(width), nn.ReLU(True)]
    for _ in range(stages - 1):
        g_layers += [
            nn.ConvTranspose2d(width, width // 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width // 2),
            nn.ReLU(True),
        ]
        width //= 2
    g_layers += [nn.ConvTranspose2d(width, NC, 4, 2, 1, bias=False), nn.Tanh()]
    # Discriminator: stride-2 4x4 convs doubling channels, BN on all but the first, 4x4 valid conv to
    # one logit (the sigmoid lives in BCEWithLogitsLoss).
    width = NDF
    d_layers = [nn.Conv2d(NC, width, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for _ in range(stages - 1):
        d_layers += [
            nn.Conv2d(width, width * 2, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width * 2),
            nn.LeakyReLU(0.2, inplace=True),
        ]
        width *= 2
    d_layers += [nn.Conv2d(width, 1, 4, 1, 0, bias=False)]
    net_g, net_d = nn.Sequential(*g_layers), nn.Sequential(*d_layers)

    def dcgan_init(m):  # N(0, 0.02) conv weights, BN scale N(1, 0.02) and bias 0
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)

    net_g.apply(dcgan_init)
    net_d.apply(dcgan_init)
    return net_g, net_d, (NZ, 1, 1)


def torch_device(torch, name: str) -> str:
    """``--torch-device``: ``auto`` is ``cuda`` when torch sees a GPU, else ``cpu``."""
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--torch-device cuda: torch sees no CUDA device")
    return name


def bench_torch(args, threads: int) -> dict:
    import contextlib

    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    device = torch_device(torch, args.torch_device)
    if device == "cuda":
        torch.backends.cudnn.benchmark = True  # what a PyTorch user turns on for fixed shapes
    # --torch-amp: channels-last memory format and bfloat16 autocast (no GradScaler needed for bf16)
    layout = torch.channels_last if args.torch_amp and args.model == "dcgan" else torch.contiguous_format
    net_g, net_d, latent_shape = torch_models(torch, args)
    net_g, net_d = (net.to(device, memory_format=layout) for net in (net_g, net_d))
    opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
    criterion = torch.nn.BCEWithLogitsLoss()
    real = torch.from_numpy(real_batch(args))
    if args.model == "dcgan":
        real = real.permute(0, 3, 1, 2).contiguous(memory_format=layout)  # NCHW (or channels-last)
    real = real.to(device)
    ones = torch.ones(args.batch, device=device)
    zeros = torch.zeros(args.batch, device=device)
    autocast = (
        (lambda: torch.autocast(device, dtype=torch.bfloat16)) if args.torch_amp else contextlib.nullcontext
    )
    last = {}

    def step():
        # (1) D: maximise log D(x) + log(1 - D(G(z)))
        net_d.zero_grad()
        with autocast():
            err_real = criterion(net_d(real).view(-1).float(), ones)
        err_real.backward()
        noise = torch.randn(args.batch, *latent_shape, device=device)
        with autocast():
            fake = net_g(noise)
            err_fake = criterion(net_d(fake.detach()).view(-1).float(), zeros)
        err_fake.backward()
        opt_d.step()
        # (2) G: maximise log D(G(z)) (non-saturating), through the updated D
        net_g.zero_grad()
        with autocast():
            err_g = criterion(net_d(fake).view(-1).float(), ones)
        err_g.backward()
        opt_g.step()
        last.update(d_loss=err_real + err_fake, g_loss=err_g)

    block = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    timer = Timer(step, block)
    first = timer.first(args.warmup)
    info = {"first_step_s": first, "torch_version": torch.__version__, "torch_device": device}
    info["torch_mode"] = "channels_last + autocast bfloat16" if args.torch_amp else "float32"
    if device == "cuda":
        info["torch_gpu"] = torch.cuda.get_device_name()
        info["torch_tf32"] = {
            "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
            "cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        }
    return timer, info


def torch_available() -> bool:
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads = pin_threads(args.threads)
    import jax

    run_torch = not args.no_torch and args.model in ("dcgan", "mlp") and torch_available()
    sides = {}
    order = ("torch", "jax") if args.torch_first else ("jax", "torch")
    for side in order:
        if side == "jax":
            sides["jax"] = bench_jax(args)
        elif run_torch:
            sides["torch"] = bench_torch(args, threads)
    # Interleave the timed repeats so that both sides see the same background load.
    for _ in range(args.repeats):
        for side in order:
            if side in sides:
                sides[side][0].repeat(args.steps)
    jax_timer, jax_info = sides["jax"]
    jax_rate, jax_others = jax_timer.best()
    torch_timer, torch_info = sides.get("torch", (None, None))
    torch_rate, torch_others = torch_timer.best() if torch_timer else (None, None)

    def share(x):
        return None if x is None else round(x, 3)

    summary = {
        "model": args.model,
        "resolution": 32
        if args.model == "sngan_resnet"
        else None
        if args.model == "mlp"
        else args.resolution,
        "batch": args.batch,
        "compile_s": round(jax_info["compile_s"], 3),
        "steps_per_s": round(jax_rate, 4),
        "torch_steps_per_s": round(torch_rate, 4) if torch_rate else None,
        "ratio": round(jax_rate / torch_rate, 3) if torch_rate else None,
        "device": device_name(jax.devices()[0]),
        "dtype": args.dtype,
        "threads": threads,
        "jax_version": jax.__version__,
        "torch_version": torch_info["torch_version"] if torch_info else None,
        "steps": args.steps,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "jax_all_steps_per_s": [round(r, 4) for r in jax_timer.rates],
        "torch_all_steps_per_s": [round(r, 4) for r in torch_timer.rates] if torch_timer else None,
        # CPU share of other processes while the best repeat ran (0 = quiet machine, 1 = all cores busy).
        "others_cpu_jax": share(jax_others),
        "others_cpu_torch": share(torch_others),
        "load_avg_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "jax_metrics": jax_info["metrics"](),
        "program_bytes": jax_info.get("program_bytes"),
        "peak_bytes": jax_info["peak_bytes"]() if "peak_bytes" in jax_info else None,
    }
    if args.model == "dcgan":
        summary["upsample"] = args.upsample
    if torch_info:
        summary.update({k: v for k, v in torch_info.items() if k.startswith("torch_")})
    if "flops_per_step" in jax_info:
        peak, source = (args.peak_flops, "given") if args.peak_flops else peak_flops()
        flops = jax_info["flops_per_step"]
        per_step = args.batch * (jax_info["n_critic"] if args.model == "biggan" else 1)  # real images
        summary.update(
            images_per_s=round(per_step * jax_rate, 3),
            flops_per_step=flops,
            peak_flops=peak,
            peak_source=source,
            mfu=round(flops * jax_rate / peak, 4),
        )
        if torch_rate:  # the same architecture: the same model FLOPs per step
            summary["torch_mfu"] = round(flops * torch_rate / peak, 4)
    if args.model == "biggan":
        summary.update(
            ch=args.ch,
            n_critic=jax_info["n_critic"],
            accumulation=jax_info["accumulation"],
            accumulation_tried=jax_info["accumulation_tried"],
            s_per_iteration_at_2048=round(2048 / args.batch / jax_rate, 3),
        )
    if args.model == "pggan":
        summary.update(images_per_s=round(args.batch * jax_rate, 3), alpha=summary["jax_metrics"]["alpha"])
    if args.model == "stylegan2":
        summary["s_per_kimg"] = round(1000 / (args.batch * jax_rate), 1)
    rows = [("JAX (gans_jax)", jax_info["compile_s"], jax_rate, jax_others)]
    if torch_timer:
        rows.append(
            ("PyTorch " + torch_info["torch_version"], torch_info["first_step_s"], torch_rate, torch_others)
        )
    print(f"{args.model} resolution={summary['resolution']} batch={args.batch} threads={threads}")
    print(f"{'side':<24}{'first call s':>14}{'steps/s':>10}{'others cpu':>12}")
    for name, first, rate, others in rows:
        others = "n/a" if others is None else f"{others:.0%}"
        print(f"{name:<24}{first:>14.2f}{rate:>10.3f}{others:>12}")
    if "mfu" in summary:
        print(
            f"{summary['images_per_s']} images/s, {summary['flops_per_step'] / 1e9:.1f} GFLOP/step, "
            f"MFU {summary['mfu']:.1%} of {summary['peak_flops'] / 1e12:.2f} TFLOP/s "
            f"({summary['peak_source']})"
            + (f"; PyTorch MFU {summary['torch_mfu']:.1%}" if "torch_mfu" in summary else "")
        )
    if args.model == "biggan":
        print(f"{summary['s_per_iteration_at_2048']} s per batch-2048 iteration")
    if args.model == "stylegan2":
        print(f"{summary['s_per_kimg']} s/kimg (StyleGAN2-ADA, one V100 at 256x256: about 22 s/kimg)")
    if summary["ratio"] is not None:
        print(f"ratio jax/torch: {summary['ratio']:.2f}")
    elif not args.no_torch:
        print("PyTorch not importable: reference skipped")
    print(json.dumps(summary))
    return summary


if __name__ == "__main__":
    main()
