"""Command line: ``gans-jax train --config experiments/<name>.py --workdir DIR [--config.key=value ...]``.

Experiment files are ml_collections config files (``get_config()``), overridable key by key from the
command line; ``python experiments/<name>.py --workdir DIR`` runs the same thing.
"""

from __future__ import annotations

import sys

COMMANDS = ("train",)


def _run(argv_rest: list[str], default_config: str | None) -> None:
    from absl import flags
    from ml_collections import config_flags

    flags_ = flags.FlagValues()
    config_flags.DEFINE_config_file(
        "config", default_config, "Experiment config file (get_config()).", flag_values=flags_
    )
    flags.DEFINE_string("workdir", None, "Directory for logs, samples and metrics.", flag_values=flags_)
    flags.DEFINE_bool("progress", True, "Show a progress bar.", flag_values=flags_)
    try:
        flags_(argv_rest)
    except (flags.Error, AttributeError, KeyError) as e:  # unknown config keys surface as these
        message = str(e)
        if not isinstance(e, flags.Error):  # ml_collections wraps the KeyError's repr
            message = message.strip("'\"").replace("\\n", " ").replace("\\'", "'")
        raise SystemExit(f"gans-jax: bad command-line flag: {message}") from None
    if flags_.workdir is None:
        raise SystemExit("gans-jax: --workdir is required")
    if flags_.config is None:
        raise SystemExit("gans-jax: --config is required (an experiments/*.py file)")
    from gans_jax.training.loop import train

    _, results = train(flags_.config, flags_.workdir, progress=flags_.progress)
    print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in results.items()})


def run_experiment_file(path: str, argv: list[str] | None = None) -> None:
    """``__main__`` of an experiment file: its own config is the default ``--config``."""
    argv = list(sys.argv if argv is None else argv)
    _run([argv[0], *argv[1:]], path)


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv if argv is None else argv)
    if len(argv) < 2 or argv[1] not in COMMANDS:
        raise SystemExit(
            f"usage: gans-jax {{{','.join(COMMANDS)}}} --config FILE --workdir DIR [--config.key=value ...]"
        )
    _run([argv[0], *argv[2:]], None)


if __name__ == "__main__":
    main()
