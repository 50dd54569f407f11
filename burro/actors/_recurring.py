"""Firing recurring tasks: exactly one job per fire time, recorded atomically in storage."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from burro.cron import CronSchedule, missed_fires, next_fire_at
from burro.errors import InvalidTaskError
from burro.storage.base import NewJob, RecurringRecord, Storage

if TYPE_CHECKING:
    from burro.observability.reporter import LifecycleReporter

__all__ = ["CATCH_UP_LIMIT", "fire_due", "job_for_fire"]

logger = logging.getLogger("burro.scheduler")

#: The most missed fires ``catch_up="all"`` runs after a long downtime (the latest ones).
CATCH_UP_LIMIT = 100
_JUST_BEFORE = timedelta(microseconds=1)


def fire_due(
    storage: Storage, now: datetime, grace: timedelta, reporter: LifecycleReporter
) -> tuple[set[str], datetime | None]:
    """Fire every recurring task due at ``now`` (each fire reported by ``reporter``).

    Returns the queues that got jobs and the earliest next fire time of any task.
    A fire already recorded by another process or an earlier incarnation is skipped,
    so several schedulers sharing the store never enqueue it twice.
    """
    queues: set[str] = set()
    earliest: datetime | None = None
    for record in storage.list_recurring():
        upcoming = record.next_fire_at
        if upcoming <= now:
            upcoming = _fire_record(storage, record, now, grace, queues, reporter)
        earliest = upcoming if earliest is None else min(earliest, upcoming)
    return queues, earliest


def _fire_record(
    storage: Storage,
    record: RecurringRecord,
    now: datetime,
    grace: timedelta,
    queues: set[str],
    reporter: LifecycleReporter,
) -> datetime:
    try:
        schedule = CronSchedule(record.cron_expression, record.timezone)
    except InvalidTaskError:
        logger.exception("recurring task %r has an invalid schedule; skipping it", record.name)
        return now + timedelta(days=365)
    upcoming = next_fire_at(schedule, after=now)
    fires = _fires_to_run(schedule, record, now, grace)
    if not fires:
        # Nothing to run (catch_up="none" after downtime): still move past the misses,
        # unless the task was cancelled or redefined since it was read.
        storage.advance_recurring(record, upcoming)
    for fire_at in fires:
        with reporter.firing(record.name, fire_at, job_for_fire(record, fire_at)) as fire:
            job_id = storage.fire_recurring(record, fire_at, fire.job, upcoming, now)
            fire.stored(job_id)
        if job_id is not None:
            queues.add(fire.job.queue)
            # What storage now holds: the next fire of a catch-up compares against it.
            record = dataclasses.replace(record, next_fire_at=upcoming, last_fire_at=fire_at)
    return upcoming


def _fires_to_run(
    schedule: CronSchedule, record: RecurringRecord, now: datetime, grace: timedelta
) -> list[datetime]:
    catch_up = record.options.get("catch_up", "one")
    lower = record.next_fire_at - _JUST_BEFORE
    if catch_up == "none":
        # On time (within the grace) is not a misfire: the regular fire still runs.
        latest = missed_fires(schedule, lower, now, catch_up="one")
        return [f for f in latest if now - f <= grace]
    return missed_fires(schedule, lower, now, catch_up=catch_up, limit=CATCH_UP_LIMIT)


def job_for_fire(record: RecurringRecord, fire_at: datetime) -> NewJob:
    """The job one fire of ``record`` enqueues, tagged with its name and fire time."""
    options: Mapping[str, Any] = record.options
    meta = {**options.get("meta", {}), "recurring": record.name, "fire_at": fire_at.isoformat()}
    return NewJob(
        queue=options["queue"],
        worker=record.worker,
        function=record.function,
        args=tuple(record.args),
        priority=options.get("priority", 0),
        max_attempts=options.get("max_attempts", 5),
        retry_delay_seconds=options.get("retry_delay_seconds", 15.0),
        timeout_seconds=options.get("timeout_seconds"),
        meta=meta,
    )
