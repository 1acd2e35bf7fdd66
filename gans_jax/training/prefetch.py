"""Batches placed on the devices ahead of the step that reads them.

On a GPU or TPU the copy of a batch from host memory to the devices can overlap the steps before it:
:class:`DevicePrefetcher` keeps ``size`` batches already handed to ``jax.device_put`` (asynchronous)
while the current step runs, so the step never waits for its input. On the CPU the "device" is host
memory and the copy is a memcpy on the same cores, so the loop places each batch when it needs it
(:func:`default_prefetch`).

The data iterator's checkpointable position is the position after the last batch *handed out*, not
after the last one read ahead: :meth:`DevicePrefetcher.get_state` returns the state recorded with each
batch, so a checkpoint taken at step ``t`` resumes at batch ``t`` exactly as without prefetching.
"""

from __future__ import annotations

import collections
import copy
from collections.abc import Callable, Iterator
from typing import Any

DEFAULT_SIZE = 2  # batches in flight on accelerators (flax's prefetch_to_device uses 2 as well)


def default_prefetch(setting: int, platform: str) -> int:
    """``train.prefetch``: a number >= 0 as given; -1 chooses by the devices' ``platform``:
    :data:`DEFAULT_SIZE` on accelerators, 0 on the CPU."""
    if setting >= 0:
        return int(setting)
    if setting != -1:
        raise ValueError(f"train.prefetch={setting} is out of range: expected -1 (by platform) or >= 0")
    return 0 if platform == "cpu" else DEFAULT_SIZE


class DevicePrefetcher:
    """``next()`` gives ``place(next(iterator))``, read and placed ``size`` batches ahead.

    ``iterator`` needs ``get_state()``/``set_state()`` (a grain iterator): :meth:`get_state` is the
    position after the last batch handed out, :meth:`set_state` drops the batches read ahead. With
    ``size=0`` every call reads and places one batch, and the state is the iterator's own."""

    def __init__(self, iterator: Iterator, place: Callable[[Any], Any], size: int = DEFAULT_SIZE):
        if size < 0:
            raise ValueError(f"prefetch size must be >= 0, got {size}")
        self.iterator, self.place, self.size = iterator, place, int(size)
        self._ahead: collections.deque = collections.deque()
        self._state = copy.deepcopy(iterator.get_state()) if self.size else None

    def __iter__(self) -> DevicePrefetcher:
        return self

    def __next__(self):
        if not self.size:
            return self.place(next(self.iterator))
        while len(self._ahead) <= self.size:  # the batch handed out now, and `size` behind it
            batch = self.place(next(self.iterator))
            self._ahead.append((batch, copy.deepcopy(self.iterator.get_state())))
        batch, self._state = self._ahead.popleft()
        return batch

    def get_state(self):
        if not self.size:
            return self.iterator.get_state()
        return copy.deepcopy(self._state)

    def set_state(self, state) -> None:
        self._ahead.clear()
        self.iterator.set_state(state)
        if self.size:
            self._state = copy.deepcopy(state)


__all__ = ["DEFAULT_SIZE", "DevicePrefetcher", "default_prefetch"]
