"""The storage protocol: what every backend (lmdb, memory, noop, later PostgreSQL) provides.

Storage is the single source of truth. Every operation below is atomic: one write
transaction in LMDB, one SQL statement or transaction in PostgreSQL. Operations take the
current time as an argument (``now``, an aware UTC datetime) so the backend never reads a
clock itself and tests can move time freely.

Task ids are opaque strings chosen by the backend.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from burro.states import TaskState

__all__ = [
    "Cancel",
    "CancelOutcome",
    "Complete",
    "ErrorEntry",
    "Fail",
    "Inserted",
    "Job",
    "JobFilter",
    "NewJob",
    "RecurringRecord",
    "RuntimeInfo",
    "Settlement",
    "Storage",
]

#: Fields ``list_jobs`` can sort by.
SortField = Literal["inserted_at", "scheduled_at", "priority", "attempted_at", "completed_at"]


@dataclass(slots=True)
class NewJob:
    """A job to insert, already validated by the facade; read-only once built.

    (Not a frozen dataclass only because building a frozen one costs several times more,
    and ``enqueue_many`` builds one per job.)

    ``scheduled_at`` is when it may first run; ``None`` or a time ``<= now`` makes it
    ``pending`` at once, a later time makes it ``scheduled``.
    ``unique_key`` (set by the facade when ``unique_for_seconds`` is given) identifies
    "the same job": if a stored job with that key is neither discarded nor cancelled and
    was inserted less than ``unique_for_seconds`` before ``now`` (at any time, without a
    window), nothing is stored and the id of the newest such job is returned.
    """

    queue: str
    worker: str
    function: str
    args: tuple[Any, ...] = ()
    priority: int = 0
    max_attempts: int = 5
    retry_delay_seconds: float = 15.0
    timeout_seconds: float | None = None
    unique_key: bytes | None = None
    unique_for_seconds: float | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    scheduled_at: datetime | None = None
    #: ``args`` already encoded by the facade (which had to check them anyway), or None.
    packed_args: bytes | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Inserted:
    """The outcome of one insert: the task's id, and whether a new record was stored."""

    id: str
    created: bool


@dataclass(frozen=True, slots=True)
class ErrorEntry:
    """One failed attempt, as kept in a job's ``errors`` list."""

    attempt: int
    at: datetime
    error: str


class Job(NamedTuple):
    """A stored job record, as read back from a backend (immutable).

    A named tuple rather than a frozen dataclass: every claim and every settlement builds
    one, and a frozen dataclass sets each of its 23 fields through ``object.__setattr__``
    (3.8 µs against 0.3 µs).
    """

    id: str
    state: TaskState
    queue: str
    worker: str
    function: str
    args: tuple[Any, ...]
    priority: int
    attempts: int
    max_attempts: int
    retry_delay_seconds: float
    timeout_seconds: float | None
    meta: Mapping[str, Any]
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None = None
    completed_at: datetime | None = None
    last_error: str | None = None
    errors: tuple[ErrorEntry, ...] = ()
    result: Any = None
    #: Identity of the runtime holding the claim while ``running``.
    claimed_by: str | None = None
    #: Set when cancel was asked while running; the worker sees it cooperatively.
    cancel_requested: bool = False
    cancel_reason: str | None = None
    unique_key: bytes | None = None


class CancelOutcome(NamedTuple):
    """The outcome of one cancel: the job as it now is, and whether this call changed it.

    ``changed`` is decided inside the cancel's own transaction, so of cancels racing
    (threads, or processes sharing a store) exactly one gets it, and only that one reports.
    """

    job: Job
    changed: bool


class Complete(NamedTuple):
    """Settle a running job as a success (``cancelled`` instead if cancel was asked)."""

    job_id: str
    runtime_id: str
    attempt: int
    result: Any = None


class Fail(NamedTuple):
    """Settle a running job as a failed attempt.

    ``retry_at`` set: the job goes ``retryable`` with ``scheduled_at = retry_at``.
    ``retry_at`` None: the job goes ``discarded`` (the dead-letter queue).
    Either way ``error`` is appended to ``errors`` and becomes ``last_error``. If cancel
    was asked meanwhile the job goes ``cancelled`` (the error is still recorded).
    """

    job_id: str
    runtime_id: str
    attempt: int
    error: str
    retry_at: datetime | None


class Cancel(NamedTuple):
    """Settle a running job that stopped because cancel was asked: it goes ``cancelled``."""

    job_id: str
    runtime_id: str
    attempt: int


#: What a worker reports about a job it ran (named tuples: one is built per attempt).
Settlement = Complete | Fail | Cancel


@dataclass(frozen=True, slots=True)
class JobFilter:
    """Filters for :meth:`Storage.list_jobs`; ``None`` means "any"."""

    states: frozenset[TaskState] | None = None
    queue: str | None = None
    worker: str | None = None


@dataclass(frozen=True, slots=True)
class RecurringRecord:
    """A recurring task definition, stored under its unique ``name``."""

    name: str
    cron_expression: str
    timezone: str
    worker: str
    function: str
    args: tuple[Any, ...]
    options: Mapping[str, Any]
    next_fire_at: datetime
    last_fire_at: datetime | None = None

    def declared_over(self, stored: RecurringRecord | None) -> RecurringRecord:
        """This definition replacing ``stored``: at its place in time if the schedule is
        the same (the fires it still owes stay owed), else as it is."""
        if stored is None or (stored.cron_expression, stored.timezone) != (
            self.cron_expression,
            self.timezone,
        ):
            return self
        return replace(self, next_fire_at=stored.next_fire_at, last_fire_at=stored.last_fire_at)


@dataclass(frozen=True, slots=True)
class RuntimeInfo:
    """A runtime (one ``BackgroundTaskManager`` in one process) that may hold claims."""

    id: str
    pid: int
    hostname: str
    started_at: datetime


@runtime_checkable
class Storage(Protocol):
    """A job store. Every method is atomic and thread-safe."""

    # -- inserting -----------------------------------------------------------------
    def insert(self, job: NewJob, now: datetime) -> Inserted:
        """Store one job (honouring its uniqueness rule)."""

    def insert_many(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        """Store many jobs in one transaction; all or nothing."""

    # -- running -------------------------------------------------------------------
    def claim(self, queue: str, limit: int, runtime_id: str, now: datetime) -> list[Job]:
        """Mark up to ``limit`` pending jobs of ``queue`` ``running`` for ``runtime_id``.

        Jobs are taken in order of priority (0 first), then ``scheduled_at``, then
        insertion. Each claimed job has ``attempts`` incremented and ``attempted_at = now``.
        Two callers never claim the same job.
        """

    def settle(self, settlements: Sequence[Settlement], now: datetime) -> list[Job | None]:
        """Record the outcome of running jobs, all in one transaction.

        A settlement applies only if the job is still ``running`` with the same
        ``claimed_by`` and ``attempts == attempt``; otherwise (it was rescued, released or
        deleted meanwhile) it is ignored and ``None`` is returned in its place.
        """

    def settle_and_claim(
        self,
        settlements: Sequence[Settlement],
        claims: Mapping[str, int],
        runtime_id: str,
        now: datetime,
    ) -> tuple[list[Job | None], dict[str, list[Job]]]:
        """:meth:`settle`, then :meth:`claim` up to ``claims[queue]`` jobs per queue,
        all in one transaction (the workers' group commit: a finished job's slot takes
        its next job with no extra write)."""

    def release(
        self, runtime_id: str, job_ids: Iterable[str] | None, now: datetime, *, rescue: bool
    ) -> list[Job]:
        """Put ``running`` jobs claimed by ``runtime_id`` back to ``pending``.

        ``job_ids`` None means all of that runtime's claims. ``rescue=True`` (the run was
        interrupted by a crash) keeps the attempt counted and records it as failed (an
        ``errors`` entry and ``last_error`` saying it was interrupted); a job with no
        attempts left goes ``discarded``. ``rescue=False`` (graceful shutdown, a claim
        never started) gives the attempt back. Returns the jobs as they now are.
        """

    def promote(self, now: datetime, limit: int) -> dict[str, int]:
        """Make up to ``limit`` due ``scheduled``/``retryable`` jobs ``pending``.

        Returns the number promoted per queue.
        """

    def next_due_at(self) -> datetime | None:
        """The earliest ``scheduled_at`` of any scheduled or retryable job."""

    # -- operator actions ----------------------------------------------------------
    def cancel(self, job_id: str, reason: str | None, now: datetime) -> CancelOutcome | None:
        """Cancel a job; ``None`` if unknown.

        scheduled/pending/retryable → ``cancelled`` (``completed_at = now``);
        running → stays running with ``cancel_requested`` set, unless it already was (the
        first reason stands); finished → unchanged. ``changed`` is true only for the call
        that cancelled or marked the job.
        """

    def retry(self, job_id: str, now: datetime) -> Job | None:
        """Put a ``discarded`` or ``cancelled`` job back to ``pending`` with fresh attempts.

        ``None`` if unknown; other states are returned unchanged.
        """

    # -- reading -------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        """One job, or ``None``."""

    def list_jobs(
        self,
        filters: JobFilter,
        *,
        offset: int,
        limit: int,
        sort_by: SortField = "inserted_at",
        descending: bool = False,
    ) -> tuple[list[Job], int]:
        """A page of jobs matching ``filters`` and the total number matching."""

    def counts(self) -> dict[str, dict[TaskState, int]]:
        """Jobs per queue per state (every state present, zeros included), not a scan."""

    def failed_today(self, now: datetime) -> dict[str, int]:
        """Failed attempts per queue since midnight UTC of ``now``'s day."""

    def delete_finished(self, states: frozenset[TaskState], before: datetime, limit: int) -> int:
        """Delete up to ``limit`` jobs in ``states`` (finished ones only) whose
        ``completed_at`` is before ``before``; one short transaction. Returns how many."""

    # -- recurring tasks -----------------------------------------------------------
    def upsert_recurring(self, record: RecurringRecord, *, keep_fire_times: bool = False) -> None:
        """Create or replace the recurring task ``record.name``.

        ``keep_fire_times``: replace a stored definition with the same schedule as
        :meth:`RecurringRecord.declared_over` says, in the same transaction as the read.
        """

    def delete_recurring(self, name: str) -> bool:
        """Remove a recurring task; False if there was none."""

    def get_recurring(self, name: str) -> RecurringRecord | None:
        """One recurring task, or ``None``."""

    def list_recurring(self) -> list[RecurringRecord]:
        """Every recurring task, by name."""

    def fire_recurring(
        self,
        record: RecurringRecord,
        fire_at: datetime,
        job: NewJob,
        next_fire_at: datetime,
        now: datetime,
    ) -> str | None:
        """Record fire ``(record.name, fire_at)``, insert its job, move the schedule: atomically.

        ``record`` is the definition as the caller read it: the fire happens only if it is
        still the one stored. Returns the new job's id, or ``None`` if that fire was
        already recorded (by this or another process), or the recurring task was deleted,
        redefined or moved since it was read.
        """

    def advance_recurring(self, record: RecurringRecord, next_fire_at: datetime) -> bool:
        """Move ``record``'s next fire to ``next_fire_at`` without firing, atomically.

        Like :meth:`fire_recurring`, it writes only if ``record`` (as the caller read it)
        is still the one stored: a deleted task stays deleted, a redefined one keeps its
        new definition. Returns whether it wrote.
        """

    # -- runtimes ------------------------------------------------------------------
    def register_runtime(self, info: RuntimeInfo) -> None:
        """Record a live runtime and hold whatever proves it alive (a lock)."""

    def unregister_runtime(self, runtime_id: str) -> None:
        """Forget a runtime that stopped cleanly and release its proof of life."""

    def rescue_orphans(self, now: datetime) -> list[Job]:
        """Release (``rescue=True``) the claims of every runtime that is not alive.

        Liveness is known, not guessed: a runtime is alive while its lock is held.
        Dead runtimes are unregistered. Returns the jobs released.
        """

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Release resources; idempotent."""
