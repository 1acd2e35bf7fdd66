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

    Built with ``Mesh`` directly: ``jax.make_mesh`` defaults to Explicit axes (jax 0.10), and a plain
    data-parallel Linen step then fails with ``ShardingTypeError: Contracting dimensions are sharded
    and it is ambiguous...``."""
    return Mesh(np.asarray(devices if devices is not None else jax.devices()), (DATA_AXIS,))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P(DATA_AXIS))


def state_shardings(state: Any, mesh: Mesh, shard_params: bool = False, min_size: int = 2**14) -> Any:
    """A ``NamedSharding`` per leaf of ``state``: replicated, or with ``shard_params`` split along
    ``"data"`` (FSDP / ZeRO-3 style, for models whose parameters and optimiser states do not fit on one
    device) on the leaf's largest axis divisible by the mesh size, for leaves of at least ``min_size``
    elements. Under ``jax.jit`` the compiler gathers each sharded weight where a layer needs it and
    reduce-scatters its gradient, so the update is the replicated one."""
    size = mesh.devices.size

    def spec(leaf) -> NamedSharding:
        shape = np.shape(leaf)
        if not shard_params or int(np.prod(shape)) < min_size:
            return replicated(mesh)
        axes = [a for a in np.argsort(shape)[::-1] if shape[a] % size == 0]
        if not axes:
            return replicated(mesh)
        parts = [None] * len(shape)
        parts[int(axes[0])] = DATA_AXIS
        return NamedSharding(mesh, P(*parts))

    return jax.tree.map(spec, state)


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
            if x.sharding.is_fully_replicated:
                return x.addressable_data(0)
            from jax.experimental import multihost_utils

            return multihost_utils.process_allgather(x, tiled=True)  # FSDP-sharded parameters
        return x

    return jax.tree.map(local, tree)


def constrain_batch(x):
    """``x`` with its leading (batch) axis sharded along ``"data"`` while a step is traced for a mesh
    (:func:`compile_train_step`); unchanged otherwise (one device, ``pmap``, an axis the mesh does not
    divide).

    Arrays drawn inside the step (latents, labels) come out of ``jax.random`` replicated, and XLA
    propagates that: without this constraint every device would run the generator's forward and
    backward passes on the whole global batch, so the generator would not scale with the devices."""
    mesh = jax.sharding.get_abstract_mesh()
    if x is None or mesh.empty or DATA_AXIS not in mesh.axis_names:
        return x
    if np.ndim(x) == 0 or np.shape(x)[0] % mesh.shape[DATA_AXIS]:
        return x
    return jax.lax.with_sharding_constraint(x, P(DATA_AXIS))


def compile_train_step(
    train_step: Callable, mesh: Mesh | None = None, state_sharding: Any = None
) -> Callable:
    """``jax.jit`` the step once, donating the state; with a mesh, the batch sharded and the state
    replicated or as ``state_sharding`` (from :func:`state_shardings`), and the step traced with the
    mesh in context so that what it draws is data-parallel too (:func:`constrain_batch`)."""
    if mesh is None:
        return jax.jit(train_step, donate_argnums=0)
    state_sharding = replicated(mesh) if state_sharding is None else state_sharding

    def step_on_mesh(state, batch):
        with jax.sharding.use_abstract_mesh(mesh.abstract_mesh):
            return train_step(state, batch)

    return jax.jit(
        step_on_mesh,
        in_shardings=(state_sharding, batch_sharded(mesh)),
        out_shardings=(state_sharding, replicated(mesh)),
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
