"""One place that tells the world what happened to a job: logs and lifecycle events."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from burro.observability.events import EventBus
from burro.states import TaskState
from burro.storage.base import Job

if TYPE_CHECKING:
    from burro.actors._execute import Outcome

__all__ = ["LifecycleReporter"]

logger = logging.getLogger("burro.jobs")

_SETTLED_EVENTS = {
    TaskState.COMPLETED: "job.completed",
    TaskState.RETRYABLE: "job.retry",
    TaskState.DISCARDED: "job.discarded",
    TaskState.CANCELLED: "job.cancelled",
}


def _fields(job: Job) -> dict[str, Any]:
    # Never the args: they may hold personal data.
    return {
        "task_id": job.id,
        "queue": job.queue,
        "worker": f"{job.worker}.{job.function}",
        "attempt": job.attempts,
    }


class LifecycleReporter:
    """Logs (logger ``burro.jobs``) and lifecycle events for job transitions."""

    def __init__(self, events: EventBus) -> None:
        self._events = events

    def enqueued(self, ids: Sequence[str], queue: str, worker: str) -> None:
        """Jobs were stored."""
        if logger.isEnabledFor(logging.INFO):
            for task_id in ids:
                logger.info(
                    "enqueued %s on %s",
                    task_id,
                    queue,
                    extra={"task_id": task_id, "queue": queue, "worker": worker},
                )
        if self._events.wants("job.enqueued"):
            for task_id in ids:
                self._events.emit(
                    "job.enqueued", {"task_id": task_id, "queue": queue, "worker": worker}
                )

    def started(self, job: Job) -> None:
        """An attempt began."""
        if logger.isEnabledFor(logging.INFO):
            logger.info("started %s (attempt %d)", job.id, job.attempts, extra=_fields(job))
        if self._events.wants("job.started"):
            self._events.emit("job.started", _fields(job))

    def settled(self, job: Job, outcome: Outcome, duration: float) -> None:
        """An attempt's outcome was committed; ``job`` is the record as it now is."""
        fields = _fields(job)
        if outcome.kind == "failed":
            self._failed(job, outcome, fields)
        elif job.state is TaskState.COMPLETED and logger.isEnabledFor(logging.INFO):
            logger.info("completed %s in %.3fs", job.id, duration, extra=fields)
        elif job.state is TaskState.CANCELLED:
            logger.info("cancelled %s", job.id, extra=fields)
        event = _SETTLED_EVENTS.get(job.state)
        if event is not None and self._events.wants(event):
            self._events.emit(event, {**fields, "duration": duration, "error": outcome.error_type})

    def _failed(self, job: Job, outcome: Outcome, fields: dict[str, Any]) -> None:
        summary = (outcome.error or "").partition("\n")[0]
        if job.state is TaskState.RETRYABLE:
            logger.warning(
                "failed %s (attempt %d/%d), will retry at %s: %s",
                job.id,
                job.attempts,
                job.max_attempts,
                job.scheduled_at.isoformat(),
                summary,
                extra=fields,
            )
        elif job.state is TaskState.DISCARDED:
            logger.error(
                "discarded %s after %d attempt(s): %s", job.id, job.attempts, summary, extra=fields
            )
        if self._events.wants("job.failed"):
            self._events.emit("job.failed", {**fields, "error": summary})

    def cancelled(self, job: Job) -> None:
        """A job was cancelled before it ran."""
        logger.info("cancelled %s", job.id, extra=_fields(job))
        if self._events.wants("job.cancelled"):
            self._events.emit("job.cancelled", _fields(job))

    def actor_restarted(self, supervisor: str, child: str, reason: str, count: int) -> None:
        """A supervised actor was restarted."""
        if self._events.wants("actor.restarted"):
            self._events.emit(
                "actor.restarted",
                {"supervisor": supervisor, "actor": child, "reason": reason, "count": count},
            )
