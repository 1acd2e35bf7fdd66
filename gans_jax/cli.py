"""Command line: ``gans-jax COMMAND [flags]``.

``gans-jax train --config experiments/<name>.py --workdir DIR [--config.key=value ...]`` trains an
experiment (ml_collections config files, overridable key by key); ``python experiments/<name>.py
--workdir DIR`` runs the same thing. Each command is a function ``main(argv)`` in its own module,
registered in :data:`COMMANDS` as ``"module:function"``.
"""

from __future__ import annotations

import importlib
import sys

from gans_jax.cli_flags import parse_flags

COMMANDS: dict[str, str] = {
    "train": "gans_jax.cli:train_main",
    "stats": "gans_jax.metrics.commands:stats_main",
    "fid": "gans_jax.metrics.commands:fid_main",
    "metrics": "gans_jax.metrics.commands:metrics_main",
    "sample": "gans_jax.commands:sample_main",
    "translate": "gans_jax.commands:translate_main",
    "interpolate": "gans_jax.commands:interpolate_main",
    "describe": "gans_jax.commands:describe_main",
}


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
    fv = parse_flags(argv, _define_train_flags(default_config))
    if fv.workdir is None:
        raise SystemExit("gans-jax: --workdir is required")
    if fv.config is None:
        raise SystemExit("gans-jax: --config is required (an experiments/*.py file)")
    if fv.distributed or fv.coordinator_address:
        initialize_distributed(fv)
    from gans_jax.train import train

    _, results = train(fv.config, fv.workdir, progress=fv.progress)
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()})


def run_experiment_file(path: str, argv: list[str] | None = None) -> None:
    """``__main__`` of an experiment file: its own config is the default ``--config``."""
    argv = list(sys.argv if argv is None else argv)
    train_main([argv[0], *argv[1:]], default_config=path)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise SystemExit(f"usage: gans-jax {{{','.join(COMMANDS)}}} [flags]   (gans-jax COMMAND --help)")
    module, function = COMMANDS[argv[1]].split(":")
    getattr(importlib.import_module(module), function)([f"{argv[0]} {argv[1]}", *argv[2:]])


if __name__ == "__main__":
    main()
