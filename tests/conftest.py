"""Test-wide settings, applied before JAX is imported.

Eight simulated CPU devices for the data-parallel tests. On 2-core machines simulated devices deadlock
in collective programs unless NPROC is at least twice the device count: a loop of collective programs
that does not block every step aborts after 40 s with "Expected 8 threads to join the rendezvous, but
only 7 of them arrived on time".
"""

import os

os.environ.setdefault("NPROC", "16")
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_force_host_platform_device_count=8".strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# The longest test files first: `make test` runs two pytest-xdist workers that take one file at a time
# in collection order, so starting the long ones early keeps the run from ending on one worker alone.
LONGEST_FIRST = (
    "test_colabs.py",
    "test_sngan.py",
    "test_biggan.py",
    "test_stylegan2.py",
    "test_wgan.py",
    "test_device_check.py",
    "test_pretrained_stylegan2.py",
    "test_pretrained_biggan.py",
    "test_progressive.py",
    "test_commands.py",
    "test_r3gan_learns.py",
    "test_metrics_commands.py",
    "test_loop.py",
    "test_augment_experiments.py",
    "test_augment_sharded.py",
    "test_learns_translation.py",
    "test_mode_collapse.py",
    "test_models.py",
    "test_training_step.py",
    "test_learns_auxiliary.py",
    "test_multiprocess.py",
    "test_step_golden.py",
    "test_augment_training.py",
    "test_dcgan_options.py",
    "test_resume.py",
    "test_preemption.py",
    "test_models_infogan.py",
    "test_style_sampling.py",
    "test_training_step_translation.py",
    "test_training_step_auxiliary.py",
)


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: the rest keep their order
