"""Preemption: on SIGTERM or SIGINT, training finishes its step, writes a checkpoint and exits.

SIGTERM is what a preemptible cloud VM (a TPU VM or a spot instance being reclaimed), SLURM (at the
time limit, on ``scancel`` and before requeueing) and Kubernetes send a process before killing it;
SIGINT is Ctrl-C. While the training loop runs, either one is noted instead of ending the process: the
loop finishes the current step, writes a checkpoint of it, flushes the logs, prints
``gans-jax: preempted at step N; checkpoint written, rerun the same command to resume`` and raises
:class:`Preempted`, a ``SystemExit`` with status :data:`EXIT_PREEMPTED` (75, ``EX_TEMPFAIL`` of
sysexits.h: "temporary failure, rerun"), so a job script can tell a preempted run (rerun it) from a
finished one (0) and a failed one (1). A second signal acts as it would without this module: Ctrl-C
raises ``KeyboardInterrupt``, SIGTERM ends the process at once.

Multi-host (``jax.distributed``): every process must save the same step, and a preemption notice may
reach one host only. ``jax.distributed.initialize`` installs jaxlib's preemption notifier: a C++
``std::signal(SIGTERM, ...)`` handler that only sets a flag (which is why SIGTERM seems ignored after
it), polled once a second by a thread that tells the coordination service; the processes then agree on
the step after the furthest one, and ``multihost_utils.reached_preemption_sync_point(i)`` is true
on every process at that step. The loop calls it once per step, with a count of the steps this
process has run, the same on every process. Python's own SIGTERM handler would replace the
notifier's, so on multi-host runs only SIGINT gets a Python handler, which passes the signal on to the
notifier as a SIGTERM. (This module's handlers are installed only while the loop runs; jaxlib's
stays: on multi-host runs a SIGTERM during start-up stops the run after its first step, and one
during the final evaluation is ignored.)

Single process: a signal during start-up or the final evaluation ends the process as usual (nothing
is lost that a rerun does not redo).
"""

from __future__ import annotations

import itertools
import signal
import sys
import threading
import warnings

import jax

EXIT_PREEMPTED = 75

# The ids given to reached_preemption_sync_point: 1, 2, 3, ... over every run of this process (a
# Progressive GAN trains its stages one after another), the same sequence on every process.
_STEP_CALLS = itertools.count(1)


class Preempted(SystemExit):
    """Training stopped on a preemption signal after checkpointing ``step``; exits with status 75."""

    def __init__(self, step: int):
        super().__init__(EXIT_PREEMPTED)
        self.step = step


def preempted_message(step: int) -> str:
    return f"gans-jax: preempted at step {step}; checkpoint written, rerun the same command to resume"


class PreemptionWatcher:
    """Notes SIGTERM/SIGINT between :meth:`arm` and :meth:`disarm`; :meth:`reached` says when to stop.

    Use as a context manager around the training run (it disarms on the way out, whatever happens)."""

    def __init__(self):
        self.multihost = jax.process_count() > 1
        self.signal_name: str | None = None
        self._stop = False
        self._previous: dict[int, object] = {}
        # jaxlib's preemption service (jax_enable_preemption_service, on by default) is what lets the
        # processes of a multi-host run agree on the step.
        self._service = not self.multihost or _preemption_service_running()

    def arm(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # Python runs signal handlers in the main thread only: signals keep their defaults
        if not self._service:
            warnings.warn(
                "jax's preemption service is off (jax_enable_preemption_service): this multi-host run "
                "cannot agree on a step to checkpoint at on SIGTERM/SIGINT, which end it as usual",
                RuntimeWarning,
                stacklevel=2,
            )
            return
        signals = (signal.SIGINT,) if self.multihost else (signal.SIGTERM, signal.SIGINT)
        for signum in signals:
            self._previous[signum] = signal.signal(signum, self._handle)

    def disarm(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, signal.SIG_DFL if previous is None else previous)
        self._previous.clear()

    def __enter__(self) -> PreemptionWatcher:
        return self

    def __exit__(self, *exc) -> None:
        self.disarm()

    def _handle(self, signum, frame) -> None:
        name = signal.Signals(signum).name
        previous = self._previous.pop(signum, None)
        signal.signal(signum, signal.SIG_DFL if previous is None else previous)  # a second one: as usual
        if self.signal_name is None:
            self.signal_name = name
            print(
                f"gans-jax: {name} received; finishing the step, then writing a checkpoint "
                f"(send {name} again to stop at once)",
                file=sys.stderr,
                flush=True,
            )
        if self.multihost:
            signal.raise_signal(signal.SIGTERM)  # to jaxlib's preemption notifier
        else:
            self._stop = True

    def reached(self) -> bool:
        """Call once per training step, on every process; true from the step at which every process
        is to checkpoint and stop."""
        counter = next(_STEP_CALLS)
        if self._stop or not self.multihost or not self._service:
            return self._stop
        from jax.experimental import multihost_utils

        self._stop = multihost_utils.reached_preemption_sync_point(counter)
        return self._stop


def _preemption_service_running() -> bool:
    """Whether jax.distributed started its preemption sync service. It is only visible through a private
    module; in a JAX that moved it this code cannot reach the service, and :meth:`PreemptionWatcher.arm`
    warns and leaves SIGTERM/SIGINT their defaults, as when the service is off."""
    try:
        from jax._src import distributed
    except ImportError:
        return False
    return getattr(getattr(distributed, "global_state", None), "preemption_sync_manager", None) is not None
