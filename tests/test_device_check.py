"""benchmarks/device/run.sh --dry-run: the GPU device check runs end to end on the CPU at tiny sizes, so
the script a lent GPU will run cannot rot while none is lent; and its summary names what did not finish."""

import json
import os
import subprocess
import sys

import pytest

from benchmarks.device import summary
from benchmarks.device.parts import PARTS, SMOKE_TESTS
from tests.helpers import ROOT


def _torch_importable() -> bool:
    if os.environ.get("GANS_JAX_TORCH_SITE"):
        return True
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@pytest.mark.slow
def test_dry_run_of_every_part(tmp_path):
    env = dict(os.environ, OUT=str(tmp_path), PYTHON=sys.executable)
    env.pop("XLA_FLAGS", None)  # tests/conftest.py's 8 simulated devices: the parts run on one, as on a GPU
    env.pop("JAX_PLATFORMS", None)
    proc = subprocess.run(
        ["bash", os.path.join(ROOT, "benchmarks", "device", "run.sh"), "--dry-run"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    log = (tmp_path / "run.log").read_text() if (tmp_path / "run.log").exists() else ""
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:] + log[-6000:]
    assert "| biggan" in proc.stdout and "(dry run, CPU)" in proc.stdout
    result = json.loads((tmp_path / "summary.json").read_text())
    assert result["ok"] and result["dry_run"] and sorted(result["parts"]) == sorted(PARTS)
    parts = {name: record["result"] for name, record in result["parts"].items()}

    assert parts["smoke"]["returncode"] == 0 and parts["smoke"]["tests_collected"] >= len(SMOKE_TESTS)
    (row,) = parts["dcgan"]["rows"]
    assert row["dtype"] == "bfloat16" and row["steps_per_s"] > 0 and row["flops_per_step"] > 0
    if _torch_importable():
        assert row["torch_mode"] == "channels_last + autocast bfloat16" and row["torch_steps_per_s"] > 0
    assert parts["inception"]["images_per_s"] > 0 and parts["inception"]["batch_size"] == 1
    assert parts["biggan"]["accumulation"] == 2 and parts["biggan"]["s_per_iteration_at_2048"] > 0
    assert parts["biggan"]["n_critic"] == 1 and parts["biggan"]["dtype"] == "bfloat16"
    assert parts["stylegan2"]["s_per_kimg"] > 0
    assert parts["fid"]["num_images"] == 4 and parts["fid"]["fid"] > 0


def test_summary_reports_parts_that_did_not_finish(tmp_path, capsys):
    (tmp_path / "smoke.json").write_text(
        json.dumps({"part": "smoke", "status": "ok", "seconds": 50, "result": {"passed": 30, "failed": 0}})
    )
    (tmp_path / "biggan.json").write_text(
        json.dumps({"part": "biggan", "status": "timeout", "seconds": 115, "cap_s": 115, "exit_status": 124})
    )
    assert summary.main([str(tmp_path), "--parts", "smoke", "biggan", "fid", "--wall", "200"]) == 1
    out = capsys.readouterr().out
    assert "| smoke     | ok       |    50 | 30 passed, 0 failed, 0 skipped" in out
    assert "| biggan    | timeout  |   115 |" in out and "| fid       | missing  |" in out
    saved = json.loads((tmp_path / "summary.json").read_text())
    assert not saved["ok"] and saved["wall_s"] == 200 and saved["parts"]["fid"]["status"] == "missing"
