"""The states a task moves through."""

from __future__ import annotations

import enum

__all__ = ["ACTIVE_STATES", "FINISHED_STATES", "WAITING_STATES", "TaskState"]


class TaskState(enum.StrEnum):
    """The lifecycle state of a task (a ``str``, so it compares equal to its name)."""

    SCHEDULED = "scheduled"
    PENDING = "pending"
    RUNNING = "running"
    RETRYABLE = "retryable"
    COMPLETED = "completed"
    DISCARDED = "discarded"
    CANCELLED = "cancelled"


#: States whose ``scheduled_at`` decides when they become ``pending``.
WAITING_STATES = frozenset({TaskState.SCHEDULED, TaskState.RETRYABLE})
#: States of a task that may still run.
ACTIVE_STATES = frozenset(
    {TaskState.SCHEDULED, TaskState.PENDING, TaskState.RUNNING, TaskState.RETRYABLE}
)
#: States a task never leaves on its own.
FINISHED_STATES = frozenset({TaskState.COMPLETED, TaskState.DISCARDED, TaskState.CANCELLED})
