"""The train step computes what it computed before it was restructured (issue 15): the golden cases'
final states and metrics against digests recorded then (``tests/fixtures/make_step_golden.py``). Bit for
bit on the jax version that recorded them; within float32 rounding on another one."""

import os

import jax
import numpy as np
import pytest

from tests.step_golden_cases import CASES, digest, run_case

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "step_golden.npz")


@pytest.fixture(scope="module")
def golden():
    with np.load(FIXTURE) as f:
        keys, shas, projections = f["keys"], f["sha256"], f["projections"]
        version = str(f["jax_version"])
    return version, {str(k): (str(s), p) for k, s, p in zip(keys, shas, projections, strict=True)}


@pytest.mark.parametrize("name", sorted(CASES))
def test_step_reproduces_the_recorded_run(golden, name):
    version, recorded = golden
    expected = {k.split("|", 1)[1]: v for k, v in recorded.items() if k.startswith(name + "|")}
    got = run_case(name)
    assert sorted(got) == sorted(expected), "the state's structure or the metric names changed"
    exact = jax.__version__ == version
    for key, value in got.items():
        sha, projection = digest(value)
        want_sha, want_projection = expected[key]
        if exact:
            assert sha == want_sha, f"{name}: {key} differs from the recorded run"
        else:
            scale = np.sqrt(value.size) * (np.max(np.abs(value)) if value.size else 0.0) + 1e-12
            np.testing.assert_allclose(projection, want_projection, rtol=0, atol=1e-5 * scale, err_msg=key)
