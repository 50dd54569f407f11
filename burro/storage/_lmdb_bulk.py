"""Inserting a batch of new jobs: what the jobs of one kind share is encoded once.

Jobs of one ``enqueue_many`` call usually differ only in their args and meta. Their
records then differ only there and their index keys only in the trailing sequence
number, so the rest of each is built once per kind of job, and each index gets the
entries of a run of jobs in one ``putmulti`` call. A unique job is inserted on its own
(it looks up the jobs before it), after the run so far is written. The bytes written are
exactly those of :func:`insert_job` called for each job in turn.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from datetime import datetime
from typing import NamedTuple

from burro.storage._codec import pack_value
from burro.storage._lmdb_jobs import check_priority, insert_job
from burro.storage._lmdb_keys import U64
from burro.storage._lmdb_records import RecordFrame, StoredJob
from burro.storage._lmdb_writer import JobWriter, out_of_sequence
from burro.storage.base import Inserted, NewJob

__all__ = ["insert_batch"]


def insert_batch(writer: JobWriter, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """Store ``jobs`` in order, as :func:`insert_job` would one by one."""
    run = _Run(writer, now)
    inserted = []
    for job in jobs:
        if job.unique_key is None:
            inserted.append(run.add(job))
        else:
            run.write()
            inserted.append(insert_job(writer, job, now))
    run.write()
    return inserted


class _Kind(NamedTuple):
    """The shared parts of the record and index entries of one kind of new job."""

    record: RecordFrame
    worker: bytes
    counter: tuple[int, int]
    by_state: bytes
    by_time: bytes
    #: ``None`` for a job due later (scheduled, so not in the claim order yet).
    ready: bytes | None


class _Run:
    """Consecutive jobs of a batch without a unique key, written together."""

    def __init__(self, writer: JobWriter, now: datetime) -> None:
        self._writer = writer
        self._now = now
        self._kinds: dict[Hashable, _Kind] = {}
        self._records: list[tuple[bytes, bytes]] = []
        self._by_state: list[tuple[bytes, bytes]] = []
        self._by_time: list[tuple[bytes, bytes]] = []
        self._ready: list[tuple[bytes, bytes]] = []
        self._counts: dict[tuple[int, int], int] = {}
        self._last_meta: object = None
        self._packed_meta = b""

    def add(self, job: NewJob) -> Inserted:
        """Encode ``job`` into the run (written by :meth:`write`)."""
        kind = self._kind(job)
        key = U64.pack(self._writer.next_seq())
        args = pack_value(list(job.args), "args") if job.packed_args is None else job.packed_args
        if job.meta is not self._last_meta:  # consecutive jobs often share one meta mapping
            self._last_meta, self._packed_meta = job.meta, pack_value(dict(job.meta), "meta")
        self._records.append((key, kind.record.fill(args, self._packed_meta)))
        self._by_state.append((kind.by_state + key, kind.worker))
        self._by_time.append((kind.by_time + key, kind.worker))
        if kind.ready is not None:
            self._ready.append((kind.ready + key, b""))
        self._counts[kind.counter] = self._counts.get(kind.counter, 0) + 1
        return Inserted(key.hex(), True)

    def write(self) -> None:
        """Write the jobs added since the last write."""
        if not self._records:
            return
        writer = self._writer
        txn, dbs = writer.txn, writer.dbs
        _, stored = txn.cursor(db=dbs.jobs).putmulti(self._records, append=True)
        if stored != len(self._records):  # an append below a stored key is skipped
            raise out_of_sequence(self._records[0][0])
        for db, entries in (
            (dbs.by_state, self._by_state),
            (dbs.by_time, self._by_time),
            (dbs.ready, self._ready),
        ):
            txn.cursor(db=db).putmulti(entries)
            entries.clear()
        for counter, added in self._counts.items():
            writer.count(counter, added)
        self._records.clear()
        self._counts.clear()

    def _kind(self, job: NewJob) -> _Kind:
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
        kind = self._kinds.get(shape)
        if kind is None:
            kind = self._kinds[shape] = _new_kind(self._writer, job, self._now)
        return kind


def _new_kind(writer: JobWriter, job: NewJob, now: datetime) -> _Kind:
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
