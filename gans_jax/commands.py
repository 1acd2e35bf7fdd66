"""``gans-jax sample``, ``gans-jax interpolate``, ``gans-jax describe`` and ``gans-jax translate``."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from gans_jax import builders, evaluation, sampling, visualize
from gans_jax.cli_flags import parse_flags, require


def _define_run_flags(fv, *, num_default: int) -> None:
    from absl import flags

    flags.DEFINE_string("workdir", None, "Training workdir (config.json + checkpoints/).", flag_values=fv)
    flags.DEFINE_string("out", None, "Output path (see the command's help).", flag_values=fv)
    flags.DEFINE_integer(
        "num", num_default, "Number of samples (rows for interpolate).", lower_bound=1, flag_values=fv
    )
    flags.DEFINE_integer("seed", 0, "Seed of the latents and labels.", flag_values=fv)
    flags.DEFINE_integer(
        "step", None, "Checkpoint step (default: the latest).", lower_bound=0, flag_values=fv
    )
    flags.DEFINE_bool("ema", True, "Use the EMA generator when the run has one.", flag_values=fv)
    flags.DEFINE_float(
        "truncation", 0.0, "Truncation threshold for z (0 = none).", lower_bound=0.0, flag_values=fv
    )
    flags.DEFINE_float(
        "truncation_psi", 1.0, "Style models: truncation in W, w_avg + psi (w - w_avg).", flag_values=fv
    )
    flags.DEFINE_integer(
        "truncation_cutoff", None, "Style models: truncate only layers < cutoff.", flag_values=fv
    )
    flags.DEFINE_enum(
        "noise_mode",
        "const",
        ["const", "random", "none"],
        "Style models: per-pixel noise (StyleGAN2-ADA's noise_mode).",
        flag_values=fv,
    )


def _style_options(fv, gan) -> dict:
    """The style-model flags as :mod:`gans_jax.style_sampling` keywords; refused for other models."""
    from gans_jax import style_sampling

    used = fv.truncation_psi != 1.0 or fv.truncation_cutoff is not None or fv.noise_mode != "const"
    if not style_sampling.is_style_generator(gan):
        if used:
            raise SystemExit(
                "gans-jax: --truncation-psi/--truncation-cutoff/--noise-mode need a StyleGAN run"
            )
        return {}
    return dict(
        psi=fv.truncation_psi,
        cutoff=fv.truncation_cutoff,
        noise=fv.noise_mode,
        key=jax.random.PRNGKey(fv.seed + 1),
        use_ema=fv.ema,
    )


def _split_pair_flag(argv: list[str], name: str) -> list[str]:
    """``--style-mix A B`` (two values after the flag) -> ``--style_mix=A:B``."""
    out, i = [], 0
    while i < len(argv):
        if argv[i] in (f"--{name}", f"--{name.replace('_', '-')}"):
            if i + 2 >= len(argv) or argv[i + 1].startswith("--") or argv[i + 2].startswith("--"):
                raise SystemExit(f"gans-jax: --{name} takes two seed lists, e.g. --{name} 1,2,3 4,5")
            out.append(f"--{name}={argv[i + 1]}:{argv[i + 2]}")
            i += 3
        else:
            out.append(argv[i])
            i += 1
    return out


def _latents(gan, key, num: int, truncation: float):
    if truncation > 0:
        return sampling.truncated_latents(key, num, tuple(gan.latent_shape), truncation)
    return gan.sample_latents(key, num)


def _labels(gan, key, num: int, labels: list[str] | None):
    if not gan.conditional:
        if labels:
            raise SystemExit("gans-jax: --labels given but the model is unconditional")
        return None
    if not labels:
        return gan.sample_labels(key, num)
    if len(labels) == 1 and labels[0].endswith(".npy"):
        labels = np.load(labels[0]).reshape(-1).tolist()
    try:
        values = [int(v) for v in labels]
    except ValueError:
        raise SystemExit(f"gans-jax: --labels takes class indices or a .npy file, got {labels}") from None
    bad = [v for v in values if not 0 <= v < gan.num_classes]
    if bad:
        raise SystemExit(f"gans-jax: labels {bad} outside [0, {gan.num_classes})")
    return jnp.resize(jnp.asarray(values, jnp.int32), (num,))  # cycled to --num


def parse_seeds(text: str) -> list[int]:
    """``"0-3,7,9-10"`` -> ``[0, 1, 2, 3, 7, 9, 10]``: StyleGAN2-ADA's ``--seeds`` (inclusive ranges)."""
    seeds = []
    for part in text.split(","):
        first, dash, last = part.strip().partition("-")
        try:
            lo, hi = int(first), int(last if dash else first)
        except ValueError:
            lo = hi = -1
        if lo < 0 or hi < lo:
            raise SystemExit(f"gans-jax: bad seed list {text!r}: expected seeds and ranges like 0-3,7,9-10")
        seeds.extend(range(lo, hi + 1))
    return seeds


def seed_inputs(gan, seeds, *, truncation: float = 0.0, labels=None):
    """One latent per seed, drawn from ``PRNGKey(seed)`` (truncated at ``truncation`` > 0), the latent
    :func:`gans_jax.style_sampling.seed_latents` gives for that seed; a conditional model's label from
    ``fold_in(PRNGKey(seed), 1)`` unless ``labels`` (cycled) are given. Returns ``(z, labels)``."""
    keys = [jax.random.PRNGKey(int(s)) for s in seeds]
    z = jnp.concatenate([_latents(gan, k, 1, truncation) for k in keys])
    if gan.conditional and not labels:
        return z, jnp.concatenate([gan.sample_labels(jax.random.fold_in(k, 1), 1) for k in keys])
    return z, _labels(gan, None, len(keys), labels)


def given_latents(gan, path: str) -> jax.Array:
    """The latents stored in ``path`` (``.npy``, shape ``(N, *gan.latent_shape)``), checked."""
    try:
        z = np.load(path)
    except (OSError, ValueError) as e:
        raise SystemExit(f"gans-jax: --latents {path}: cannot read it as a .npy array ({e})") from None
    if z.ndim < 1 or tuple(z.shape[1:]) != tuple(gan.latent_shape) or not len(z):
        expected = ", ".join(["N", *map(str, gan.latent_shape)])
        raise SystemExit(f"gans-jax: --latents {path} has shape {z.shape}; the model takes ({expected})")
    return jnp.asarray(z, jnp.float32)


def generate_samples(
    workdir,
    num,
    *,
    seed=0,
    seeds=None,
    latents=None,
    labels=None,
    truncation=0.0,
    use_ema=True,
    step=None,
    style=None,
):
    """Samples of a trained run: returns ``(samples, labels)``. ``num`` latents drawn from
    ``PRNGKey(seed)``, or with ``seeds`` one image per seed (:func:`seed_inputs`; ``num`` unused), or the
    ``latents`` stored in a ``.npy`` file (labels then from ``labels``, else drawn from ``PRNGKey(seed)``).
    ``style``: :mod:`gans_jax.style_sampling` options (truncation in W, noise) for style models."""
    from gans_jax import style_sampling

    _, gan, state = builders.load_run(workdir, step)
    if latents is not None:
        z = given_latents(gan, latents)
        y = _labels(gan, jax.random.PRNGKey(seed), len(z), labels)
    elif seeds is not None:
        z, y = seed_inputs(gan, seeds, truncation=truncation, labels=labels)
    else:
        k_z, k_y = jax.random.split(jax.random.PRNGKey(seed))
        z = _latents(gan, k_z, num, truncation)
        y = _labels(gan, k_y, num, labels)
    if style:
        options = {k: v for k, v in style.items() if k != "use_ema"}
        noise_key = options.pop("key", None)
        ws = style_sampling.mapping(
            gan, state, z, y, psi=options["psi"], cutoff=options["cutoff"], use_ema=use_ema
        )
        images = style_sampling.synthesis(
            gan, state, ws, noise=options["noise"], key=noise_key, use_ema=use_ema
        )
        return np.asarray(images), y
    return np.asarray(gan.generate(state, z, y, use_ema=use_ema)), y


def write_samples(out: str, samples: np.ndarray, names=None) -> str:
    """``.npy``: the raw array; ``.png``: a grid (a scatter plot for 2-D points); else a folder of PNGs
    (``names``: their file names without extension, default ``000000``, ``000001``, ...)."""
    if out.endswith(".npy"):
        os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
        np.save(out, samples)
    elif out.endswith(".png"):
        if samples.ndim == 2:
            visualize.save_png(out, visualize.scatter_image(samples))
        else:
            visualize.save_png(out, visualize.image_grid(samples, int(np.ceil(np.sqrt(len(samples))))))
    else:
        if samples.ndim == 2:
            raise SystemExit("gans-jax: 2-D samples go to a .npy or .png file, not a folder")
        os.makedirs(out, exist_ok=True)
        names = names or [f"{i:06d}" for i in range(len(samples))]
        for name, image in zip(names, visualize.to_uint8(samples), strict=True):
            visualize.save_png(os.path.join(out, f"{name}.png"), image)
    return out


def sample_main(argv: list[str]) -> None:
    """``gans-jax sample --workdir DIR --num N --out PATH [--seed S] [--labels 1,2] [--truncation T]``,
    or ``--seeds 0-35`` in place of ``--num``/``--seed``; style models also take ``--truncation-psi P
    [--truncation-cutoff L] [--noise-mode const|random|none]`` and ``--style-mix SEEDS_A SEEDS_B
    [--mix-layers K]`` (the style-mixing grid, StyleGAN Fig. 3).

    ``--seed S --num N`` draws N latents at once from ``PRNGKey(S)``; ``--seeds`` (StyleGAN2-ADA's
    syntax: ``0-3,7,9-10``) draws one image per seed, its latent from ``PRNGKey(seed)``, so an image
    depends on its seed alone (seed 7 is the same image in any list, and the one ``--style-mix`` shows
    for seed 7); it is not image 7 of ``--seed 0 --num 8``. A folder output names them
    ``seed0007.png``."""

    def define(fv):
        from absl import flags

        _define_run_flags(fv, num_default=64)
        flags.DEFINE_list("labels", None, "Class labels, cycled to --num.", flag_values=fv)
        flags.DEFINE_string(
            "seeds", None, "One image per seed, e.g. 0-35 or 0-3,7 (instead of --num/--seed).", flag_values=fv
        )
        flags.DEFINE_string(
            "latents", None, "A .npy of latents (N, *latent_shape): exactly these images.", flag_values=fv
        )
        flags.DEFINE_string(
            "style_mix", None, "Style-mixing grid: row seeds and column seeds.", flag_values=fv
        )
        flags.DEFINE_integer(
            "mix_layers", 4, "Style mixing: coarse layers taken from the column seed.", flag_values=fv
        )

    fv = parse_flags(_split_pair_flag(argv, "style_mix"), define)
    require(fv, "workdir", "out")
    if fv.style_mix:
        from gans_jax import style_sampling

        rows, _, cols = fv.style_mix.partition(":")
        if not (rows and cols):
            raise SystemExit(f"gans-jax: --style-mix needs two seed lists, got {fv.style_mix!r}")
        seeds = [parse_seeds(part) for part in (rows, cols)]
        _, gan, state = builders.load_run(fv.workdir, fv.step)
        options = _style_options(fv, gan)
        if not options:
            raise SystemExit("gans-jax: --style-mix needs a StyleGAN run")
        grid = style_sampling.style_mixing_grid(gan, state, *seeds, mix_layers=fv.mix_layers, **options)
        visualize.save_png(fv.out, visualize.image_grid(grid, len(seeds[1]) + 1))
        print(f"wrote a {len(seeds[0]) + 1} x {len(seeds[1]) + 1} style-mixing grid to {fv.out}")
        return
    seeds = parse_seeds(fv.seeds) if fv.seeds else None
    if seeds and (fv["num"].present or fv["seed"].present):
        raise SystemExit("gans-jax: --seeds draws one image per seed: give it without --num and --seed")
    if fv.latents and (seeds or fv["num"].present or fv.truncation):
        raise SystemExit(
            "gans-jax: --latents gives the latents: use it without --seeds, --num and --truncation"
        )
    _, gan, _ = builders.load_run(fv.workdir, fv.step)
    samples, _ = generate_samples(
        fv.workdir,
        fv.num,
        seed=fv.seed,
        seeds=seeds,
        latents=fv.latents,
        labels=fv.labels,
        truncation=fv.truncation,
        use_ema=fv.ema,
        step=fv.step,
        style=_style_options(fv, gan),
    )
    names = [f"seed{s:04d}" for s in seeds] if seeds else None
    print(f"wrote {len(samples)} samples to {write_samples(fv.out, samples, names)}")


def interpolation_latents(z0, z1, steps: int) -> jax.Array:
    """For each pair of endpoints, a spherical row then a linear row: ``(2 * pairs * steps, ...)``."""
    t = jnp.linspace(0.0, 1.0, steps)[None, :, None]
    spherical = sampling.slerp(z0[:, None], z1[:, None], t)
    linear = (1 - t) * z0[:, None] + t * z1[:, None]
    rows = jnp.stack([spherical, linear], axis=1)  # (pairs, 2, steps, dim)
    return rows.reshape(-1, z0.shape[-1])


def interpolate_main(argv: list[str]) -> None:
    """``gans-jax interpolate --workdir DIR --out strip.png``: per pair of latents, a slerp and a lerp row;
    for style models one row per pair, linear in W (with ``--truncation-psi`` and ``--noise-mode``)."""

    def define(fv):
        from absl import flags

        _define_run_flags(fv, num_default=4)
        flags.DEFINE_integer("steps", 10, "Images per row.", lower_bound=2, flag_values=fv)

    fv = parse_flags(argv, define)
    require(fv, "workdir", "out")
    _, gan, state = builders.load_run(fv.workdir, fv.step)
    if len(gan.latent_shape) != 1:
        raise SystemExit(f"gans-jax: interpolation needs a vector latent, got shape {gan.latent_shape}")
    k0, k1, k_y = jax.random.split(jax.random.PRNGKey(fv.seed), 3)
    z0, z1 = (_latents(gan, k, fv.num, fv.truncation) for k in (k0, k1))
    style = _style_options(fv, gan)
    if style:
        from gans_jax import style_sampling

        samples = style_sampling.interpolate_w(gan, state, z0, z1, fv.steps, **style)
        visualize.save_png(fv.out, visualize.image_grid(samples, fv.steps))
        print(f"wrote {fv.num} rows (linear in W) to {fv.out}")
        return
    z = interpolation_latents(z0, z1, fv.steps)
    labels = None
    if gan.conditional:  # one class per pair, held along both of its rows
        labels = jnp.repeat(gan.sample_labels(k_y, fv.num), 2 * fv.steps)
    samples = np.asarray(gan.generate(state, z, labels, use_ema=fv.ema))
    if samples.ndim != 4:
        raise SystemExit("gans-jax: interpolation strips need an image generator")
    visualize.save_png(fv.out, visualize.image_grid(samples, fv.steps))
    print(f"wrote {2 * fv.num} rows (spherical, linear) to {fv.out}")


def describe(config, *, sample_shape=None, num_classes=None, flops: bool = False) -> dict:
    """Parameter tables of both networks, from shapes alone (:func:`jax.eval_shape`; no data is
    read): the example shape comes from the config (:func:`gans_jax.data.shapes.example_shapes`)
    unless ``sample_shape`` / ``num_classes`` are given. ``flops``: also compile one train step on
    abstract inputs and report its FLOPs (XLA's cost analysis; seconds to minutes)."""
    from clu import parameter_overview

    from gans_jax.data.shapes import example_shapes

    shapes = example_shapes(
        config.data,
        resolution=config.model.resolution,
        conditional=config.model.conditional,
        sample_shape=sample_shape,
        num_classes=num_classes,
    )
    gan = builders.build_gan(config, shapes.sample_shape, shapes.num_classes, shapes.condition_shape)
    state = jax.eval_shape(
        lambda: builders.init_state(config, gan, jax.random.PRNGKey(config.seed), shapes.sample_shape)
    )
    info = {
        "generator_table": parameter_overview.get_parameter_overview(state.g_params, include_stats=False),
        "discriminator_table": parameter_overview.get_parameter_overview(state.d_params, include_stats=False),
        "generator_params": int(parameter_overview.count_parameters(state.g_params)),
        "discriminator_params": int(parameter_overview.count_parameters(state.d_params)),
        "sample_shape": list(shapes.sample_shape),
        "num_classes": gan.num_classes,
    }
    if shapes.condition_shape is not None:
        info["condition_shape"] = list(shapes.condition_shape)
    if flops:
        batch_size = config.train.batch_size
        batch = {"image": jax.ShapeDtypeStruct((batch_size, *shapes.sample_shape), jnp.float32)}
        if gan.conditional:
            batch["label"] = jax.ShapeDtypeStruct((batch_size,), jnp.int32)
        if gan.translation is not None:
            batch["condition"] = jax.ShapeDtypeStruct((batch_size, *shapes.condition_shape), jnp.float32)
        step = jax.jit(builders.build_train_step(config, gan))
        cost = step.lower(state, batch).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        info["step_flops"] = float(cost.get("flops", float("nan")))
    return info


def _shape_flag(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        shape = tuple(int(d) for d in text.replace("x", ",").split(",") if d)
    except ValueError:
        shape = ()
    if not shape or min(shape) < 1:
        raise SystemExit(f"gans-jax: --sample_shape takes positive integers like 64,64,3, got {text!r}")
    return shape


def describe_main(argv: list[str]) -> None:
    """``gans-jax describe --config FILE [--config.key=value ...] [--flops]``: parameter tables of an
    experiment's networks without reading its data (``--sample-shape H,W,C`` and ``--num-classes N``
    where the config alone does not tell, e.g. a folder with ``data.channels=0``)."""

    def define(fv):
        from absl import flags
        from ml_collections import config_flags

        config_flags.DEFINE_config_file("config", None, "Experiment config file.", flag_values=fv)
        flags.DEFINE_bool("flops", False, "Also compile one train step and report its FLOPs.", flag_values=fv)
        flags.DEFINE_string(
            "sample_shape",
            None,
            "One example's shape, e.g. 64,64,3 (default: from the config).",
            flag_values=fv,
        )
        flags.DEFINE_integer(
            "num_classes", None, "Number of classes (default: from the config's data source).", flag_values=fv
        )

    from gans_jax.data.shapes import UnknownShapeError

    fv = parse_flags(argv, define)
    require(fv, "config")
    try:
        info = describe(
            fv.config, sample_shape=_shape_flag(fv.sample_shape), num_classes=fv.num_classes, flops=fv.flops
        )
    except UnknownShapeError as e:
        flag = "--num-classes N" if "classes" in str(e) else "--sample-shape H,W,C"
        raise SystemExit(f"gans-jax: {e} ({flag})") from None
    print("Generator\n" + info.pop("generator_table"))
    print("Discriminator\n" + info.pop("discriminator_table"))
    print(json.dumps(info))


def translate_folder(
    workdir,
    input_dir,
    out_dir,
    *,
    direction="x2y",
    batch_size=32,
    use_ema=True,
    step=None,
    batch_stats=None,
    seed=None,
):
    """Apply a trained image-to-image run to every image under ``input_dir`` (resized and converted to
    the run's source shape); writes ``out_dir/<relative name>.png`` and returns the written paths.
    ``direction`` picks CycleGAN's ``x2y`` (G) or ``y2x`` (F). ``batch_stats`` (default: the run's
    ``eval.batch_stats``) and ``seed`` (default: the run's ``seed``) as in
    :func:`gans_jax.evaluation.translator`: each image alone in training mode, as the pix2pix/CycleGAN
    authors' ``test.py``, or running statistics."""
    from gans_jax.data.folder import ImageFolderSource

    config, gan, state = builders.load_run(workdir, step)
    if gan.translation is None:
        raise SystemExit(f"gans-jax: {workdir} holds a {config.model.name} run, not an image-to-image model")
    if direction not in ("x2y", "y2x"):
        raise SystemExit(f"gans-jax: --direction must be x2y or y2x, got {direction!r}")
    sample_shape = tuple(json.load(open(os.path.join(workdir, "run.json")))["sample_shape"])
    source_shape = tuple(gan.condition_shape) if direction == "x2y" else sample_shape
    source = ImageFolderSource(
        input_dir,
        source_shape[0],
        channels=source_shape[-1],
        labels_from_subfolders=False,
        crop=config.data.crop,
        on_corrupt="error",
    )
    batch_stats = config.eval.batch_stats if batch_stats is None else batch_stats
    seed = config.seed if seed is None else seed
    generate = evaluation.translator(gan, use_ema=use_ema, batch_stats=batch_stats, seed=seed)
    run = lambda condition, start: evaluation.translate(
        gan, state, condition, batch_size=batch_size, generate=generate, start=start
    )
    written = []
    try:
        for start in range(0, len(source), batch_size):
            images = source.read_batch(np.arange(start, min(start + batch_size, len(source))))["image"]
            if gan.translation == "paired":
                out = run(images, start)
            else:
                n = len(images)
                other = np.zeros(
                    (n, *(sample_shape if direction == "x2y" else gan.condition_shape)), np.float32
                )
                domains = {"x": images, "y": other} if direction == "x2y" else {"x": other, "y": images}
                out = run(domains, start)["y" if direction == "x2y" else "x"]
            for name, image in zip(
                source.names[start : start + len(images)], visualize.to_uint8(out), strict=True
            ):
                path = os.path.join(out_dir, os.path.splitext(name)[0] + ".png")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                written.append(visualize.save_png(path, image))
    finally:
        source.close()
    return written


def translate_main(argv: list[str]) -> None:
    """``gans-jax translate --workdir DIR --input FOLDER --out FOLDER [--direction x2y|y2x]``."""

    def define(fv):
        from absl import flags

        flags.DEFINE_string("workdir", None, "Training workdir of an image-to-image run.", flag_values=fv)
        flags.DEFINE_string("input", None, "Folder (or .zip) of source images.", flag_values=fv)
        flags.DEFINE_string("out", None, "Output folder (one PNG per input, same names).", flag_values=fv)
        flags.DEFINE_string("direction", "x2y", "CycleGAN: x2y (G) or y2x (F).", flag_values=fv)
        flags.DEFINE_integer("batch_size", 32, "Images per forward pass.", lower_bound=1, flag_values=fv)
        flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).", flag_values=fv)
        flags.DEFINE_bool("ema", True, "Use the EMA generator when the run has one.", flag_values=fv)
        flags.DEFINE_bool(
            "batch_stats",
            None,
            "Each image alone in training mode (its own batch-norm statistics, dropout on), as the "
            "pix2pix/CycleGAN authors' test.py; --nobatch_stats: running statistics (their --eval). "
            "Default: the run's eval.batch_stats.",
            flag_values=fv,
        )
        flags.DEFINE_integer(
            "seed", None, "Dropout seed with --batch_stats (default: the run's seed).", flag_values=fv
        )

    fv = parse_flags(argv, define)
    require(fv, "workdir", "input", "out")
    written = translate_folder(
        fv.workdir,
        fv.input,
        fv.out,
        direction=fv.direction,
        batch_size=fv.batch_size,
        use_ema=fv.ema,
        step=fv.step,
        batch_stats=fv.batch_stats,
        seed=fv.seed,
    )
    print(f"wrote {len(written)} translated images to {fv.out}")
