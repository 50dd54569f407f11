"""Turning a backend's mutable job record into the frozen :class:`Job` callers get."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from burro.states import TaskState
from burro.storage._codec import pack, unpack
from burro.storage.base import ErrorEntry, Job

__all__ = ["PACKED_NONE", "JobFields", "frozen_job"]

#: ``None``, encoded: the result of a job that returned nothing storable.
PACKED_NONE = pack(None)


class JobFields(Protocol):
    """The fields every backend's job record keeps (values stay msgpack-encoded)."""

    state: TaskState
    queue: str
    worker: str
    function: str
    packed_args: bytes
    priority: int
    attempts: int
    max_attempts: int
    retry_delay_seconds: float
    timeout_seconds: float | None
    packed_meta: bytes
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None
    completed_at: datetime | None
    last_error: str | None
    packed_result: bytes
    claimed_by: str | None
    cancel_requested: bool
    cancel_reason: str | None
    unique_key: bytes | None

    @property
    def error_entries(self) -> Iterable[ErrorEntry]:
        """The failed attempts, oldest first."""


def frozen_job(record: JobFields, job_id: str) -> Job:
    """A frozen copy of ``record``, with freshly decoded values callers cannot alias."""
    return Job(
        id=job_id,
        state=record.state,
        queue=record.queue,
        worker=record.worker,
        function=record.function,
        args=tuple(unpack(record.packed_args)),
        priority=record.priority,
        attempts=record.attempts,
        max_attempts=record.max_attempts,
        retry_delay_seconds=record.retry_delay_seconds,
        timeout_seconds=record.timeout_seconds,
        meta=unpack(record.packed_meta),
        inserted_at=record.inserted_at,
        scheduled_at=record.scheduled_at,
        attempted_at=record.attempted_at,
        completed_at=record.completed_at,
        last_error=record.last_error,
        errors=tuple(record.error_entries),
        result=None if record.packed_result == PACKED_NONE else unpack(record.packed_result),
        claimed_by=record.claimed_by,
        cancel_requested=record.cancel_requested,
        cancel_reason=record.cancel_reason,
        unique_key=record.unique_key,
    )
