"""What the facade hands back: task status snapshots, pages, recurring tasks, failures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from burro.states import TaskState
from burro.storage.base import Job, RecurringRecord

__all__ = ["Failure", "Pagination", "RecurringTask", "TaskStatus"]


@dataclass(frozen=True, slots=True)
class Failure:
    """Return ``burro.Failure(reason)`` from a worker to fail the attempt without raising."""

    reason: Any = None


@dataclass(frozen=True, slots=True)
class TaskStatus:
    """A snapshot of one task, as stored."""

    id: str
    status: TaskState
    queue: str
    worker: str
    function: str
    args: tuple[Any, ...]
    priority: int
    attempts: int
    max_attempts: int
    last_error: str | None
    errors: tuple[Mapping[str, Any], ...]
    result: Any
    meta: Mapping[str, Any]
    inserted_at: datetime
    scheduled_at: datetime | None
    attempted_at: datetime | None
    completed_at: datetime | None
    #: The reason given to ``cancel_task`` for a cancelled task (or a running one asked to
    #: stop); None without a cancel or a reason, and again once ``retry_task`` revives it.
    cancel_reason: str | None = None

    @classmethod
    def from_job(cls, job: Job) -> TaskStatus:
        """Build the public snapshot from a stored record."""
        return cls(
            id=job.id,
            status=job.state,
            queue=job.queue,
            worker=job.worker,
            function=job.function,
            args=job.args,
            priority=job.priority,
            attempts=job.attempts,
            max_attempts=job.max_attempts,
            last_error=job.last_error,
            errors=tuple({"attempt": e.attempt, "at": e.at, "error": e.error} for e in job.errors),
            result=job.result,
            meta=job.meta,
            inserted_at=job.inserted_at,
            scheduled_at=job.scheduled_at,
            attempted_at=job.attempted_at,
            completed_at=job.completed_at,
            cancel_reason=job.cancel_reason,
        )


@dataclass(frozen=True, slots=True)
class Pagination:
    """Where a page of :meth:`list_tasks` sits in the whole result."""

    total_entries: int
    total_pages: int
    page_number: int
    page_size: int


@dataclass(frozen=True, slots=True)
class RecurringTask:
    """A recurring task definition and its next fire time."""

    name: str
    cron_expression: str
    timezone: str
    worker: str
    function: str
    args: tuple[Any, ...]
    next_fire_at: datetime
    options: Mapping[str, Any]

    @classmethod
    def from_record(cls, record: RecurringRecord) -> RecurringTask:
        """Build the public view of a stored definition."""
        return cls(
            name=record.name,
            cron_expression=record.cron_expression,
            timezone=record.timezone,
            worker=record.worker,
            function=record.function,
            args=record.args,
            next_fire_at=record.next_fire_at,
            options=record.options,
        )
