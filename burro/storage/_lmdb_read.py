"""Reading the LMDB store by cursor: key ranges, records, queues, listings and counts.

Nothing here loads more than a page of records: totals come from the counters, pages
from merging ordered key ranges (one per state and queue) and skipping to the offset.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from datetime import datetime
from itertools import islice

import lmdb

from burro.states import FINISHED_STATES, TaskState
from burro.storage._codec import CorruptRecord
from burro.storage._lmdb_env import Databases
from burro.storage._lmdb_keys import (
    BY_STATE,
    COUNT,
    FAILED_DAY,
    STATE_CODES,
    STATES_BY_CODE,
    U32,
    U64,
    bounded,
    day_number,
    job_id,
    micros,
)
from burro.storage._lmdb_records import StoredJob
from burro.storage.base import Job, JobFilter, SortField

__all__ = [
    "count_jobs",
    "failures_on",
    "key_range",
    "list_page",
    "load_job",
    "queue_key",
    "queue_table",
    "timeline_entries",
]

#: The ``by_time`` index files each state under one time; listing by that time reads it.
_TIMELINE_SORTS: dict[str, frozenset[TaskState]] = {
    "scheduled_at": frozenset({TaskState.SCHEDULED, TaskState.PENDING, TaskState.RETRYABLE}),
    "completed_at": FINISHED_STATES,
}
_SORT_FIELDS = frozenset({"inserted_at", "priority", "attempted_at", *_TIMELINE_SORTS})
#: Above every key of a ``(state, queue)`` prefix: the prefix plus more than 16 0xff bytes.
_PAST_PREFIX = b"\xff" * 17


def queue_key(name: str) -> bytes:
    """The key of a queue name in the ``queues`` database (ids live under ``b"i"``)."""
    return b"n" + bounded(name.encode())


def queue_table(txn: lmdb.Transaction[bytes], dbs: Databases) -> dict[int, str]:
    """Every queue id and its name: one short cursor walk (there are few queues)."""
    return {
        U32.unpack(key[1:])[0]: name.decode()
        for key, name in key_range(txn, dbs.queues, b"i", values=True)
    }


def load_job(txn: lmdb.Transaction[bytes], dbs: Databases, key: bytes) -> StoredJob | None:
    """The record under primary key ``key``; :class:`CorruptRecord` names the key."""
    data = txn.get(key, db=dbs.jobs)
    return None if data is None else decode_job(key, data)


def decode_job(key: bytes, data: bytes) -> StoredJob:
    """The record ``data`` stored under ``key``; :class:`CorruptRecord` names the key."""
    try:
        return StoredJob.decode(data)
    except CorruptRecord as error:
        raise CorruptRecord(
            f"job {job_id(U64.unpack(key)[0])} (key {key.hex()}): {error}"
        ) from error


def key_range(
    txn: lmdb.Transaction[bytes],
    db: lmdb._Database,
    prefix: bytes,
    *,
    values: bool = False,
    reverse: bool = False,
) -> Iterator[tuple[bytes, bytes]]:
    """The ``(key, value)`` pairs whose key starts with ``prefix``, in key order.

    With ``values=False`` the values are empty, which spares copying them.
    """
    cursor = txn.cursor(db=db)
    if not reverse:
        positioned = cursor.set_range(prefix)
    elif cursor.set_range(prefix + _PAST_PREFIX):
        positioned = cursor.prev()
    else:
        positioned = cursor.last()
    if not positioned:
        return
    pairs: Iterator[tuple[bytes, bytes]]
    if values:
        pairs = cursor.iterprev() if reverse else cursor.iternext()
    else:
        keys = cursor.iterprev(values=False) if reverse else cursor.iternext(values=False)
        pairs = ((key, b"") for key in keys)
    for key, value in pairs:
        if not key.startswith(prefix):
            return
        yield key, value


def timeline_entries(
    txn: lmdb.Transaction[bytes], dbs: Databases, states: tuple[int, ...], queues: dict[int, str]
) -> Iterator[bytes]:
    """``by_time`` keys of ``states`` over every queue, merged by time then insertion."""
    streams = [
        (key for key, _ in key_range(txn, dbs.by_time, _partition(state, queue)))
        for state in states
        for queue in queues
    ]
    return heapq.merge(*streams, key=lambda entry: entry[5:])


def _partition(state: int, queue: int) -> bytes:
    return BY_STATE.pack(state, queue, 0, 0)[:5]


def count_jobs(txn: lmdb.Transaction[bytes], dbs: Databases) -> dict[str, dict[TaskState, int]]:
    """Jobs per queue per state, from the counters: ``O(queues)``."""
    queues = queue_table(txn, dbs)
    counts = {name: dict.fromkeys(TaskState, 0) for name in queues.values()}
    for key, value in key_range(txn, dbs.counts, b"", values=True):
        queue, state = COUNT.unpack(key)
        counts[queues[queue]][STATES_BY_CODE[state]] = U64.unpack(value)[0]
    return counts


def failures_on(txn: lmdb.Transaction[bytes], dbs: Databases, now: datetime) -> dict[str, int]:
    """Failed attempts per queue on ``now``'s UTC day (queues without any left out)."""
    queues = queue_table(txn, dbs)
    prefix = FAILED_DAY.pack(day_number(now), 0)[:4]
    failures = {}
    for key, value in key_range(txn, dbs.failed, prefix, values=True):
        count = U64.unpack(value)[0]
        if count:
            failures[queues[FAILED_DAY.unpack(key)[1]]] = count
    return failures


# -- listing ---------------------------------------------------------------------------
def list_page(
    txn: lmdb.Transaction[bytes],
    dbs: Databases,
    filters: JobFilter,
    *,
    page: slice,
    sort_by: SortField,
    descending: bool,
) -> tuple[list[Job], int]:
    """One page (``page.start`` to ``page.stop``) of the jobs matching ``filters``."""
    if sort_by not in _SORT_FIELDS:
        raise ValueError(f"cannot sort jobs by {sort_by!r}")
    states = frozenset(TaskState) if filters.states is None else filters.states
    partitions = _partitions(txn, dbs, states, filters.queue)
    worker = None if filters.worker is None else filters.worker.encode()
    total = _total(txn, dbs, partitions, worker)
    if page.stop <= page.start or page.start >= total:
        return [], total
    natural = _TIMELINE_SORTS.get(sort_by)
    if sort_by == "inserted_at" or (natural is not None and states <= natural):
        db = dbs.by_state if sort_by == "inserted_at" else dbs.by_time
        entries = _merged(txn, db, partitions, worker, descending)
        keys = [entry[-8:] for entry in islice(entries, page.start, page.stop)]
    else:
        keys = _sorted_by_record(
            txn, dbs, partitions, worker, page=page, sort_by=sort_by, descending=descending
        )
    return [_read_job(txn, dbs, key) for key in keys], total


def _partitions(
    txn: lmdb.Transaction[bytes], dbs: Databases, states: frozenset[TaskState], queue: str | None
) -> list[bytes]:
    """The ``(state, queue id)`` key prefixes a filter covers."""
    if queue is None:
        queue_ids = list(queue_table(txn, dbs))
    else:
        raw = txn.get(queue_key(queue), db=dbs.queues)
        queue_ids = [] if raw is None else [U32.unpack(raw)[0]]
    codes = sorted(STATE_CODES[state] for state in states)
    return [_partition(code, queue_id) for code in codes for queue_id in queue_ids]


def _total(
    txn: lmdb.Transaction[bytes], dbs: Databases, partitions: list[bytes], worker: bytes | None
) -> int:
    if worker is None:
        counters = (txn.get(COUNT.pack(*_split(p)), db=dbs.counts) for p in partitions)
        return sum(U64.unpack(raw)[0] for raw in counters if raw is not None)
    # The worker is not part of any key: count the matching entries (keys and values only).
    return sum(
        value == worker
        for partition in partitions
        for _, value in key_range(txn, dbs.by_state, partition, values=True)
    )


def _split(partition: bytes) -> tuple[int, int]:
    state, queue, _, _ = BY_STATE.unpack(partition + bytes(16))
    return queue, state


def _merged(
    txn: lmdb.Transaction[bytes],
    db: lmdb._Database,
    partitions: list[bytes],
    worker: bytes | None,
    descending: bool,
) -> Iterator[bytes]:
    """The keys of ``partitions`` in one order: (time, seq), filtered by worker."""
    streams = [
        (
            key
            for key, value in key_range(
                txn, db, partition, values=worker is not None, reverse=descending
            )
            if worker is None or value == worker
        )
        for partition in partitions
    ]
    return heapq.merge(*streams, key=lambda key: key[5:], reverse=descending)


def _sorted_by_record(
    txn: lmdb.Transaction[bytes],
    dbs: Databases,
    partitions: list[bytes],
    worker: bytes | None,
    *,
    page: slice,
    sort_by: str,
    descending: bool,
) -> list[bytes]:
    """A page in an order no index holds: one pass over the matching records.

    Memory stays bounded by the page's end (a heap of that many keys); time is linear in
    the jobs matching the filter.
    """
    entries = _merged(txn, dbs.by_state, partitions, worker, descending=False)
    sort_keys = (_sort_key(_read_record(txn, dbs, key[-8:]), sort_by, key[-8:]) for key in entries)
    pick = heapq.nlargest if descending else heapq.nsmallest
    return [sort_key[-1] for sort_key in pick(page.stop, sort_keys)][page.start :]


def _sort_key(job: StoredJob, sort_by: str, key: bytes) -> tuple[int, int, bytes]:
    # Unset times sort after set ones ascending, as SQL's NULLS LAST does.
    if sort_by == "priority":
        return (0, job.priority, key)
    moment = job.scheduled_at if sort_by == "scheduled_at" else getattr(job, sort_by)
    return (1, 0, key) if moment is None else (0, micros(moment), key)


def _read_record(txn: lmdb.Transaction[bytes], dbs: Databases, key: bytes) -> StoredJob:
    job = load_job(txn, dbs, key)
    if job is None:
        raise CorruptRecord(f"an index names job {key.hex()}, which is not stored")
    return job


def _read_job(txn: lmdb.Transaction[bytes], dbs: Databases, key: bytes) -> Job:
    return _read_record(txn, dbs, key).to_job(job_id(U64.unpack(key)[0]))
