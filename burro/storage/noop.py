"""The ``noop`` backend: accepts everything and stores nothing.

It backs ``enabled = false`` (the seed's NoOp adapter): enqueues succeed and return fresh
ids, nothing is kept, so nothing is ever claimed, listed or counted.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from burro.states import TaskState
from burro.storage.base import (
    CancelOutcome,
    Inserted,
    Job,
    JobFilter,
    NewJob,
    RecurringRecord,
    RuntimeInfo,
    Settlement,
    SortField,
)

__all__ = ["NoopStorage"]


class NoopStorage:
    """A :class:`~burro.storage.base.Storage` that forgets everything it is given."""

    def __repr__(self) -> str:
        return "NoopStorage()"

    def insert(self, job: NewJob, now: datetime) -> Inserted:
        """Return a fresh id; nothing is stored."""
        return Inserted(uuid.uuid4().hex, created=True)

    def insert_many(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        """Return a fresh id per job; nothing is stored."""
        return [self.insert(job, now) for job in jobs]

    def claim(self, queue: str, limit: int, runtime_id: str, now: datetime) -> list[Job]:
        """Nothing is ever ready."""
        return []

    def settle(self, settlements: Sequence[Settlement], now: datetime) -> list[Job | None]:
        """No job is running, so every settlement is ignored."""
        return [None] * len(settlements)

    def settle_and_claim(
        self,
        settlements: Sequence[Settlement],
        claims: Mapping[str, int],
        runtime_id: str,
        now: datetime,
    ) -> tuple[list[Job | None], dict[str, list[Job]]]:
        """Nothing is running and nothing is ready."""
        return [None] * len(settlements), {}

    def release(
        self, runtime_id: str, job_ids: Iterable[str] | None, now: datetime, *, rescue: bool
    ) -> list[Job]:
        """No claims to release."""
        return []

    def promote(self, now: datetime, limit: int) -> dict[str, int]:
        """Nothing waits to be promoted."""
        return {}

    def next_due_at(self) -> datetime | None:
        """Nothing is ever due."""
        return None

    def cancel(self, job_id: str, reason: str | None, now: datetime) -> CancelOutcome | None:
        """Every job is unknown."""
        return None

    def retry(self, job_id: str, now: datetime) -> Job | None:
        """Every job is unknown."""
        return None

    def get(self, job_id: str) -> Job | None:
        """Every job is unknown."""
        return None

    def list_jobs(
        self,
        filters: JobFilter,
        *,
        offset: int,
        limit: int,
        sort_by: SortField = "inserted_at",
        descending: bool = False,
    ) -> tuple[list[Job], int]:
        """An empty page of an empty store."""
        return [], 0

    def counts(self) -> dict[str, dict[TaskState, int]]:
        """No queue holds anything."""
        return {}

    def failed_today(self, now: datetime) -> dict[str, int]:
        """Nothing ever fails."""
        return {}

    def delete_finished(self, states: frozenset[TaskState], before: datetime, limit: int) -> int:
        """Nothing to delete."""
        return 0

    def upsert_recurring(self, record: RecurringRecord, *, keep_fire_times: bool = False) -> None:
        """Accept the definition and forget it."""

    def delete_recurring(self, name: str) -> bool:
        """No recurring task is ever stored."""
        return False

    def get_recurring(self, name: str) -> RecurringRecord | None:
        """No recurring task is ever stored."""
        return None

    def list_recurring(self) -> list[RecurringRecord]:
        """No recurring task is ever stored."""
        return []

    def fire_recurring(
        self,
        record: RecurringRecord,
        fire_at: datetime,
        job: NewJob,
        next_fire_at: datetime,
        now: datetime,
    ) -> str | None:
        """The recurring task does not exist, so it never fires."""
        return None

    def advance_recurring(self, record: RecurringRecord, next_fire_at: datetime) -> bool:
        """The recurring task does not exist, so it never moves."""
        return False

    def register_runtime(self, info: RuntimeInfo) -> None:
        """Accept the runtime and forget it."""

    def unregister_runtime(self, runtime_id: str) -> None:
        """Nothing to forget."""

    def rescue_orphans(self, now: datetime) -> list[Job]:
        """No claims, so no orphans."""
        return []

    def close(self) -> None:
        """Nothing to release."""
