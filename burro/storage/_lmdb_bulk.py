"""Inserting a batch of new jobs: what the jobs of one kind share is encoded once.

Jobs of one ``enqueue_many`` call usually differ only in their args and meta. Their
records then differ only there and their index keys only in the trailing sequence
number, so the rest of each is built once per kind of job and every index is written
with one ``putmulti`` call. The bytes written are exactly those :func:`insert_job` writes.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import NamedTuple

from burro.storage._codec import pack_value
from burro.storage._lmdb_jobs import check_priority
from burro.storage._lmdb_keys import U64
from burro.storage._lmdb_records import RecordFrame, StoredJob
from burro.storage._lmdb_writer import JobWriter, out_of_sequence
from burro.storage.base import Inserted, NewJob

__all__ = ["insert_batch"]


class _Kind(NamedTuple):
    """The shared parts of the record and index entries of one kind of new job."""

    record: RecordFrame
    worker: bytes
    counter: tuple[int, int]
    by_state: bytes
    by_time: bytes
    #: ``None`` for a job due later (scheduled, so not in the claim order yet).
    ready: bytes | None


def insert_batch(writer: JobWriter, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """Store ``jobs`` (none of them unique: those need a lookup each) in order."""
    kinds: dict[Hashable, _Kind] = {}
    records: list[tuple[bytes, bytes]] = []
    by_state: list[tuple[bytes, bytes]] = []
    by_time: list[tuple[bytes, bytes]] = []
    ready: list[tuple[bytes, bytes]] = []
    counts: dict[tuple[int, int], int] = {}
    inserted: list[Inserted] = []
    last_meta: object = None
    packed_meta = b""
    for job, seq in zip(jobs, writer.next_seqs(len(jobs)), strict=True):
        # Numbers with their types: 1 == 1.0 == True, yet each encodes differently.
        priority, attempts = job.priority, job.max_attempts
        delay, timeout = job.retry_delay_seconds, job.timeout_seconds
        shape = (
            job.queue,
            job.worker,
            job.function,
            priority,
            type(priority),
            attempts,
            type(attempts),
            delay,
            type(delay),
            timeout,
            type(timeout),
            job.scheduled_at,
        )
        kind = kinds.get(shape)
        if kind is None:
            kind = kinds[shape] = _kind(writer, job, now)
        key = U64.pack(seq)
        args = pack_value(list(job.args), "args") if job.packed_args is None else job.packed_args
        if job.meta is not last_meta:  # consecutive jobs often share one meta mapping
            last_meta, packed_meta = job.meta, pack_value(dict(job.meta), "meta")
        records.append((key, kind.record.fill(args, packed_meta)))
        by_state.append((kind.by_state + key, kind.worker))
        by_time.append((kind.by_time + key, kind.worker))
        if kind.ready is not None:
            ready.append((kind.ready + key, b""))
        counts[kind.counter] = counts.get(kind.counter, 0) + 1
        inserted.append(Inserted(key.hex(), True))
    txn, dbs = writer.txn, writer.dbs
    _, stored = txn.cursor(db=dbs.jobs).putmulti(records, append=True)
    if stored != len(records):  # an append below a stored key is skipped, not an error
        raise out_of_sequence(records[0][0])
    for db, entries in ((dbs.by_state, by_state), (dbs.by_time, by_time), (dbs.ready, ready)):
        txn.cursor(db=db).putmulti(entries)
    for counter, added in counts.items():
        writer.count(counter, added)
    return inserted


def _kind(writer: JobWriter, job: NewJob, now: datetime) -> _Kind:
    """The shared parts of ``job``'s record and index entries (its key left off)."""
    check_priority(job)
    record = StoredJob.create(job, now)
    # The placement of a job whose key is empty: each index key without its sequence.
    placed = writer.placement(b"", record)
    assert placed.by_state is not None
    assert placed.by_time is not None
    worker = job.worker.encode()
    frame = record.frame()
    return _Kind(frame, worker, placed.counter, placed.by_state, placed.by_time, placed.ready)
