"""absl flag parsing shared by every ``gans-jax`` command: a leaf module (it imports nothing from
gans_jax), so that command modules anywhere in the package can use it without importing the CLI."""

from __future__ import annotations

import os
import sys
import traceback


def _underscored(arg: str) -> str:
    """``--truncation-psi=0.7`` -> ``--truncation_psi=0.7``: flags may be spelled with dashes."""
    if not arg.startswith("--") or arg.startswith("--config"):
        return arg
    name, eq, value = arg.partition("=")
    return "--" + name[2:].replace("-", "_") + eq + value


def _config_file_error(error: BaseException) -> BaseException | None:
    """The exception raised while running code outside absl and ml_collections (an experiment file's
    ``get_config`` and what it calls) that ``error`` is or wraps, or ``None`` when the flag machinery
    itself refused an argument."""
    import sysconfig

    import absl
    import ml_collections

    machinery = (
        *(os.path.dirname(m.__file__) for m in (absl, ml_collections)),
        sysconfig.get_paths()["stdlib"],
        os.path.abspath(__file__),
    )
    seen = error
    while seen is not None:  # config_flags re-raises a failed load later, chained to the original
        files = [f.filename for f in traceback.extract_tb(seen.__traceback__)]
        # "<frozen importlib._bootstrap>" and the like are the interpreter's own
        if any(not (f.startswith("<") or os.path.abspath(f).startswith(machinery)) for f in files):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def parse_flags(argv: list[str], define, *, epilog=None) -> object:
    """Parse absl flags defined by ``define(flag_values)``; bad flags exit with a one-line message.

    ``--help`` prints the flags, then ``epilog()`` when given (a callable returning text, so that
    what it lists is only computed for the help). An exception raised inside an experiment file's
    ``get_config`` (loaded by a ``config_flags`` flag) is not a bad flag: a ``ValueError`` (a value the
    file refuses, such as an unknown preset) exits with its own message; any other exception is a bug
    in the file and propagates with its traceback, which points into that file."""
    from absl import flags

    flag_values = flags.FlagValues()
    define(flag_values)
    argv = [argv[0], *(_underscored(arg) for arg in argv[1:])]
    if any(arg in ("--help", "-h", "--helpfull") for arg in argv[1:]):
        print(f"usage: {argv[0]} [flags]\n{flag_values.get_help()}")
        if epilog is not None:
            print("\n" + epilog())
        raise SystemExit(0)
    saved_argv, sys.argv = sys.argv, argv  # config_flags reads its --config.KEY overrides from sys.argv
    try:
        flag_values(argv)
        for name in flag_values:  # a config file that failed to load says so on first use: use it now
            getattr(flag_values[name].value, "keys", None)
    except (flags.Error, AttributeError, KeyError, TypeError, ValueError, OSError) as e:  # bad keys, files
        origin = _config_file_error(e)
        if isinstance(origin, ValueError):  # a value the experiment refuses (an unknown preset)
            raise SystemExit(f"gans-jax: {origin}") from None
        if origin is not None:  # a bug in the experiment file: its own exception and traceback
            if hasattr(origin, "add_note"):  # Python >= 3.11
                origin.add_note(
                    "(raised by the experiment config file's get_config, not by a command-line flag)"
                )
            raise origin from None
        message = " ".join(str(e).split()) if isinstance(e, OSError) else str(e)
        if isinstance(e, (AttributeError, KeyError, TypeError)):  # ml_collections wraps the KeyError's repr
            message = message.strip("'\"").replace("\\n", " ").replace("\\'", "'")
        raise SystemExit(f"gans-jax: bad command-line flag: {message}") from None
    finally:
        sys.argv = saved_argv
    return flag_values


def parse_flags_and_paths(argv: list[str], define, nargs: int, usage: str):
    """``(flags, paths)``: :func:`parse_flags`, plus exactly ``nargs`` positional arguments."""
    fv = parse_flags(argv, define)
    positional = fv([argv[0], *(_underscored(arg) for arg in argv[1:])])[1:]  # the non-flag arguments
    if len(positional) != nargs:
        raise SystemExit(
            f"gans-jax: expected {nargs} path(s), got {len(positional)} {positional}\nusage: {usage}"
        )
    return fv, positional


def require(fv, *names: str) -> None:
    """Exit with ``gans-jax: --NAME is required`` for the first of ``names`` left unset."""
    for name in names:
        if getattr(fv, name) is None:
            raise SystemExit(f"gans-jax: --{name} is required")
