"""benchmarks/scaling_model.py reads the collectives of a compiled step: checked against a hand count for
the original GAN's tiny MLPs on 8 simulated devices, and its time model against hand arithmetic."""

import json

import jax
import jax.numpy as jnp
import optax
import pytest

from benchmarks import scaling_model as sm
from gans_jax.losses import get_objective
from gans_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gans_jax.training import sharding
from gans_jax.training.state import GAN
from gans_jax.training.step import make_train_step

# G: Dense(3 -> 16), Dense(16 -> 2); D: Dense(2 -> 16), Dense(16 -> 1).
G_FLOATS = 3 * 16 + 16 + 16 * 2 + 2  # 98
D_FLOATS = 2 * 16 + 16 + 16 * 1 + 1  # 65


def _collectives(n_critic: int, fsdp: bool):
    gan = GAN(MLPGenerator(2, (16,)), MLPDiscriminator((16,)), optax.sgd(0.1), optax.sgd(0.1), (3,))
    step = make_train_step(gan, get_objective("non_saturating"), n_critic=n_critic)
    abstract = jax.eval_shape(lambda k: step.init_state(k, (2,)), jax.random.PRNGKey(0))
    mesh = sharding.data_mesh()
    shardings = sharding.state_shardings(abstract, mesh, fsdp, min_size=16)
    state = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)
    batch = {
        "image": jax.ShapeDtypeStruct((16 * n_critic, 2), jnp.float32, sharding=sharding.batch_sharded(mesh))
    }
    compiled = sharding.compile_train_step(step, mesh, shardings).lower(state, batch).compile()
    return sm.read_collectives(compiled.as_text(), jax.device_count())


@pytest.mark.parametrize("n_critic", [1, 2])
def test_replicated_step_all_reduces_each_gradient_once_per_update(n_critic):
    """Hand count per step. Each D update all-reduces D's gradient of the real and of the fake term
    (XLA:CPU keeps the two apart: 2 x 65 floats) and 4 scalars (the two loss terms, the two mean
    logits), inside the n_critic loop; the G update all-reduces G's gradient (98 floats) and 2 scalars
    (g_loss, d_fake_for_g). XLA combines each update's arrays into one tuple. Nothing else crosses
    devices: the optimiser, the EMA and the gradient norms run on replicated values."""
    assert jax.device_count() == 8
    found = _collectives(n_critic, fsdp=False)
    total = sm.summarize(found)
    assert set(total) == {"all-reduce"}
    assert total["all-reduce"] == {
        "executions": n_critic + 1,
        "tensors": n_critic * (8 + 4) + (4 + 2),
        "bytes": 4 * (n_critic * (2 * D_FLOATS + 4) + G_FLOATS + 2),
    }
    (d_update,) = [c for c in found if c.executions == n_critic and "discriminator" in c.op_name.lower()] or [
        c for c in found if sm.source_of(c) == "gradients of D"
    ]
    assert d_update.executions == n_critic
    assert {sm.source_of(c) for c in found} == {"gradients of D", "gradients of G"}


def test_fsdp_step_gathers_the_sharded_weights():
    """With every leaf of 16+ elements sharded over the 8 devices (all but the two small biases), G's
    sharded weights (96 floats) are all-gathered once, for its forward pass (the VJP reuses them); D's
    (64 floats) before its update and again, updated, for the G update (XLA gathers a bias once more);
    the gradients are still all-reduced whole (XLA:CPU forms no reduce-scatter)."""
    found = _collectives(1, fsdp=True)
    summary = sm.summarize(found)
    assert set(summary) == {"all-gather", "all-reduce"}
    gathered = {"G": 0, "D": 0}
    for c in found:
        if c.op == "all-gather":
            gathered["G" if "generator" in c.op_name.lower() else "D"] += c.bytes * c.executions
            assert sm.source_of(c).startswith("weights of")
    assert gathered["G"] == 4 * (3 * 16 + 16 + 16 * 2)
    assert 2 * 4 * (2 * 16 + 16 + 16) <= gathered["D"] <= 3 * 4 * (2 * 16 + 16 + 16)
    assert summary["all-reduce"]["bytes"] >= 4 * (2 * D_FLOATS + G_FLOATS)


def test_time_model_arithmetic():
    chip = sm.Chip("toy", 100e12, 100e9, 8, 10e9, 1e-6, "")
    # ring inside the domain of 8: 2 * 7/8 * 1 GB / 100 GB/s
    assert sm.allreduce_time(chip, 8, 1e9) == pytest.approx(2 * 7 / 8 * 1e9 / 100e9)
    # 64 chips: 8 domains; each chip then all-reduces its eighth over the network
    expected = 2 * 7 / 8 * 1e9 / 100e9 + 2 * 7 / 8 * (1e9 / 8) / 10e9
    assert sm.allreduce_time(chip, 64, 1e9) == pytest.approx(expected)
    assert sm.allreduce_time(chip, 1, 1e9) == 0.0 and sm.hop_latency(chip, 1) == 0.0
    assert sm.hop_latency(chip, 8) == pytest.approx(2 * 3 * 1e-6)


def test_report_from_a_saved_reading_names_its_width(tmp_path, capsys):
    """The report is rebuilt from a saved reading without compiling: it names the channel width the
    numbers come from, 8 chips is the 100% reference, and 256 images per chip keep the compute term."""
    reading = {
        "ch": 8, "devices": 8, "params": {"G": 10**6, "D": 9 * 10**5}, "flops_per_device_b4": 3.8e11,
        "modes": {mode: {
            "compile_s": 1.0, "flops_per_device_b2": 2e11,
            "collectives": {"all-reduce": {"executions": 60, "tensors": 300, "bytes": 3 * 10**8}},
            "by_source": {"batch-norm statistics (cross-replica)": {"executions": 50, "bytes": 40000}},
        } for mode in ("replicated", "fsdp")},
    }  # fmt: skip
    path = tmp_path / "reading.json"
    path.write_text(json.dumps(reading))
    out = sm.main(["--reading", str(path)])
    text = capsys.readouterr().out
    assert "at **ch 8**" in text and "ParaGAN" in text and "50 of them the cross-replica" in text
    for chip in sm.CHIPS:
        p8 = out["predictions"]["replicated"][(chip.name, "256 per chip", 8)]
        assert p8["efficiency"] == pytest.approx(1.0)
        # 90 GFLOP per image x 256 + 20 GFLOP fixed, at the assumed MFU
        assert p8["compute"] == pytest.approx((90e9 * 256 + 20e9) / (chip.peak_flops * sm.MFU))
    with pytest.raises(SystemExit):
        sm.main(["--channels", "0"])
