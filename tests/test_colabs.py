"""The Colab notebooks in ``colabs/``: committed without outputs and equal to what ``colabs/build.py``
builds from their sources, and each runs top to bottom with ``FAST=1`` in a fresh kernel (nbclient),
producing its figures and the numbers its text promises."""

import importlib.util
import re
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[1]
COLABS = REPO / "colabs"
# notebook 04's pretrained cell runs on this: a random-weight 8x8 StyleGAN2-ADA network pickled as the
# official training loop saves its snapshots (tests/fixtures/reference/README.md)
PRETRAINED = REPO / "tests" / "fixtures" / "reference" / "stylegan2" / "orig_8.pkl"
_spec = importlib.util.spec_from_file_location("colabs_build", COLABS / "build.py")
build = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(build)

NOTEBOOKS = (
    "01_quickstart",
    "02_compose_a_train_step",
    "03_metrics",
    "04_style_and_scale",
    "05_image_to_image",
)


def test_every_source_has_its_notebook_and_nothing_else():
    assert [s.stem for s in build.sources()] == list(NOTEBOOKS)
    assert sorted(p.stem for p in COLABS.glob("*.ipynb")) == list(NOTEBOOKS)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_committed_notebook_is_built_and_has_no_outputs(name):
    path = COLABS / f"{name}.ipynb"
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: {cell.id} has outputs"
    assert path.read_text(encoding="utf-8") == build.notebook_text(COLABS / "src" / f"{name}.py"), (
        f"{path.name} differs from its source: run python colabs/build.py"
    )
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# ")
    setup = [c for c in nb.cells if c.cell_type == "code"][0].source
    assert "pip" in setup and build.REPO_URL in setup and "jax.devices()" in setup
    assert any("parameters" in c.metadata.get("tags", []) and "FAST" in c.source for c in nb.cells)


def test_build_check_notices_a_stale_notebook(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    source = tmp_path / "src" / "09_demo.py"
    source.write_text("# %% [markdown]\n# # Demo\n\n# %% [setup]\n\n# %%\nprint(1)\n", encoding="utf-8")
    monkeypatch.setattr(build, "COLABS", tmp_path)
    monkeypatch.setattr(build, "SOURCES", tmp_path / "src")
    assert build.main(["--check"]) == 1  # not built yet
    assert build.main([]) == 0 and build.main(["--check"]) == 0
    nb = nbformat.read(tmp_path / "09_demo.ipynb", as_version=4)
    assert [c.id for c in nb.cells] == ["cell-00", "cell-01", "cell-02"]
    source.write_text(source.read_text(encoding="utf-8").replace("print(1)", "print(2)"), encoding="utf-8")
    assert build.main(["--check"]) == 1


def _stdout(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")  # fmt: skip


def _figures(nb) -> int:
    return sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code" for o in c.outputs)


def _number(pattern: str, text: str) -> float:
    match = re.search(pattern, text, re.M)
    assert match, f"{pattern!r} not printed; output:\n{text[-3000:]}"
    return float(match.group(1))


def check_quickstart(out):
    # FAST: 600 steps; measured class_agreement 0.937 (real_accuracy 0.989) on a 2-core CPU.
    assert _number(r"class_agreement ([0-9.]+)", out) >= 0.8
    assert _number(r"real_accuracy ([0-9.]+)", out) >= 0.95
    assert _number(r"max \|difference\| of the samples: ([0-9.e-]+)", out) == 0.0


def check_compose(out):
    # FAST: 1,500 steps, measured: hand-written loop 8 modes; recipes 7-8 modes (45-60% high quality);
    # the 8 seeds 3-8 modes, two converged (at 1,000 steps WGAN-GP still had 1 mode: hence 1,500).
    assert _number(r"hand-written loop: .*'modes_captured': (\d+)", out) >= 6
    assert _number(r"generator parameters: ([0-9.e-]+)", out) < 1e-3  # the scanned loop is the same loop
    for name in ("non-saturating", "minimax", "LSGAN", "WGAN-GP", "hinge \\+ SN", "PacGAN2"):
        assert _number(rf"^{name} .*'modes_captured': (\d+)", out) >= 6, name
    modes = [int(m) for m in re.findall(r"^seed \d: (\d) modes", out, re.M)]
    assert len(modes) == 8 and max(modes) >= 7, modes


def check_metrics(out):
    fid_ab = _number(r"FID\(folder A, folder B\) = ([0-9.]+)", out)
    for kind in ("noise std", "blur sigma", "classes dropped"):
        line = re.search(rf"^{kind} +(.*)$", out, re.M)
        assert line, f"no FID line for {kind}"
        fids = [float(f) for f in re.findall(r"FID ([0-9.]+)", line.group(1))]
        assert fids[0] == pytest.approx(fid_ab, abs=0.06) and fids[-1] > fids[0], (kind, fids)
    assert 0.0 <= _number(r"precision = ([0-9.]+)", out) <= 1.0
    sizes = [float(f) for f in re.findall(r"^N = +\d+: FID +([0-9.]+)", out, re.M)]
    assert len(sizes) == 3 and sizes[0] > sizes[-1]  # FID's small-sample bias shrinks with N


def check_style_and_scale(out):
    gaps = [float(g) for g in re.findall(r"max \|param - one device's\| = ([0-9.e+-]+)", out)]
    assert len(gaps) == 3 and max(gaps) < 1e-4, gaps
    assert "8 devices" in out
    # the pretrained cell, given PRETRAINED: converted by gans-jax convert, 16 samples by gans-jax sample
    converted = r"^converted stylegan2-ada orig_8.pkl: samples of shape \(8, 8, 3\), no classes; grid \("
    assert re.search(converted, out, re.M), out[-3000:]


def check_image_to_image(out):
    # FAST, measured at 400 / 300 / 150 steps: pix2pix L1 0.28 (edge map 1.09); cycle L1 0.46 / 0.35;
    # SRGAN PSNR 21.2 dB (bicubic 20.3) on 128 held-out crops.
    g_l1, edges_l1 = (
        float(x) for x in re.search(r"pix2pix L1 \(G / edge map\) +([0-9.]+) +([0-9.]+)", out).groups()
    )
    assert g_l1 < 0.6 * edges_l1
    sr, bicubic = (
        float(x) for x in re.search(r"SRGAN PSNR dB \(G / bicubic\) +([0-9.]+) +([0-9.]+)", out).groups()
    )
    assert sr > bicubic - 0.5
    cycle_x, cycle_y = (
        float(x) for x in re.search(r"CycleGAN cycle L1 \(x / y\) +([0-9.]+) +([0-9.]+)", out).groups()
    )
    assert cycle_x < 0.6 and cycle_y < 0.6, (cycle_x, cycle_y)


CHECKS = {  # name: (figures at least, check of the printed numbers)
    "01_quickstart": (5, check_quickstart),
    "02_compose_a_train_step": (3, check_compose),
    "03_metrics": (5, check_metrics),
    "04_style_and_scale": (6, check_style_and_scale),  # 6: the pretrained sample grid
    "05_image_to_image": (4, check_image_to_image),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_fast(name, tmp_path, monkeypatch):
    monkeypatch.setenv("PRETRAINED", str(PRETRAINED) if name == "04_style_and_scale" else "")
    nb, seconds = build.execute(COLABS / f"{name}.ipynb", tmp_path / f"{name}.ipynb", fast=True)
    print(f"{name}: {seconds:.0f} s")
    errors = [
        o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.get("output_type") == "error"
    ]
    assert not errors
    figures, check = CHECKS[name]
    assert _figures(nb) >= figures, f"{name}: {_figures(nb)} figures, expected {figures}"
    check(_stdout(nb))
