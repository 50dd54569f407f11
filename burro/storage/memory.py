"""The in-memory job store (the ``memory`` backend, ETS-like): LMDB's semantics, no disk.

Everything lives in one process and disappears with it. One lock serialises every
operation, so each is atomic and thread-safe. Indexes (see ``_memory_index``) keep
claiming, promoting and listing a page at ``O(log n + k)`` and counting at ``O(queues)``.
Within one process a runtime is alive exactly while it is registered.
"""

from __future__ import annotations

import itertools
import threading
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import get_args

from burro.errors import StorageError
from burro.states import FINISHED_STATES, TaskState
from burro.storage._codec import pack_value, unpack
from burro.storage._memory_index import JobIndex, micros
from burro.storage._memory_record import JobRecord, utc
from burro.storage._release import put_back
from burro.storage.base import (
    CancelOutcome,
    Complete,
    Fail,
    Inserted,
    Job,
    JobFilter,
    NewJob,
    RecurringRecord,
    RuntimeInfo,
    Settlement,
    SortField,
)

__all__ = ["MemoryStorage"]

_SORT_FIELDS = frozenset(get_args(SortField))


@dataclass(frozen=True, slots=True)
class _StoredRecurring:
    """A recurring definition with its arguments and options kept encoded."""

    record: RecurringRecord
    packed_args: bytes
    packed_options: bytes

    @classmethod
    def of(cls, record: RecurringRecord) -> _StoredRecurring:
        return cls(
            record,
            pack_value(list(record.args), "args"),
            pack_value(dict(record.options), "options"),
        )

    def read(self) -> RecurringRecord:
        args = tuple(unpack(self.packed_args))
        return replace(self.record, args=args, options=unpack(self.packed_options))

    def same_as(self, record: RecurringRecord) -> bool:
        """Whether ``record`` (as read earlier) is this definition, at this point in time."""
        # Arguments and options compare encoded: decoded values may differ from what the
        # caller gave (tuples read back as lists) or from themselves (a NaN).
        other = _StoredRecurring.of(record)
        return (
            self.packed_args == other.packed_args
            and self.packed_options == other.packed_options
            and replace(self.record, args=(), options={}) == replace(record, args=(), options={})
        )


class MemoryStorage:
    """A :class:`~burro.storage.base.Storage` kept in this process's memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._closed = False
        self._sequence = itertools.count(1)
        self._jobs: dict[str, JobRecord] = {}
        self._index = JobIndex()
        #: Unique key -> the ids of every stored job with it, in insertion order.
        self._unique: dict[bytes, list[str]] = {}
        self._failures: dict[date, Counter[str]] = {}
        self._recurring: dict[str, _StoredRecurring] = {}
        self._fires: dict[str, set[datetime]] = {}
        self._runtimes: dict[str, RuntimeInfo] = {}

    def __repr__(self) -> str:
        return f"MemoryStorage(jobs={len(self._jobs)})"

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise StorageError("the memory store is closed")
            yield

    @contextmanager
    def _changing(self, record: JobRecord) -> Iterator[JobRecord]:
        """Re-index ``record`` around a change of the fields the indexes read."""
        self._index.remove(record.entry())
        try:
            yield record
        finally:
            self._index.add(record.entry())

    @staticmethod
    def _job_id(seq: int) -> str:
        return f"{seq:016x}"

    def _record_at(self, seq: int) -> JobRecord:
        return self._jobs[self._job_id(seq)]

    # -- inserting -----------------------------------------------------------------
    def insert(self, job: NewJob, now: datetime) -> Inserted:
        """Store one job (honouring its uniqueness rule)."""
        return self.insert_many([job], now)[0]

    def insert_many(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        """Store many jobs in one transaction; all or nothing."""
        now = utc(now)
        with self._transaction():
            staged: list[JobRecord] = []
            claimed_keys: dict[bytes, str] = {}
            outcomes = [self._stage(job, now, staged, claimed_keys) for job in jobs]
            # Nothing is visible until every job of the batch was encoded successfully.
            self._commit(staged, claimed_keys)
            return outcomes

    def _stage(
        self, job: NewJob, now: datetime, staged: list[JobRecord], claimed_keys: dict[bytes, str]
    ) -> Inserted:
        key = job.unique_key
        if key is not None:
            existing = claimed_keys.get(key) or self._live_duplicate(key, job, now)
            if existing is not None:
                return Inserted(existing, created=False)
        seq = next(self._sequence)
        record = JobRecord.create(seq, self._job_id(seq), job, now)
        staged.append(record)
        if key is not None:
            claimed_keys[key] = record.id
        return Inserted(record.id, created=True)

    def _commit(self, staged: list[JobRecord], claimed_keys: dict[bytes, str]) -> None:
        for record in staged:
            self._jobs[record.id] = record
            self._index.add(record.entry())
        for key, job_id in claimed_keys.items():
            self._unique.setdefault(key, []).append(job_id)

    def _live_duplicate(self, key: bytes, job: NewJob, now: datetime) -> str | None:
        """The id of the newest job with ``key`` that still counts as the same job as ``job``.

        That is a job neither discarded nor cancelled, inserted less than the new job's
        ``unique_for_seconds`` before ``now`` (at any time without a window). As the LMDB
        store does, the walk goes from the newest back and stops at the first job
        inserted too long ago.
        """
        window = (
            None if job.unique_for_seconds is None else timedelta(seconds=job.unique_for_seconds)
        )
        for job_id in reversed(self._unique.get(key, ())):
            stored = self._jobs[job_id]
            if window is not None and now - stored.inserted_at >= window:
                return None
            if stored.state not in (TaskState.DISCARDED, TaskState.CANCELLED):
                return job_id
        return None

    # -- running -------------------------------------------------------------------
    def claim(self, queue: str, limit: int, runtime_id: str, now: datetime) -> list[Job]:
        """Mark up to ``limit`` pending jobs of ``queue`` ``running`` for ``runtime_id``."""
        now = utc(now)
        with self._transaction():
            return self._claim(queue, limit, runtime_id, now)

    def _claim(self, queue: str, limit: int, runtime_id: str, now: datetime) -> list[Job]:
        ready = self._index.ready.get(queue)
        if ready is None or limit <= 0:
            return []
        keys = list(itertools.islice(ready.ordered(), limit))
        return [self._start(self._record_at(key[-1]), runtime_id, now) for key in keys]

    def _start(self, record: JobRecord, runtime_id: str, now: datetime) -> Job:
        with self._changing(record):
            record.state = TaskState.RUNNING
            record.attempts += 1
            record.attempted_at = now
            record.claimed_by = runtime_id
        return record.to_job()

    def settle(self, settlements: Sequence[Settlement], now: datetime) -> list[Job | None]:
        """Record the outcome of running jobs, all in one transaction."""
        settled, _ = self.settle_and_claim(settlements, {}, "", now)
        return settled

    def settle_and_claim(
        self,
        settlements: Sequence[Settlement],
        claims: Mapping[str, int],
        runtime_id: str,
        now: datetime,
    ) -> tuple[list[Job | None], dict[str, list[Job]]]:
        """Settle, then claim per queue, in one transaction."""
        now = utc(now)
        # Results are encoded first so that a bad one leaves the whole batch unapplied.
        results = [
            pack_value(item.result, "result") if isinstance(item, Complete) else None
            for item in settlements
        ]
        with self._transaction():
            settled = [
                self._settle_one(item, packed, now)
                for item, packed in zip(settlements, results, strict=True)
            ]
            claimed = {
                queue: self._claim(queue, limit, runtime_id, now)
                for queue, limit in claims.items()
                if limit > 0
            }
            return settled, claimed

    def _settle_one(self, item: Settlement, packed: bytes | None, now: datetime) -> Job | None:
        record = self._jobs.get(item.job_id)
        if (
            record is None
            or record.state is not TaskState.RUNNING
            or record.claimed_by != item.runtime_id
            or record.attempts != item.attempt
        ):
            return None
        with self._changing(record):
            if isinstance(item, Complete):
                self._complete(record, packed, now)
            elif isinstance(item, Fail):
                self._fail(record, item, now)
            else:
                record.finish(TaskState.CANCELLED, now)
        return record.to_job()

    @staticmethod
    def _complete(record: JobRecord, packed: bytes | None, now: datetime) -> None:
        if packed is not None:
            record.packed_result = packed
        cancelled = record.cancel_requested
        record.finish(TaskState.CANCELLED if cancelled else TaskState.COMPLETED, now)

    def _fail(self, record: JobRecord, failure: Fail, now: datetime) -> None:
        record.record_failure(failure.error, now)
        self._count_failure(record.queue, now)
        if record.cancel_requested:
            record.finish(TaskState.CANCELLED, now)
        elif failure.retry_at is None:
            record.finish(TaskState.DISCARDED, now)
        else:
            record.state = TaskState.RETRYABLE
            record.scheduled_at = utc(failure.retry_at)
            record.claimed_by = None

    def _count_failure(self, queue: str, now: datetime) -> None:
        self._failures.setdefault(now.date(), Counter())[queue] += 1

    def release(
        self, runtime_id: str, job_ids: Iterable[str] | None, now: datetime, *, rescue: bool
    ) -> list[Job]:
        """Put ``running`` jobs claimed by ``runtime_id`` back to ``pending``."""
        now = utc(now)
        with self._transaction():
            return self._release(runtime_id, job_ids, now, rescue=rescue)

    def _release(
        self, runtime_id: str, job_ids: Iterable[str] | None, now: datetime, *, rescue: bool
    ) -> list[Job]:
        claimed = self._index.claims.get(runtime_id, set())
        wanted = sorted(claimed if job_ids is None else claimed.intersection(job_ids))
        released = []
        for job_id in wanted:
            record = self._jobs[job_id]
            with self._changing(record):
                if put_back(record, now, rescue=rescue):
                    self._count_failure(record.queue, now)
            released.append(record.to_job())
        return released

    def promote(self, now: datetime, limit: int) -> dict[str, int]:
        """Make up to ``limit`` due ``scheduled``/``retryable`` jobs ``pending``."""
        now = utc(now)
        with self._transaction():
            cut = micros(now)
            due = itertools.takewhile(lambda key: key[0] <= cut, self._index.due.ordered())
            promoted: Counter[str] = Counter()
            for key in list(itertools.islice(due, max(limit, 0))):
                record = self._record_at(key[-1])
                with self._changing(record):
                    record.state = TaskState.PENDING
                promoted[record.queue] += 1
            return dict(promoted)

    def next_due_at(self) -> datetime | None:
        """The earliest ``scheduled_at`` of any scheduled or retryable job."""
        with self._transaction():
            first = self._index.due.first()
            return None if first is None else self._record_at(first[-1]).scheduled_at

    # -- operator actions ----------------------------------------------------------
    def cancel(self, job_id: str, reason: str | None, now: datetime) -> CancelOutcome | None:
        """Cancel a job; ``None`` if unknown."""
        now = utc(now)
        with self._transaction():
            record = self._jobs.get(job_id)
            if record is None:
                return None
            if record.state is TaskState.RUNNING:
                changed = not record.cancel_requested
                if changed:
                    record.cancel_requested = True
                    record.cancel_reason = reason
            else:
                changed = record.state not in FINISHED_STATES
                if changed:
                    with self._changing(record):
                        record.cancel_reason = reason
                        record.finish(TaskState.CANCELLED, now)
            return CancelOutcome(record.to_job(), changed)

    def retry(self, job_id: str, now: datetime) -> Job | None:
        """Put a ``discarded`` or ``cancelled`` job back to ``pending`` with fresh attempts."""
        now = utc(now)
        with self._transaction():
            record = self._jobs.get(job_id)
            if record is None:
                return None
            if record.state in (TaskState.DISCARDED, TaskState.CANCELLED):
                with self._changing(record):
                    record.state = TaskState.PENDING
                    record.attempts = 0
                    record.scheduled_at = now
                    record.completed_at = None
                    record.cancel_requested = False
                    record.cancel_reason = None
            return record.to_job()

    # -- reading -------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        """One job, or ``None``."""
        with self._transaction():
            record = self._jobs.get(job_id)
            return None if record is None else record.to_job()

    def list_jobs(
        self,
        filters: JobFilter,
        *,
        offset: int,
        limit: int,
        sort_by: SortField = "inserted_at",
        descending: bool = False,
    ) -> tuple[list[Job], int]:
        """A page of jobs matching ``filters`` and the total number matching.

        Ties (and jobs not yet attempted or completed, which sort last ascending) are
        ordered by insertion; ``descending`` reverses the whole order.
        """
        if sort_by not in _SORT_FIELDS:
            raise ValueError(f"cannot sort jobs by {sort_by!r}")
        with self._transaction():
            partitions = self._index.partitions(filters.states, filters.queue, filters.worker)
            page = self._index.page(
                partitions, sort_by, max(offset, 0), limit, descending=descending
            )
            jobs = [self._record_at(seq).to_job() for seq in page]
            return jobs, self._index.total(partitions)

    def counts(self) -> dict[str, dict[TaskState, int]]:
        """Jobs per queue per state (every state present, zeros included), not a scan."""
        with self._transaction():
            return {queue: dict(per_state) for queue, per_state in self._index.counts.items()}

    def failed_today(self, now: datetime) -> dict[str, int]:
        """Failed attempts per queue since midnight UTC of ``now``'s day."""
        today = utc(now).date()
        with self._transaction():
            return dict(self._failures.get(today, {}))

    def delete_finished(self, states: frozenset[TaskState], before: datetime, limit: int) -> int:
        """Delete up to ``limit`` finished jobs in ``states`` completed before ``before``.

        The oldest completions go first.
        """
        with self._transaction():
            doomed = list(itertools.islice(self._index.finished_before(states, before), limit))
            for seq in doomed:
                self._delete(self._record_at(seq))
            return len(doomed)

    def _delete(self, record: JobRecord) -> None:
        self._index.remove(record.entry())
        del self._jobs[record.id]
        key = record.unique_key
        if key is not None:
            same_key = self._unique[key]
            same_key.remove(record.id)
            if not same_key:
                del self._unique[key]

    # -- recurring tasks -----------------------------------------------------------
    def upsert_recurring(self, record: RecurringRecord, *, keep_fire_times: bool = False) -> None:
        """Create or replace the recurring task ``record.name`` (see the protocol)."""
        with self._transaction():
            chosen = record
            previous = self._recurring.get(record.name)
            if keep_fire_times and previous is not None:
                chosen = record.declared_over(previous.read())
            self._recurring[record.name] = _StoredRecurring.of(chosen)

    def delete_recurring(self, name: str) -> bool:
        """Remove a recurring task (and its record of fires); False if there was none."""
        with self._transaction():
            self._fires.pop(name, None)
            return self._recurring.pop(name, None) is not None

    def get_recurring(self, name: str) -> RecurringRecord | None:
        """One recurring task, or ``None``."""
        with self._transaction():
            stored = self._recurring.get(name)
            return None if stored is None else stored.read()

    def list_recurring(self) -> list[RecurringRecord]:
        """Every recurring task, by name."""
        with self._transaction():
            return [self._recurring[name].read() for name in sorted(self._recurring)]

    def fire_recurring(
        self,
        record: RecurringRecord,
        fire_at: datetime,
        job: NewJob,
        next_fire_at: datetime,
        now: datetime,
    ) -> str | None:
        """Record fire ``(record.name, fire_at)``, insert its job and move ``next_fire_at``.

        Returns ``None`` if ``record`` is no longer the one stored (deleted, redefined or
        moved since it was read) or if that fire was already recorded.
        """
        now, fire_at = utc(now), utc(fire_at)
        name = record.name
        with self._transaction():
            stored = self._recurring.get(name)
            if stored is None or not stored.same_as(record):
                return None
            if fire_at in self._fires.get(name, ()):
                return None
            staged: list[JobRecord] = []
            claimed_keys: dict[bytes, str] = {}
            inserted = self._stage(job, now, staged, claimed_keys)
            self._fires.setdefault(name, set()).add(fire_at)
            moved = replace(stored.record, next_fire_at=utc(next_fire_at), last_fire_at=fire_at)
            self._recurring[name] = replace(stored, record=moved)
            self._commit(staged, claimed_keys)
            return inserted.id

    def advance_recurring(self, record: RecurringRecord, next_fire_at: datetime) -> bool:
        """Move ``record``'s next fire to ``next_fire_at`` if it is still the one stored."""
        with self._transaction():
            stored = self._recurring.get(record.name)
            if stored is None or not stored.same_as(record):
                return False
            moved = replace(stored.record, next_fire_at=utc(next_fire_at))
            self._recurring[record.name] = replace(stored, record=moved)
            return True

    # -- runtimes ------------------------------------------------------------------
    def register_runtime(self, info: RuntimeInfo) -> None:
        """Record a live runtime: in one process, registered means alive."""
        with self._transaction():
            self._runtimes[info.id] = info

    def unregister_runtime(self, runtime_id: str) -> None:
        """Forget a runtime that stopped cleanly."""
        with self._transaction():
            self._runtimes.pop(runtime_id, None)

    def rescue_orphans(self, now: datetime) -> list[Job]:
        """Release (``rescue=True``) the claims of every runtime that is not registered."""
        now = utc(now)
        with self._transaction():
            orphaned = sorted(set(self._index.claims) - set(self._runtimes))
            rescued: list[Job] = []
            for runtime_id in orphaned:
                rescued.extend(self._release(runtime_id, None, now, rescue=True))
            return rescued

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Drop every job; later calls raise :class:`StorageError`. Idempotent."""
        with self._lock:
            self._closed = True
            self._jobs = {}
            self._index = JobIndex()
            self._unique = {}
            self._recurring = {}
            self._fires = {}
