"""What releasing a claimed job means, shared by every backend that keeps jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from burro.states import TaskState

__all__ = ["ClaimedRecord", "put_back"]


class ClaimedRecord(Protocol):
    """The mutable parts of a backend's job record that a release changes."""

    state: TaskState
    attempts: int
    max_attempts: int
    claimed_by: str | None
    cancel_requested: bool

    def finish(self, state: TaskState, now: datetime) -> None:
        """End the job in ``state``."""

    def record_failure(self, error: str, now: datetime) -> None:
        """Append a failed attempt."""


def put_back(record: ClaimedRecord, now: datetime, *, rescue: bool) -> bool:
    """Return a claimed job to the queue, ending it if it must not run again.

    A rescue (``rescue=True``: the run was interrupted) counts the attempt as failed and
    records why, in ``errors`` and ``last_error``; a graceful release (``rescue=False``)
    gives the attempt back and records nothing. Then a job whose cancellation was asked
    while it ran ends ``cancelled``, a rescued job with no attempts left is discarded and
    any other goes back to ``pending``. Returns True if a failed attempt was recorded
    (the backend counts it in ``failed_today``).
    """
    if rescue:
        record.record_failure(
            f"interrupted: attempt {record.attempts} ended without an outcome (its worker "
            f"or its runtime {record.claimed_by} stopped while it ran)",
            now,
        )
    if record.cancel_requested:
        record.finish(TaskState.CANCELLED, now)
    elif rescue and record.attempts >= record.max_attempts:
        record.finish(TaskState.DISCARDED, now)
    else:
        if not rescue:
            record.attempts -= 1
        record.state = TaskState.PENDING
        record.claimed_by = None
    return rescue
