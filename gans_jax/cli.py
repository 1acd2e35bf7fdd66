"""Command line: ``gans-jax COMMAND [flags]``.

``gans-jax train --config experiments/<name>.py --workdir DIR [--config.key=value ...]`` trains an
experiment (ml_collections config files, overridable key by key); ``python experiments/<name>.py
--workdir DIR`` runs the same thing. Each command is a function ``main(argv)`` in its own module,
registered in :data:`COMMANDS` as ``"module:function"`` with a line saying what it does (``gans-jax
--help`` lists them); ``gans-jax train --help`` also lists the experiments and the config sections.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

from gans_jax.cli_flags import parse_flags

# name -> ("module:function", one line of what it does). Modules are imported only when run.
COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("gans_jax.cli:train_main", "train an experiment (experiments/*.py) in a workdir"),
    "configs": ("gans_jax.cli:configs_main", "list the experiments, or print one's full resolved config"),
    "describe": ("gans_jax.commands:describe_main", "parameter tables of an experiment's networks (--flops)"),
    "sample": ("gans_jax.commands:sample_main", "images (or points) from a trained run: grid, .npy, folder"),
    "interpolate": ("gans_jax.commands:interpolate_main", "latent interpolation strips of a trained run"),
    "translate": ("gans_jax.commands:translate_main", "apply an image-to-image run to a folder of images"),
    "metrics": ("gans_jax.metrics.commands:metrics_main", "fid50k, kid50k, pr50k3, is50k of a trained run"),
    "stats": ("gans_jax.metrics.commands:stats_main", "Inception statistics (mu, sigma) of images or TFDS"),
    "fid": ("gans_jax.metrics.commands:fid_main", "FID between folders, zips, statistics files or runs"),
    "convert": (
        "gans_jax.pretrained:convert_main",
        "an official checkpoint (StyleGAN2-ADA, ...) as a workdir",
    ),
}


def usage() -> str:
    """``gans-jax``'s usage: every command with its line."""
    width = max(map(len, COMMANDS))
    lines = [f"  {name:<{width}}  {summary}" for name, (_, summary) in COMMANDS.items()]
    errors = (
        "\n\nA bad value, flag or file is reported as one line 'gans-jax: ...' with exit status 2; "
        "--debug (or GANS_JAX_DEBUG=1) shows the traceback."
    )
    return (
        "usage: gans-jax COMMAND [flags]   (gans-jax COMMAND --help)\n\ncommands:\n"
        + "\n".join(lines)
        + errors
    )


def experiments_help(width: int = 110) -> str:
    """The experiments (``experiments/*.py``, one line each: presets and summary), the config
    sections, and where to see a whole config: the end of ``gans-jax train --help``, and ``gans-jax
    configs``."""
    import textwrap

    from gans_jax import configs

    def rows(items, heading):
        left = dict(items)
        pad = min(max(map(len, left)), 32)
        lines = [heading]
        for name, text in left.items():
            indent = " " * (pad + 4)
            if len(name) > pad:  # the text starts on the next line
                lines.append(f"  {name}")
                lines.append(textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent))
            else:
                first = f"  {name:<{pad}}  "
                lines.append(textwrap.fill(text, width, initial_indent=first, subsequent_indent=indent))
        return lines

    out = []
    listed = configs.list_experiments()
    if listed:
        summaries = [
            (name + (f"[:{'|'.join(presets)}]" if presets else ""), summary)
            for name, summary, presets in listed
        ]
        where = f"experiments ({configs.experiments_dir()}): --config experiments/NAME.py[:PRESET]"
        out += rows(summaries, where)
    else:
        out.append("experiments: no experiments/ folder here; --config takes any file with get_config()")
    out += rows(configs.SECTIONS.items(), "\nconfig sections (override any key: --config.SECTION.KEY=VALUE):")
    out.append(
        "\nan experiment's full resolved config: gans-jax configs NAME[:PRESET] [--config.KEY=VALUE ...]"
        "\nits networks' parameter tables:        gans-jax describe --config experiments/NAME.py[:PRESET]"
    )
    return "\n".join(out)


def _define_train_flags(default_config: str | None):
    def define(fv):
        from absl import flags
        from ml_collections import config_flags

        config_flags.DEFINE_config_file(
            "config", default_config, "Experiment config file (get_config()).", flag_values=fv
        )
        flags.DEFINE_string("workdir", None, "Directory for logs, samples and metrics.", flag_values=fv)
        flags.DEFINE_bool("progress", True, "Show a progress bar.", flag_values=fv)
        flags.DEFINE_bool(
            "distributed",
            False,
            "Call jax.distributed.initialize() (multi-host; TPU pods auto-detect).",
            flag_values=fv,
        )
        flags.DEFINE_string(
            "coordinator_address", None, "host:port of process 0 (multi-host).", flag_values=fv
        )
        flags.DEFINE_integer("num_processes", None, "Number of processes (multi-host).", flag_values=fv)
        flags.DEFINE_integer("process_id", None, "This process's index (multi-host).", flag_values=fv)

    return define


def initialize_distributed(fv) -> None:
    """``jax.distributed.initialize`` from flags; with none given, the cluster is auto-detected."""
    import jax

    explicit = {
        "coordinator_address": fv.coordinator_address,
        "num_processes": fv.num_processes,
        "process_id": fv.process_id,
    }
    jax.distributed.initialize(**{k: v for k, v in explicit.items() if v is not None})


def train_main(argv: list[str], default_config: str | None = None) -> None:
    """``gans-jax train``: train an experiment in a workdir."""
    fv = parse_flags(argv, _define_train_flags(default_config), epilog=experiments_help)
    if fv.workdir is None:
        raise SystemExit("gans-jax: --workdir is required")
    if fv.config is None:
        raise SystemExit("gans-jax: --config is required (an experiments/*.py file)")
    if fv.distributed or fv.coordinator_address:
        initialize_distributed(fv)
    from gans_jax.train import train

    _, results = train(fv.config, fv.workdir, progress=fv.progress)
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()})


def configs_main(argv: list[str]) -> None:
    """``gans-jax configs``: the experiments with their presets; ``gans-jax configs NAME[:PRESET]``
    (or a path, plus ``--config.KEY=VALUE`` overrides): that experiment's full resolved config as the
    JSON a training run saves as ``WORKDIR/config.json``."""

    def define(fv):
        from ml_collections import config_flags

        config_flags.DEFINE_config_file("config", None, "Experiment config file.", flag_values=fv)

    from gans_jax import configs

    if len(argv) > 1 and not argv[1].startswith("-"):  # gans-jax configs NAME[:PRESET] [flags]
        try:
            path = configs.resolve_experiment(argv[1])
        except FileNotFoundError as e:
            raise SystemExit(f"gans-jax: {e}") from None
        argv = [argv[0], f"--config={path}", *argv[2:]]
    fv = parse_flags(argv, define, epilog=experiments_help)
    if fv.config is None:
        print(experiments_help())
        return
    print(fv.config.to_json_best_effort(indent=2, sort_keys=True))


def run_experiment_file(path: str, argv: list[str] | None = None) -> None:
    """``__main__`` of an experiment file: its own config is the default ``--config``."""
    argv = list(sys.argv if argv is None else argv)
    argv, debug = _debug_flag(argv)
    with user_errors(debug):
        train_main([argv[0], *argv[1:]], default_config=path)


def _debug_flag(argv: list[str]) -> tuple[list[str], bool]:
    """``argv`` without ``--debug``, and whether it or ``GANS_JAX_DEBUG=1`` asks for tracebacks."""
    debug = "--debug" in argv[1:] or os.environ.get("GANS_JAX_DEBUG", "") not in ("", "0")
    return [argv[0], *(a for a in argv[1:] if a != "--debug")], debug


def one_line(message: object) -> str:
    """A message on one line (tensorstore and absl errors run over several)."""
    return " ".join(str(message).split())


@contextlib.contextmanager
def user_errors(debug: bool = False):
    """Report the user's errors (:data:`gans_jax.errors.USER_ERRORS`, and ``SystemExit`` with a
    message) as one line ``gans-jax: ...`` on stderr and exit with status 2
    (:class:`gans_jax.errors.UsageExit`); other exceptions are bugs and keep their traceback.
    ``debug``: re-raise everything as it is."""
    from gans_jax.errors import USER_ERRORS, UsageExit

    try:
        yield
    except UsageExit:
        raise
    except SystemExit as e:
        if debug or not isinstance(e.code, str):
            raise
        message = one_line(e.code)
        message = message if message.startswith("gans-jax:") else f"gans-jax: {message}"
    except USER_ERRORS as e:
        if debug:
            raise
        message = f"gans-jax: {one_line(e) or type(e).__name__}"
    else:
        return
    print(message, file=sys.stderr)
    raise UsageExit(message) from None


def main(argv: list[str] | None = None) -> None:
    argv, debug = _debug_flag(list(sys.argv if argv is None else argv))
    if len(argv) >= 2 and argv[1] in ("-h", "--help", "help"):
        print(usage())
        return
    if len(argv) < 2 or argv[1] not in COMMANDS:
        from gans_jax.errors import UsageExit

        unknown = f"gans-jax: unknown command {argv[1]!r}\n" if len(argv) >= 2 else ""
        print(unknown + usage(), file=sys.stderr)
        raise UsageExit(unknown + usage())
    with user_errors(debug):
        module, function = COMMANDS[argv[1]][0].split(":")
        getattr(importlib.import_module(module), function)([f"gans-jax {argv[1]}", *argv[2:]])


if __name__ == "__main__":
    main()
