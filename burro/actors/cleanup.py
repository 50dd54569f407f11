"""CleanupActor: deletes old finished jobs in small batches, on a timer."""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

import pykka

from burro.actors._base import BurroActor
from burro.actors._context import RuntimeContext
from burro.clock import TimerHandle
from burro.errors import StorageError
from burro.states import TaskState
from burro.storage.base import Storage

__all__ = ["CleanupActor", "Sweep", "sweep_finished"]

#: One short transaction each, so queues are never stalled by a large clean-up.
CLEANUP_BATCH = 500
_COMPLETED = frozenset({TaskState.COMPLETED})
_FAILED = frozenset({TaskState.DISCARDED, TaskState.CANCELLED})


class Sweep:
    """Message: run a clean-up now."""

    __slots__ = ()


SWEEP = Sweep()


def retention_cut(now: datetime, days: float) -> datetime | None:
    """The time before which tasks finished ``days`` ago are old enough to delete.

    ``None`` for a retention reaching back before year 1: no task is that old.
    """
    try:
        return now - timedelta(days=days)
    except OverflowError:
        return None


def sweep_finished(
    storage: Storage,
    now: datetime,
    retention_days_completed: float,
    retention_days_failed: float,
    batch: int | None = None,
) -> int:
    """Delete completed jobs older than one retention and failed ones older than the other."""
    batch = batch or CLEANUP_BATCH
    removed = 0
    for states, days in ((_COMPLETED, retention_days_completed), (_FAILED, retention_days_failed)):
        before = retention_cut(now, days)
        if before is None:
            continue
        while (count := storage.delete_finished(states, before, batch)) > 0:
            removed += count
            if count < batch:
                break
    return removed


class CleanupActor(BurroActor):
    """Runs :func:`sweep_finished` every ``cleanup.interval_seconds``."""

    def __init__(self, context: RuntimeContext) -> None:
        super().__init__()
        self._ctx = context
        self._timer: TimerHandle | None = None

    def on_start(self) -> None:
        """Arm the first sweep one interval from now."""
        self._arm()

    def on_stop(self) -> None:
        """Disarm the timer."""
        if self._timer is not None:
            self._timer.cancel()

    def handle(self, message: Any) -> Any:
        """Sweep, then re-arm."""
        if isinstance(message, Sweep):
            self._sweep()
            self._arm()
            return None
        return super().handle(message)

    def _sweep(self) -> None:
        cleanup = self._ctx.config.cleanup
        try:
            with self._ctx.reporter.cleaning() as cleanup_run:
                removed = sweep_finished(
                    self._ctx.storage,
                    self._ctx.clock.now(),
                    cleanup.retention_days_completed,
                    cleanup.retention_days_failed,
                )
                cleanup_run.removed(removed)
        except StorageError as error:
            # Ridden out (see burro.actors._outage): the next interval's sweep tries again.
            self._ctx.outage.failed(error, "clean-up")

    def _arm(self) -> None:
        when = self._ctx.clock.now() + timedelta(seconds=self._ctx.config.cleanup.interval_seconds)
        self._timer = self._ctx.clock.call_at(when, self._fire)

    def _fire(self) -> None:
        # stopped or restarting: the next incarnation arms its own timer
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(SWEEP)
