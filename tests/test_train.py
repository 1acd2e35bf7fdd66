"""gans_jax.train.train: the one training entry dispatches on model.name."""

from gans_jax import train
from gans_jax.training import loop, progressive
from tests.helpers import experiment_config


def test_train_dispatches_progressive_growing(monkeypatch):
    calls = []
    monkeypatch.setattr(progressive, "train_progressive", lambda c, w, **kw: calls.append(("stages", w, kw)))
    monkeypatch.setattr(loop, "train", lambda c, w, **kw: calls.append(("loop", w, kw)))
    train.train(experiment_config("pggan_celebahq:tiny"), "a", progress=False)
    train.train(experiment_config("dcgan_digits"), "b", devices=["d"])
    assert calls == [
        ("stages", "a", {"progress": False, "devices": None}),
        ("loop", "b", {"progress": True, "devices": ["d"]}),
    ]
