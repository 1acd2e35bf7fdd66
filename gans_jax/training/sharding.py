"""Data parallelism: one ``Mesh`` over every device of every host, the batch sharded along ``"data"``.

The same step function runs on 1 CPU, 8 simulated CPU devices, a GPU box or a TPU pod. Under ``jax.jit``
with these shardings a mean over the batch axis is a mean over the *global* batch (batch-norm
statistics included), so the sharded step equals the single-device step on the same global batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

DATA_AXIS = "data"


def data_mesh(devices: Sequence[jax.Device] | None = None) -> Mesh:
    """A 1-D mesh named ``"data"`` over ``devices`` (default: all devices of all processes).

    Built with ``Mesh`` directly: ``jax.make_mesh`` defaults to Explicit axes, which a plain Linen
    step does not support (../shared/STACK.md, trap 2)."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA_AXIS))


def put_replicated(tree: Any, mesh: Mesh) -> Any:
    """Place a host pytree (e.g. the train state) on every device of the mesh."""
    return jax.device_put(tree, replicated(mesh))


def put_batch(batch: Any, mesh: Mesh) -> Any:
    """Assemble the global batch from each process's local rows, sharded along ``"data"``."""
    sharding = batch_sharded(mesh)
    return jax.tree.map(lambda x: jax.make_array_from_process_local_data(sharding, np.asarray(x)), batch)


def host_local(tree: Any) -> Any:
    """This process's copy of a replicated pytree (arrays spanning several hosts become their local
    replica), for sampling and logging outside the compiled step."""

    def local(x):
        if isinstance(x, jax.Array) and not x.is_fully_addressable:
            return x.addressable_data(0)
        return x

    return jax.tree.map(local, tree)


def compile_train_step(train_step: Callable, mesh: Mesh | None = None) -> Callable:
    """``jax.jit`` the step once, donating the state; with a mesh, state replicated and batch sharded."""
    if mesh is None:
        return jax.jit(train_step, donate_argnums=0)
    return jax.jit(
        train_step,
        in_shardings=(replicated(mesh), batch_sharded(mesh)),
        out_shardings=(replicated(mesh), replicated(mesh)),
        donate_argnums=0,
    )


def pmap_train_step(train_step: Callable, axis_name: str) -> Callable:
    """Compile a step built with ``make_train_step(..., axis_name=axis_name)`` with ``jax.pmap``.

    Inputs carry a leading device axis: replicate the state with :func:`pmap_replicate` and reshape
    the batch to ``(num_devices, per_device, ...)``."""
    return jax.pmap(train_step, axis_name=axis_name, donate_argnums=0)


def pmap_replicate(tree: Any, num_devices: int | None = None) -> Any:
    """Stack ``num_devices`` copies of every leaf along a new leading axis (``jax.pmap``'s input form)."""
    n = num_devices or jax.local_device_count()
    return jax.tree.map(lambda x: np.broadcast_to(np.asarray(x), (n, *np.shape(x))), tree)
