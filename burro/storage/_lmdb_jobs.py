"""Job state transitions of the LMDB store, each run inside a caller's write transaction."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime, timedelta

from burro.errors import InvalidTaskError
from burro.states import FINISHED_STATES, WAITING_STATES, TaskState
from burro.storage._codec import pack_value
from burro.storage._job_view import PACKED_NONE
from burro.storage._lmdb_keys import (
    FAILED_DAY,
    STATE_CODES,
    U32,
    U64,
    claim_prefix,
    day_number,
    micros,
    parse_job_id,
    unique_prefix,
)
from burro.storage._lmdb_read import key_range, queue_table, timeline_entries
from burro.storage._lmdb_records import StoredJob, utc
from burro.storage._lmdb_writer import JobWriter
from burro.storage._release import put_back
from burro.storage.base import (
    Cancel,
    CancelOutcome,
    Complete,
    Fail,
    Inserted,
    Job,
    NewJob,
    Settlement,
)

__all__ = [
    "cancel_job",
    "check_priority",
    "claim_jobs",
    "delete_finished_jobs",
    "insert_job",
    "promote_jobs",
    "release_jobs",
    "retry_job",
    "settle_job",
]

_DEAD = (TaskState.DISCARDED, TaskState.CANCELLED)
#: Above the key of every job in the uniqueness index (after a unique prefix).
_AFTER_ANY_SEQ = b"\xff" * 9
#: The states of a worker's claims and settlements. An enum member read off its class is
#: a slow attribute lookup (about as costly as a call): these paths read constants.
_RUNNING, _RETRYABLE = TaskState.RUNNING, TaskState.RETRYABLE
_COMPLETED, _DISCARDED, _CANCELLED = TaskState.COMPLETED, TaskState.DISCARDED, TaskState.CANCELLED
_US = timedelta(microseconds=1)
#: Priorities are stored as signed 64-bit integers in the ready index.
_PRIORITY_MIN, _PRIORITY_MAX = -(1 << 63), (1 << 63) - 1
_WAITING = tuple(sorted(STATE_CODES[state] for state in WAITING_STATES))


# -- inserting -------------------------------------------------------------------------
def insert_job(writer: JobWriter, job: NewJob, now: datetime) -> Inserted:
    """Store ``job`` unless a live job with its unique key makes it a duplicate."""
    unique = None if job.unique_key is None else unique_prefix(job.unique_key)
    if unique is not None:
        existing = _live_duplicate(writer, unique, job, now)
        if existing is not None:
            return Inserted(existing, created=False)
    check_priority(job)
    record = StoredJob.create(job, now)
    key = U64.pack(writer.next_seq())
    writer.store(key, record, append=True)
    writer.place(key, record, None)
    if unique is not None:
        writer.txn.put(unique + key, U64.pack(micros(now)), db=writer.dbs.unique)
    return Inserted(writer.job_id(key), True)  # by position: a keyword costs a dict


def check_priority(job: NewJob) -> None:
    """Refuse a priority the ready index cannot hold."""
    if not _PRIORITY_MIN <= job.priority <= _PRIORITY_MAX:
        raise InvalidTaskError(f"priority {job.priority} is outside the 64-bit range")


def _live_duplicate(writer: JobWriter, unique: bytes, job: NewJob, now: datetime) -> str | None:
    """The id of the newest job with prefix ``unique`` that still counts as the same job.

    That is a job neither discarded nor cancelled, inserted less than the new job's
    ``unique_for_seconds`` before ``now`` (at any time without a window). The index holds
    every stored job with the key, in insertion order: the walk goes from the newest back,
    past dead jobs, and stops at the first one inserted too long ago (the older ones were
    inserted earlier still).
    """
    window = job.unique_for_seconds
    cut = None if window is None else micros(now) - timedelta(seconds=window) // _US
    cursor = writer.txn.cursor(db=writer.dbs.unique)
    found = cursor.prev() if cursor.set_range(unique + _AFTER_ANY_SEQ) else cursor.last()
    while found:
        entry = cursor.key()
        if not entry.startswith(unique):
            return None
        if cut is not None and U64.unpack(cursor.value())[0] <= cut:
            return None
        key = entry[-8:]
        stored = writer.load(key)
        if stored is not None and stored.state not in _DEAD:
            return writer.job_id(key)
        found = cursor.prev()
    return None


# -- running ---------------------------------------------------------------------------
def claim_jobs(
    writer: JobWriter, queue: str, limit: int, runtime_id: str, now: datetime
) -> list[Job]:
    """Mark the next ``limit`` ready jobs of ``queue`` running for ``runtime_id``."""
    queue_id = writer.find_queue(queue)
    if queue_id is None or limit <= 0:
        return []
    started = []
    for key in _ready_keys(writer, queue_id, limit):  # a loop: a comprehension is a call more
        started.append(_start(writer, key, runtime_id, now))
    return started


def _ready_keys(writer: JobWriter, queue_id: int, limit: int) -> list[bytes]:
    """The primary keys of the first ``limit`` ready jobs of a queue, in claim order."""
    prefix = U32.pack(queue_id)
    cursor = writer.txn.cursor(writer.dbs.ready)
    keys: list[bytes] = []
    # A plain cursor walk: most claims take one to four keys, where a generator costs more.
    positioned = cursor.set_range(prefix)
    while positioned and len(keys) < limit:
        entry = cursor.key()
        if not entry.startswith(prefix):
            break
        keys.append(entry[-8:])
        positioned = cursor.next()
    return keys


def _start(writer: JobWriter, key: bytes, runtime_id: str, now: datetime) -> Job:
    job = writer.must_load(key)
    before = writer.entries(key, job)
    job.state = _RUNNING
    job.attempts += 1
    job.attempted_at = now
    job.claimed_by = runtime_id
    view = job.to_job(writer.job_id(key))
    writer.update(key, job, before, claimed=True)
    return view


def settle_job(writer: JobWriter, item: Settlement, now: datetime) -> Job | None:
    """Apply one settlement if the claim it names is still the job's current one."""
    key = parse_job_id(item.job_id)
    loaded = None if key is None else writer.load_placed(key)
    if key is None or loaded is None:
        return None
    job, before = loaded
    if (
        job.state is not _RUNNING
        or job.claimed_by != item.runtime_id
        or job.attempts != item.attempt
    ):
        return None
    if isinstance(item, Complete):
        result = item.result
        job.packed_result = PACKED_NONE if result is None else pack_value(result, "result")
        job.finish(_CANCELLED if job.cancel_requested else _COMPLETED, now)
    elif isinstance(item, Fail):
        _fail(writer, job, item, now)
    elif isinstance(item, Cancel):
        job.finish(_CANCELLED, now)
    writer.update(key, job, before)
    return job.to_job(writer.job_id(key))


def _fail(writer: JobWriter, job: StoredJob, failure: Fail, now: datetime) -> None:
    job.record_failure(failure.error, now)
    writer.count_failure(job, now)
    if job.cancel_requested:
        job.finish(_CANCELLED, now)
    elif failure.retry_at is None:
        job.finish(_DISCARDED, now)
    else:
        job.state = _RETRYABLE
        job.scheduled_at = utc(failure.retry_at)
        job.claimed_by = None


def release_jobs(
    writer: JobWriter,
    runtime_id: str,
    job_ids: Iterable[str] | None,
    now: datetime,
    *,
    rescue: bool,
) -> list[Job]:
    """Put ``runtime_id``'s claims (all, or those named) back to the queue."""
    prefix = claim_prefix(runtime_id)
    if job_ids is None:
        keys = list(_claimed_keys(writer, prefix))
    else:
        named = {parse_job_id(job_id) for job_id in job_ids} - {None}
        claims = writer.dbs.claims
        keys = sorted(k for k in named if k and writer.txn.get(prefix + k, db=claims) is not None)
    return [_put_back(writer, key, now, rescue=rescue) for key in keys]


def _claimed_keys(writer: JobWriter, prefix: bytes) -> Iterator[bytes]:
    for entry, _ in key_range(writer.txn, writer.dbs.claims, prefix):
        yield entry[len(prefix) :]


def _put_back(writer: JobWriter, key: bytes, now: datetime, *, rescue: bool) -> Job:
    """Return a claimed job to the queue (see :func:`burro.storage._release.put_back`)."""
    job = writer.must_load(key)
    before = writer.entries(key, job)
    if put_back(job, now, rescue=rescue):
        writer.count_failure(job, now)
    writer.update(key, job, before)
    return job.to_job(writer.job_id(key))


def runtimes_with_claims(writer: JobWriter) -> list[str]:
    """The ids of every runtime holding at least one claim: one seek per runtime."""
    cursor = writer.txn.cursor(db=writer.dbs.claims)
    found = []
    positioned = cursor.first()
    while positioned:
        entry, runtime_id = cursor.item()
        found.append(runtime_id.decode())
        # Every key of one runtime is its prefix plus 8 bytes: skip past all of them.
        positioned = cursor.set_range(entry[:-8] + b"\xff" * 9)
    return found


# -- waiting and finished jobs ---------------------------------------------------------
def promote_jobs(writer: JobWriter, now: datetime, limit: int) -> dict[str, int]:
    """Make up to ``limit`` due waiting jobs pending, earliest ``scheduled_at`` first."""
    if limit <= 0:
        return {}
    cut = micros(now)
    due = timeline_entries(writer.txn, writer.dbs, _WAITING, queue_table(writer.txn, writer.dbs))
    promoted: Counter[str] = Counter()
    for entry in list(_take(due, limit, lambda time: time <= cut)):
        key = entry[-8:]
        job = writer.must_load(key)
        before = writer.entries(key, job)
        job.state = TaskState.PENDING
        writer.update(key, job, before)
        promoted[job.queue] += 1
    return dict(promoted)


def delete_finished_jobs(
    writer: JobWriter, states: frozenset[TaskState], before: datetime, limit: int
) -> int:
    """Delete up to ``limit`` finished jobs in ``states`` completed before ``before``."""
    codes = tuple(sorted(STATE_CODES[state] for state in states & FINISHED_STATES))
    if limit <= 0 or not codes:
        return 0
    cut = micros(before)
    finished = timeline_entries(writer.txn, writer.dbs, codes, queue_table(writer.txn, writer.dbs))
    doomed = list(_take(finished, limit, lambda time: time < cut))
    for entry in doomed:
        key = entry[-8:]
        job = writer.must_load(key)
        writer.delete(key, job)
        _forget_unique(writer, key, job)
    _prune_failure_days(writer, day_number(before))
    return len(doomed)


def _forget_unique(writer: JobWriter, key: bytes, job: StoredJob) -> None:
    if job.unique_key is not None:
        writer.txn.delete(unique_prefix(job.unique_key) + key, db=writer.dbs.unique)


def _prune_failure_days(writer: JobWriter, first_kept_day: int) -> None:
    # Only today's failures are ever read; days before the retention cut are dead weight.
    cursor = writer.txn.cursor(db=writer.dbs.failed)
    while cursor.first() and FAILED_DAY.unpack(cursor.key())[0] < first_kept_day:
        cursor.delete()


def _take(entries: Iterator[bytes], limit: int, due: Callable[[int], bool]) -> Iterator[bytes]:
    """The first ``limit`` entries whose time passes ``due``; they come in time order."""
    for taken, entry in enumerate(entries):
        if taken >= limit or not due(U64.unpack(entry[5:13])[0]):
            return
        yield entry


# -- operator actions ------------------------------------------------------------------
def cancel_job(
    writer: JobWriter, key: bytes, reason: str | None, now: datetime
) -> CancelOutcome | None:
    """Cancel a waiting job, mark a running one once, leave a finished one alone."""
    job = writer.load(key)
    if job is None:
        return None
    if job.state is TaskState.RUNNING:
        changed = not job.cancel_requested
        if changed:
            job.cancel_requested = True
            job.cancel_reason = reason
            writer.store(key, job)
    else:
        changed = job.state not in FINISHED_STATES
        if changed:
            before = writer.entries(key, job)
            job.cancel_reason = reason
            job.finish(TaskState.CANCELLED, now)
            writer.update(key, job, before)
    return CancelOutcome(job.to_job(writer.job_id(key)), changed)


def retry_job(writer: JobWriter, key: bytes, now: datetime) -> Job | None:
    """Put a discarded or cancelled job back to pending with fresh attempts."""
    job = writer.load(key)
    if job is None:
        return None
    if job.state in _DEAD:
        before = writer.entries(key, job)
        job.state = TaskState.PENDING
        job.attempts = 0
        job.scheduled_at = now
        job.completed_at = None
        job.cancel_requested = False
        job.cancel_reason = None
        writer.update(key, job, before)
    return job.to_job(writer.job_id(key))
