"""``gans-jax stats``, ``gans-jax fid`` and ``gans-jax metrics``: Inception statistics and FID of image
folders, zips and npz files, and StyleGAN2-ADA's metrics of a trained run (:func:`metrics_main`).

    gans-jax stats PATH -o ref.npz [--resize legacy_tf|clean] [--num N] [--batch_size 64]
    gans-jax fid A B [--resize legacy_tf|clean] [--num N]
    gans-jax metrics --workdir DIR --metrics fid50k_full,kid50k,pr50k3,is50k [--data PATH|tfds:NAME] \
        [--vgg16 vgg16.pt]
    gans-jax metrics --workdir DIR --metrics ppl_wend [--vgg16 vgg16.pt | --lpips_backbone \
        vgg16-397923af.pth --lpips_weights vgg.pth] [--ppl_crop] [--ppl_num N]

``PATH``, ``A`` and ``B`` are folders of images (searched recursively), ``.zip`` archives of images, or
(for ``fid``) statistics ``.npz`` files written by ``gans-jax stats``, pytorch-fid or clean-fid. Images
are read at their own size, in sorted path order, converted to RGB (greyscale repeated, alpha dropped),
and resized to 299x299 by the Inception extractor in the chosen mode (see
:mod:`gans_jax.metrics.features`); a folder of mixed sizes compiles the extractor once per size.
The statistics file holds ``mu`` and ``sigma`` (pytorch-fid's names), ``num_samples`` and ``resize``.
The last line ``fid`` prints is a JSON object: ``fid``, the sample counts and the resize mode.

Weights come from ``--weights``, ``$GANS_JAX_INCEPTION_WEIGHTS``, the conversion cache or a known
download location (:mod:`gans_jax.metrics.inception_weights`).
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from gans_jax.cli_flags import parse_flags, parse_flags_and_paths
from gans_jax.data.folder import IMAGE_EXTENSIONS, decode_image, list_images

__all__ = ["fid_main", "image_source", "iter_image_batches", "metrics_main", "stats_main", "stats_of_path"]

_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[\w.\-]+)?(:[\w.\-]+)?(\[[^\]]*\])?$")


def _is_workdir(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file()


def image_source(
    path: str | os.PathLike[str],
) -> tuple[list[str], Callable[[str], bytes], Callable[[], None]]:
    """Sorted image names under a folder or zip, a reader of their bytes, and a closer.

    A string that names no file but looks like a TFDS dataset (``cifar10``, ``celeb_a/2.0.1:train``)
    raises NotImplementedError: :func:`stats_of_path` reads those through the data pipeline."""
    root = Path(path)
    if not root.exists():
        if _TFDS_NAME.match(str(path)):
            raise NotImplementedError(
                f"{str(path)!r} is not a file or folder but looks like a TFDS dataset name: "
                "`gans-jax stats` reads TFDS datasets; other commands need a folder, .zip or stats .npz"
            )
        raise FileNotFoundError(f"{str(path)!r} does not exist (expected a folder or .zip of images)")
    if _is_workdir(root):
        raise ValueError(
            f"{root} is a training workdir, not a folder of images: `gans-jax fid` samples it; "
            "`gans-jax metrics --workdir` computes fid50k and friends against its data"
        )
    return list_images(root)


def iter_image_batches(
    path: str | os.PathLike[str], batch_size: int, *, num: int | None = None, progress: bool = True
) -> Iterator[np.ndarray]:
    """uint8 ``(n, H, W, 3)`` batches of the images under ``path`` (at most ``num``), each batch of one
    size; images of a size are batched together in path order."""
    names, read, close = image_source(path)
    if not names:
        close()
        raise ValueError(f"no images found in {path} (extensions: {', '.join(IMAGE_EXTENSIONS)})")
    names = names[:num] if num is not None else names
    from tqdm.auto import tqdm

    pending: dict[tuple[int, ...], list[np.ndarray]] = {}
    try:
        for name in tqdm(
            names, desc=f"reading {Path(path).name}", unit="img", disable=not progress, leave=False
        ):
            img = np.asarray(decode_image(read(name), f"{path}:{name}", "RGB"))
            group = pending.setdefault(img.shape, [])
            group.append(img)
            if len(group) == batch_size:
                yield np.stack(pending.pop(img.shape))
        for group in pending.values():
            yield np.stack(group)
    finally:
        close()


def tfds_batches(name: str, batch_size: int, num: int | None = None):
    """Images of a TFDS dataset (``name`` or ``name:split``, default split ``train``) at their own size,
    one epoch in the data pipeline's order, as [-1, 1] float batches."""
    from gans_jax.data.pipeline import make_dataset
    from gans_jax.metrics.evaluate import dataset_batches

    name, _, split = name.partition(":")
    data = {"source": f"tfds:{name}", "split": split or "train", "label_key": ""}
    try:
        dataset = make_dataset(data, resolution=None, batch_size=batch_size, seed=0)
    except KeyError as e:  # TFDS's way of saying the split was never generated
        raise FileNotFoundError(
            f"TFDS dataset {name!r} (split {split or 'train'!r}) is not prepared here: {e}; prepare it with "
            f"`tfds build {name} --file_format=array_record` (the `tf` extra)"
        ) from None
    return dataset_batches(dataset, num or dataset.num_examples)


def stats_of_path(path, extractor, *, num: int | None = None, batch_size: int = 64, progress: bool = True):
    """:class:`~gans_jax.metrics.fid.FeatureStats` of the images under a folder or zip, or of a TFDS
    dataset named ``name[:split]``."""
    from gans_jax.metrics.fid import compute_stats

    if not Path(path).exists() and _TFDS_NAME.match(str(path)):
        return compute_stats(tfds_batches(str(path), batch_size, num), extractor, num=num, progress=progress)
    batches = iter_image_batches(path, batch_size, num=num, progress=progress)
    return compute_stats(batches, extractor, progress=False)


def _define_common(fv) -> None:
    from absl import flags

    from gans_jax.metrics.features import RESIZE_MODES

    help_resize = (
        "Resize to 299x299: legacy_tf (TF1 bilinear, as TF FID and StyleGAN) or clean (Pillow bicubic, "
        "as clean-fid)."
    )
    flags.DEFINE_enum("resize", "legacy_tf", list(RESIZE_MODES), help_resize, flag_values=fv)
    flags.DEFINE_integer("batch_size", 64, "Images per compiled call.", lower_bound=1, flag_values=fv)
    flags.DEFINE_integer(
        "num", None, "Use at most this many images of each folder/zip.", lower_bound=1, flag_values=fv
    )
    flags.DEFINE_string("weights", None, "Inception weights file (default: looked up).", flag_values=fv)
    flags.DEFINE_bool("progress", True, "Show progress bars.", flag_values=fv)


def _extractor(fv):
    from gans_jax.metrics.features import InceptionExtractor
    from gans_jax.metrics.inception_weights import MissingWeightsError

    try:
        return InceptionExtractor(fv.weights, resize=fv.resize, batch_size=fv.batch_size)
    except MissingWeightsError as e:
        raise SystemExit(f"gans-jax: {e}") from None


def _user_error(e: Exception) -> SystemExit:
    return SystemExit(f"gans-jax: {e}")


def stats_main(argv: list[str]) -> None:
    """``gans-jax stats PATH -o ref.npz``: Inception mean and covariance of a folder or zip of images,
    or of a TFDS dataset (``cifar10``, ``mnist:test``) prepared locally."""

    def define(fv):
        from absl import flags

        flags.DEFINE_string(
            "output", None, "Statistics .npz to write (mu, sigma).", short_name="o", flag_values=fv
        )
        _define_common(fv)

    usage = "gans-jax stats PATH -o ref.npz [--resize legacy_tf|clean] [--num N]"
    fv, (path,) = parse_flags_and_paths(argv, define, 1, usage)
    if not fv.output:
        raise SystemExit(f"gans-jax: --output (-o) is required\nusage: {usage}")
    from gans_jax.metrics.fid import save_stats

    try:
        if Path(path).exists() or not _TFDS_NAME.match(str(path)):
            image_source(path)[2]()  # fail on a bad path before loading the network
        stats = stats_of_path(
            path, _extractor(fv), num=fv.num, batch_size=fv.batch_size, progress=fv.progress
        )
    except (FileNotFoundError, ValueError, NotImplementedError) as e:
        raise _user_error(e) from None
    os.makedirs(os.path.dirname(os.path.abspath(fv.output)), exist_ok=True)
    save_stats(fv.output, stats, resize=fv.resize)
    print(json.dumps({"output": fv.output, "num_samples": stats.num, "resize": fv.resize}))


def _npz_stats(path: str, resize: str):
    from gans_jax.metrics.fid import load_stats

    mu, sigma, num = load_stats(path)
    with np.load(path, allow_pickle=False) as f:
        recorded = str(f["resize"]) if "resize" in f.files else None
    if recorded is not None and recorded != resize:
        raise ValueError(f"{path} holds statistics of {recorded!r}-resized images, but --resize={resize}")
    return mu, sigma, num


def fid_main(argv: list[str]) -> None:
    """``gans-jax fid A B``: FID between two folders, zips, statistics files or training workdirs
    (``--num`` samples of the EMA generator, 50,000 by default)."""
    usage = "gans-jax fid A B [--resize legacy_tf|clean] [--num N]   (A, B: folder, zip, npz or workdir)"
    fv, paths = parse_flags_and_paths(argv, _define_common, 2, usage)
    from gans_jax.metrics.fid import compute_stats, frechet_distance

    results, extractor = [], None
    try:
        for path in paths:
            if str(path).endswith(".npz") and Path(path).is_file():
                results.append(_npz_stats(path, fv.resize))
                continue
            if _is_workdir(Path(path)):  # sample the run's EMA generator
                from gans_jax.builders import load_run
                from gans_jax.metrics.evaluate import run_sampler
                from gans_jax.metrics.fid import generator_batches

                _, gan, state = load_run(path)
                num = fv.num or 50_000
                extractor = extractor or _extractor(fv)
                batches = generator_batches(run_sampler(gan, state), num, fv.batch_size)
                stats = compute_stats(batches, extractor, num=num, progress=fv.progress, desc=str(path))
                results.append((stats.mu, stats.sigma, stats.num))
                continue
            image_source(path)[2]()
            extractor = extractor or _extractor(fv)
            stats = stats_of_path(path, extractor, num=fv.num, batch_size=fv.batch_size, progress=fv.progress)
            results.append((stats.mu, stats.sigma, stats.num))
    except (FileNotFoundError, ValueError, NotImplementedError) as e:
        raise _user_error(e) from None
    (mu1, sigma1, n1), (mu2, sigma2, n2) = results
    fid = frechet_distance(mu1, sigma1, mu2, sigma2)
    print(f"FID {fid:.4f} ({n1} vs {n2} samples, resize={fv.resize})", file=sys.stderr)
    print(
        json.dumps({"fid": fid, "num_a": n1, "num_b": n2, "resize": fv.resize, "a": paths[0], "b": paths[1]})
    )


def other_data(spec: str, config, channels: int) -> dict:
    """The data config of ``gans-jax metrics --data SPEC``: a folder or ``.zip`` of images (read with
    ``channels`` channels, the run's), or ``tfds:NAME[:SPLIT]`` (default split ``train``); cropped as
    the run's data (``data.crop``)."""
    common = {"crop": config.data.crop, "num_threads": config.data.num_threads}
    if spec.startswith("tfds:"):
        name, _, split = spec[len("tfds:") :].partition(":")
        return {**common, "source": f"tfds:{name}", "split": split or "train", "label_key": ""}
    if not Path(spec).exists():
        raise FileNotFoundError(f"--data {spec!r} does not exist (expected a folder or .zip, or tfds:NAME)")
    return {**common, "source": "folder", "path": spec, "channels": channels, "on_corrupt": "error"}


def metrics_main(argv: list[str]) -> None:
    """``gans-jax metrics --workdir DIR --metrics fid50k,kid50k,pr50k3,is50k [--resize legacy_tf|clean]
    [--data PATH|tfds:NAME[:SPLIT]]``.

    Metric names as StyleGAN2-ADA's (:mod:`gans_jax.metrics.evaluate`; ``fid50k_full`` compares with
    the whole dataset). The real images are the run's training data, or ``--data``: another folder,
    zip or TFDS dataset, read at the run's resolution and channel count. Prints one line per metric
    and, as the last line, a JSON object with every value and sample count; also writes
    ``DIR/metrics-<step>.json`` (``metrics-<step>-<data name>.json`` with ``--data``).

    ``pr50k3`` (and ``pr*k*``) use the fc7 features of NVIDIA's metrics VGG16: ``--vgg16 vgg16.pt``,
    or the file where :func:`gans_jax.metrics.nvidia_vgg16.find_vgg16_file` looks;
    ``pr50k3_inception`` needs no VGG16.

    Perceptual path length (``ppl_zfull``, ``ppl_wfull``, ``ppl_zend``, ``ppl_wend``; StyleGAN and
    StyleGAN2 runs) uses the LPIPS network of the same ``vgg16.pt`` (the official PPL's), or, given
    both, ``--lpips_backbone`` (torchvision's ImageNet ``vgg16-397923af.pth``) and ``--lpips_weights``
    (the ``lpips`` package's ``weights/v0.1/vgg.pth``); ``--ppl_crop`` takes the official face crop,
    ``--ppl_num`` the number of samples (50,000)."""
    from gans_jax.builders import load_run
    from gans_jax.data.pipeline import make_dataset
    from gans_jax.metrics.evaluate import evaluate_run, needs_vgg16, parse_metric, split_metric_names
    from gans_jax.metrics.features import InceptionExtractor

    def define(fv):
        from absl import flags

        flags.DEFINE_string("workdir", None, "Training workdir.", flag_values=fv)
        flags.DEFINE_list(
            "metrics",
            ["fid50k"],
            "Metrics, e.g. fid50k,fid50k_full,kid50k,pr50k3,is50k,ppl_wend.",
            flag_values=fv,
        )
        flags.DEFINE_enum(
            "resize", "legacy_tf", ["legacy_tf", "clean"], "Inception input resize.", flag_values=fv
        )
        flags.DEFINE_string("weights", None, "Inception weights file (default: looked up).", flag_values=fv)
        flags.DEFINE_integer("batch_size", 64, "Images per Inception call.", lower_bound=1, flag_values=fv)
        flags.DEFINE_integer("seed", 0, "Seed of the generated samples.", flag_values=fv)
        flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).", flag_values=fv)
        flags.DEFINE_string(
            "data",
            None,
            "Real images instead of the run's data: a folder or .zip, or tfds:NAME[:SPLIT].",
            flag_values=fv,
        )
        _define_ppl(fv)

    fv = parse_flags(argv, define)
    if fv.workdir is None:
        raise SystemExit("gans-jax: --workdir is required")
    try:
        names, ppl_names = split_metric_names(fv.metrics)
    except ValueError as e:
        raise SystemExit(f"gans-jax: {e}") from None
    if bool(fv.lpips_backbone) != bool(fv.lpips_weights):
        missing = "--lpips_weights" if fv.lpips_backbone else "--lpips_backbone"
        raise SystemExit(
            f"gans-jax: the two-file LPIPS needs both files: give {missing} ({PPL_WEIGHTS_HELP})"
        )
    vgg16_file = _vgg16_file(fv, names, ppl_names)
    config, gan, state = load_run(fv.workdir, fv.step)
    vgg16_weights = None
    if vgg16_file is not None:  # read once for pr*k* and ppl_*
        from gans_jax.metrics.nvidia_vgg16 import load_nvidia_vgg16

        try:
            vgg16_weights = load_nvidia_vgg16(vgg16_file)
        except (ValueError, OSError) as e:
            raise SystemExit(f"gans-jax: {e}") from None
    lpips_weights = _ppl_weights(gan, ppl_names, fv, vgg16_weights) if ppl_names else None
    results: dict = {"step": int(state.step)}
    suffix = ""
    if names:
        if len(gan.latent_shape) != 1 or config.data.source == "toy":
            raise SystemExit("gans-jax: Inception metrics need an image generator")
        data = config.data
        if fv.data:
            with open(os.path.join(fv.workdir, "run.json")) as f:
                channels = json.load(f)["sample_shape"][-1]
            try:
                data = other_data(fv.data, config, channels)
            except FileNotFoundError as e:
                raise SystemExit(f"gans-jax: {e}") from None
            suffix = "-" + re.sub(r"[^\w.]+", "_", Path(fv.data.rstrip("/")).name or fv.data).strip("_")
        dataset = make_dataset(
            data, resolution=config.model.resolution, batch_size=fv.batch_size, seed=config.seed
        )
        inception = any(parse_metric(name)[0] != "pr" for name in names)
        extractor = (
            InceptionExtractor(fv.weights, resize=fv.resize, batch_size=fv.batch_size) if inception else None
        )
        vgg16 = None
        if needs_vgg16(names):
            from gans_jax.metrics.nvidia_vgg16 import VGG16Extractor

            vgg16 = VGG16Extractor(vgg16_weights, batch_size=fv.batch_size)
            results["vgg16"] = str(vgg16_file)
        results.update(resize=fv.resize, **({"data": fv.data} if fv.data else {}))
        options = {"vgg16_extractor": vgg16, "batch_size": fv.batch_size, "seed": fv.seed}
        results.update(evaluate_run(gan, state, dataset, names, extractor, **options))
    if ppl_names:
        from gans_jax.metrics.ppl import ppl_of_run

        results["ppl_crop"] = bool(fv.ppl_crop)
        for name in ppl_names:
            results[name] = ppl_of_run(
                gan, state, name, lpips_weights, num_samples=fv.ppl_num, batch_size=fv.batch_size,
                seed=fv.seed, crop=fv.ppl_crop, progress=True,
            )  # fmt: skip
            results[f"{name}_num_samples"] = fv.ppl_num
    for name, value in results.items():
        print(f"{name:>24s}  {value}")
    with open(os.path.join(fv.workdir, f"metrics-{int(state.step)}{suffix}.json"), "w") as f:
        json.dump(results, f, indent=2)
    print(json.dumps(results))


PPL_WEIGHTS_HELP = (
    "torchvision's ImageNet VGG16 vgg16-397923af.pth from https://download.pytorch.org/models/ and "
    "lpips/weights/v0.1/vgg.pth of the lpips wheel on PyPI (`pip download --no-deps lpips`)"
)


def _define_ppl(fv) -> None:
    from absl import flags

    flags.DEFINE_string(
        "vgg16", None, "NVIDIA's metrics vgg16.pt (pr50k3 features; PPL's LPIPS) (default: looked up).",
        flag_values=fv,
    )  # fmt: skip
    flags.DEFINE_string(
        "lpips_backbone", None, "Perceptual path length instead of vgg16.pt's LPIPS: torchvision's "
        "vgg16-397923af.pth (with --lpips_weights).", flag_values=fv,
    )  # fmt: skip
    flags.DEFINE_string(
        "lpips_weights", None, "With --lpips_backbone: the lpips package's weights/v0.1/vgg.pth.",
        flag_values=fv,
    )  # fmt: skip
    flags.DEFINE_bool("ppl_crop", False, "Perceptual path length on the official face crop.", flag_values=fv)
    flags.DEFINE_integer("ppl_num", 50_000, "Perceptual path length samples.", lower_bound=1, flag_values=fv)


def _vgg16_file(fv, names: list[str], ppl_names: list[str]):
    """NVIDIA's ``vgg16.pt`` when a metric needs it (``pr*``; ``ppl_*`` without the two LPIPS files),
    else None; a missing file is a one-line error."""
    from gans_jax.metrics.evaluate import needs_vgg16
    from gans_jax.metrics.nvidia_vgg16 import find_vgg16_file

    needed = needs_vgg16(names) or (ppl_names and not fv.lpips_backbone)
    if not needed:
        return None
    try:
        return find_vgg16_file(fv.vgg16)
    except FileNotFoundError as e:
        if needs_vgg16(names):
            raise SystemExit(
                f"gans-jax: pr*k* metrics use VGG16 features (pr*k*_inception does not): {e}"
            ) from None
        raise SystemExit(
            f"gans-jax: {ppl_names[0]} needs LPIPS weights: {e}; or give --lpips_backbone and "
            f"--lpips_weights ({PPL_WEIGHTS_HELP})"
        ) from None


def _ppl_weights(gan, names: list[str], fv, vgg16_weights: dict | None) -> dict:
    """The LPIPS weights for ``ppl_*`` metrics of a style-based run: the two LPIPS files when given,
    else NVIDIA's ``vgg16.pt``; user errors as one line."""
    from gans_jax.metrics.lpips import load_lpips_weights
    from gans_jax.style_sampling import is_style_generator

    if not is_style_generator(gan):
        raise SystemExit(
            f"gans-jax: {names[0]} needs a style-based generator with a mapping network (StyleGAN, "
            f"StyleGAN2); this run's generator is {type(gan.generator).__name__}"
        )
    try:
        if fv.lpips_backbone:
            return load_lpips_weights(fv.lpips_backbone, fv.lpips_weights)
    except (ValueError, OSError) as e:
        raise SystemExit(f"gans-jax: {e}") from None
    return {"vgg": vgg16_weights["vgg"], "lin": vgg16_weights["lin"]}
