"""Turning a backend's mutable job record into the frozen :class:`Job` callers get."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from burro.states import TaskState
from burro.storage._codec import pack, unpack
from burro.storage.base import ErrorEntry, Job

__all__ = ["PACKED_NONE", "PACKED_NO_META", "JobFields", "frozen_job"]

_build = tuple.__new__

#: ``None``, encoded: the result of a job that returned nothing storable.
PACKED_NONE = pack(None)
#: An empty mapping, encoded: the meta of most jobs (a new dict costs less than decoding).
PACKED_NO_META = pack({})


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
    def errors(self) -> Sequence[ErrorEntry] | None:
        """The failed attempts, oldest first (``None`` or empty: none)."""


def frozen_job(record: JobFields, job_id: str) -> Job:
    """A frozen copy of ``record``, with freshly decoded values callers cannot alias."""
    packed_result = record.packed_result
    packed_meta = record.packed_meta
    errors = record.errors
    # Straight through tuple.__new__, in field order (checked below): this runs for every
    # job claimed and settled, and the named tuple's own __new__ is a Python call more.
    return _build(
        Job,
        (
            job_id,
            record.state,
            record.queue,
            record.worker,
            record.function,
            tuple(unpack(record.packed_args)),
            record.priority,
            record.attempts,
            record.max_attempts,
            record.retry_delay_seconds,
            record.timeout_seconds,
            {} if packed_meta == PACKED_NO_META else unpack(packed_meta),
            record.inserted_at,
            record.scheduled_at,
            record.attempted_at,
            record.completed_at,
            record.last_error,
            tuple(errors) if errors else (),
            None if packed_result == PACKED_NONE else unpack(packed_result),
            record.claimed_by,
            record.cancel_requested,
            record.cancel_reason,
            record.unique_key,
        ),
    )


#: The field order :func:`frozen_job` passes its values in.
_JOB_FIELDS = [
    "id",
    "state",
    "queue",
    "worker",
    "function",
    "args",
    "priority",
    "attempts",
    "max_attempts",
    "retry_delay_seconds",
    "timeout_seconds",
    "meta",
    "inserted_at",
    "scheduled_at",
    "attempted_at",
    "completed_at",
    "last_error",
    "errors",
    "result",
    "claimed_by",
    "cancel_requested",
    "cancel_reason",
    "unique_key",
]
if Job._fields != tuple(_JOB_FIELDS):
    raise ImportError("burro.storage.base.Job changed its fields: update frozen_job")
