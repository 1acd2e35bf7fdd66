"""Test-wide settings, applied before JAX is imported.

Eight simulated CPU devices for the data-parallel tests. On 2-core machines simulated devices deadlock
in collective programs unless NPROC is at least twice the device count (../shared/STACK.md, trap 1).
"""

import os

os.environ.setdefault("NPROC", "16")
_flags = os.environ.get("XLA_FLAGS", "")
if "xla_force_host_platform_device_count" not in _flags:
    os.environ["XLA_FLAGS"] = f"{_flags} --xla_force_host_platform_device_count=8".strip()
os.environ.setdefault("JAX_PLATFORMS", "cpu")
