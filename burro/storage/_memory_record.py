"""The mutable job record of the in-memory store, and how values are kept in it.

Arguments, meta and results are kept msgpack-encoded by the codec the LMDB store uses: a
caller can never mutate a stored value, what cannot be encoded is refused here as it
would be there, and values read back have the same shapes (lists, dicts, aware UTC
datetimes) whichever backend holds them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from burro.states import TaskState
from burro.storage._codec import pack_value
from burro.storage._job_view import frozen_job
from burro.storage._memory_index import Entry
from burro.storage.base import ErrorEntry, Job, NewJob

__all__ = ["JobRecord", "utc"]


def utc(moment: datetime) -> datetime:
    """An aware datetime converted to UTC."""
    return moment.astimezone(UTC)


_NONE = pack_value(None, "result")


@dataclass(slots=True)
class JobRecord:
    """One stored job; changed only under the store's lock."""

    seq: int
    id: str
    state: TaskState
    queue: str
    worker: str
    function: str
    packed_args: bytes
    priority: int
    max_attempts: int
    retry_delay_seconds: float
    timeout_seconds: float | None
    packed_meta: bytes
    inserted_at: datetime
    scheduled_at: datetime
    unique_key: bytes | None
    attempts: int = 0
    attempted_at: datetime | None = None
    completed_at: datetime | None = None
    last_error: str | None = None
    errors: tuple[ErrorEntry, ...] = ()
    packed_result: bytes = _NONE
    claimed_by: str | None = None
    cancel_requested: bool = False
    cancel_reason: str | None = None

    @classmethod
    def create(cls, seq: int, job_id: str, job: NewJob, now: datetime) -> JobRecord:
        """A new record for ``job`` inserted at ``now``: ``pending`` unless due later."""
        scheduled_at = utc(job.scheduled_at or now)
        state = TaskState.SCHEDULED if scheduled_at > now else TaskState.PENDING
        return cls(
            seq=seq,
            id=job_id,
            state=state,
            queue=job.queue,
            worker=job.worker,
            function=job.function,
            packed_args=pack_value(list(job.args), "args"),
            priority=job.priority,
            max_attempts=job.max_attempts,
            retry_delay_seconds=job.retry_delay_seconds,
            timeout_seconds=job.timeout_seconds,
            packed_meta=pack_value(dict(job.meta), "meta"),
            inserted_at=utc(now),
            scheduled_at=scheduled_at,
            unique_key=job.unique_key,
        )

    def entry(self) -> Entry:
        """Where this record belongs in the indexes right now."""
        return Entry(
            seq=self.seq,
            queue=self.queue,
            worker=self.worker,
            state=self.state,
            priority=self.priority,
            inserted_at=self.inserted_at,
            scheduled_at=self.scheduled_at,
            attempted_at=self.attempted_at,
            completed_at=self.completed_at,
            claimed_by=self.claimed_by,
            job_id=self.id,
        )

    def finish(self, state: TaskState, now: datetime) -> None:
        """Move to a finished state at ``now``, giving up any claim."""
        self.state = state
        self.completed_at = now
        self.claimed_by = None

    def record_failure(self, error: str, now: datetime) -> None:
        """Append a failed attempt to ``errors`` and make it ``last_error``."""
        self.errors = (*self.errors, ErrorEntry(attempt=self.attempts, at=now, error=error))
        self.last_error = error

    def to_job(self) -> Job:
        """A frozen copy of this record, with freshly decoded values."""
        return frozen_job(self, self.id)
