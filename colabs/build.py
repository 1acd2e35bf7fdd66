"""Builds the notebooks ``colabs/NN_name.ipynb`` from their sources ``colabs/src/NN_name.py``.

A source is a Python file in the "percent" format (as Jupytext and VS Code read it): a line ``# %%``
starts a code cell, ``# %% [markdown]`` a markdown cell (its lines without the leading ``# ``),
``# %% tags=["parameters"]`` a code cell with tags, and ``# %% [setup]`` the first cell every notebook
shares (:data:`SETUP`: install gans-jax when it is not importable, print the devices); lines after the
``[setup]`` marker run before it (notebook 04 sets its simulated devices there, before JAX is imported).

The notebooks are written without outputs, with fixed cell ids, so a rebuild of an unchanged source gives
the same file. ``tests/test_colabs.py`` checks that the committed notebooks are what this builds.

    python colabs/build.py            # rebuild every notebook
    python colabs/build.py --check    # exit 1 when a committed notebook differs from its source
    python colabs/build.py --execute runs/colabs   # run every notebook, executed copies in runs/colabs/
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import nbformat

COLABS = Path(__file__).resolve().parent
SOURCES = COLABS / "src"
REPO_URL = "https://github.com/gans-jax/gans-jax"

SETUP = f'''\
# Setup: install gans-jax when it is not importable (on Colab: clone the repository and install it with
# its `notebooks` extra; opened from a checkout's colabs/ folder: install that checkout, editable), then
# show the devices JAX will use: a Colab GPU or TPU runtime is used as it is.
import importlib
import importlib.util
import os
import shutil
import subprocess
import sys

if importlib.util.find_spec("gans_jax") is None:
    parent = os.path.abspath("..")
    if os.path.isfile(os.path.join(parent, "setup.cfg")) and os.path.isdir(parent + "/gans_jax"):
        repo = parent
    else:
        repo = os.path.abspath("gans-jax")
        if not os.path.isdir(repo):
            clone = ["git", "clone", "--depth=1", "{REPO_URL}", repo]
            subprocess.run(clone, check=True)
    accelerator_jax = []  # the JAX build of this runtime's accelerator, if pip has to upgrade JAX
    if shutil.which("nvidia-smi"):
        accelerator_jax = ["jax[cuda12]"]
    elif os.path.exists("/dev/accel0") or "COLAB_TPU_ADDR" in os.environ:
        accelerator_jax = ["jax[tpu]"]
    pip = [sys.executable, "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-e", repo + "[notebooks]", *accelerator_jax], check=True)
    sys.path.insert(0, repo)  # importable in this kernel without a restart
    importlib.invalidate_caches()

import jax

print("jax", jax.__version__, "on", jax.default_backend(), "devices:", jax.devices())
'''

MARKER = re.compile(r"^# %%(?: \[(?P<kind>markdown|setup)\])?(?: tags=(?P<tags>\[.*\]))?\s*$")


def parse(text: str) -> list[tuple[str, str, list[str]]]:
    """``(kind, source, tags)`` of each cell of a percent-format source; kind is code or markdown."""
    cells: list[tuple[str, list[str], list[str]]] = []
    for number, line in enumerate(text.splitlines(), 1):
        match = MARKER.match(line)
        if match:
            kind = match.group("kind") or "code"
            tags = json.loads(match.group("tags")) if match.group("tags") else []
            cells.append((kind, [], tags))
        elif line.startswith("# %%"):
            raise ValueError(f"line {number}: unknown cell marker {line!r}")
        elif cells:
            cells[-1][1].append(line)
        elif line.strip():
            raise ValueError(f"line {number}: text before the first cell marker")
    out = []
    for kind, lines, tags in cells:
        while lines and not lines[-1].strip():
            lines.pop()
        while lines and not lines[0].strip():
            lines.pop(0)
        if kind == "markdown":
            lines = [re.sub(r"^# ?", "", line) for line in lines]
            out.append(("markdown", "\n".join(lines), tags))
        elif kind == "setup":
            prelude = "\n".join(lines)
            out.append(("code", (prelude + "\n\n" if prelude else "") + SETUP.rstrip("\n"), tags))
        else:
            out.append(("code", "\n".join(lines), tags))
    return out


def build(source: Path) -> nbformat.NotebookNode:
    """The notebook of one source file."""
    cells = []
    for i, (kind, text, tags) in enumerate(parse(source.read_text(encoding="utf-8"))):
        metadata = {"tags": tags} if tags else {}
        if kind == "markdown":
            cell = nbformat.v4.new_markdown_cell(text, metadata=metadata)
        else:
            cell = nbformat.v4.new_code_cell(text, metadata=metadata)
        cell["id"] = f"cell-{i:02d}"
        cells.append(cell)
    nb = nbformat.v4.new_notebook(cells=cells)
    nb.metadata = {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "colab": {"name": source.stem + ".ipynb", "provenance": [], "toc_visible": True},
    }
    nbformat.validate(nb)
    return nb


def notebook_text(source: Path) -> str:
    return nbformat.writes(build(source)) + "\n"


def sources() -> list[Path]:
    return sorted(SOURCES.glob("[0-9][0-9]_*.py"))


def kernel_env(fast: bool) -> dict[str, str]:
    """The environment a notebook's kernel runs in: this checkout importable, ``FAST`` set or cleared,
    and no simulated devices inherited (``tests/conftest.py`` sets 8 for the test process; notebook 04
    sets its own before importing JAX, the others run on one device)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(COLABS.parent), *filter(None, [env.get("PYTHONPATH")])])
    env["FAST"] = "1" if fast else "0"
    flags = [f for f in env.get("XLA_FLAGS", "").split() if "xla_force_host_platform_device_count" not in f]
    env["XLA_FLAGS"] = " ".join(flags)
    env.pop("NPROC", None)
    return env


def execute(
    notebook: Path, out: Path, *, fast: bool, timeout: int = 1800
) -> tuple[nbformat.NotebookNode, float]:
    """Runs ``notebook`` top to bottom in a fresh kernel, in the folder of ``out`` (its ``runs/`` land
    there), and writes the executed copy to ``out`` (also when a cell fails, then re-raises).
    Returns the executed notebook and the seconds it took."""
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    out.parent.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(
        nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(out.parent)}}
    )
    start = time.perf_counter()
    try:
        client.execute(env=kernel_env(fast))
    finally:
        nbformat.write(nb, out)
    return nb, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 on a difference")
    parser.add_argument(
        "--execute", metavar="OUTDIR", help="run the notebooks into OUTDIR (FAST=1 in the environment: small)"
    )
    args = parser.parse_args(argv)
    if args.execute:
        fast = os.environ.get("FAST", "0") == "1"
        for source in sources():
            notebook = COLABS / (source.stem + ".ipynb")
            _, seconds = execute(notebook, Path(args.execute) / notebook.name, fast=fast)
            print(f"{notebook.name}: {seconds:.0f} s -> {Path(args.execute) / notebook.name}", flush=True)
        return 0
    stale = []
    for source in sources():
        target = COLABS / (source.stem + ".ipynb")
        text = notebook_text(source)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target.name)
        if not args.check:
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(COLABS.parent)}")
    if args.check and stale:
        print(f"out of date (run python colabs/build.py): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
