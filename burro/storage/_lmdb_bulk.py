"""Inserting a batch of new jobs: what the jobs of one kind share is encoded once.

Jobs of one ``enqueue_many`` call usually differ only in their args and meta. Their
records then differ only there and their index keys only in the trailing sequence
number, so the rest of each is built once per kind of job, and each index gets the
entries of a run of jobs in one ``putmulti`` call. A unique job is inserted on its own
(it looks up the jobs before it), after the run so far is written. The bytes written are
exactly those of :func:`insert_job` called for each job in turn.

This loop runs once per job of every ``enqueue_many``, where a Python call costs about
a thousand instructions: it keeps to plain statements on locals.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from datetime import datetime
from itertools import repeat
from typing import NamedTuple

from burro.storage._codec import pack, pack_value
from burro.storage._lmdb_jobs import check_priority, insert_job
from burro.storage._lmdb_keys import U64
from burro.storage._lmdb_records import StoredJob
from burro.storage._lmdb_writer import JobWriter, out_of_sequence
from burro.storage.base import Inserted, NewJob

__all__ = ["insert_batch"]

#: The msgpack header of a binary of each length below 256 (``bin 8``), as ``pack``
#: writes it: the args of a record are nested in it as a binary, and are mostly short.
_BIN8 = tuple(bytes((0xC4, size)) for size in range(256))
#: Builds an :class:`Inserted` without its frozen dataclass ``__init__``, which sets each
#: field through ``object.__setattr__`` from Python and costs three times as much.
_blank = object.__new__
_set = object.__setattr__
#: No meta mapping is this one: the next job's meta is packed.
_UNSEEN = object()


def insert_batch(writer: JobWriter, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
    """Store ``jobs`` in order, as :func:`insert_job` would one by one."""
    return _Run(writer, now).insert(jobs)


class _Kind(NamedTuple):
    """The shared parts of the record and index entries of one kind of new job."""

    #: The record's bytes before its args, and between its args and its meta.
    head: bytes
    middle: bytes
    #: The record's bytes after its meta.
    tail: bytes
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
        # Each index's keys and values in two lists: putmulti reads the pairs from a
        # zip, which reuses one tuple, instead of a tuple kept per entry.
        self._keys: list[bytes] = []
        self._records: list[bytes] = []
        self._by_state: list[bytes] = []
        self._by_time: list[bytes] = []
        self._workers: list[bytes] = []
        self._ready: list[bytes] = []
        #: Each run of jobs of one kind: its ``(queue id, state)`` count, and its first
        #: job's position in the lists above (the jobs are counted when written).
        self._runs: list[tuple[tuple[int, int], int]] = []

    def insert(self, jobs: Iterable[NewJob]) -> list[Inserted]:
        """Store ``jobs`` in order: runs of jobs without a unique key, each unique one alone."""
        inserted: list[Inserted] = []
        last: NewJob | None = None  # the job before, of the kind unpacked below
        last_meta: object = _UNSEEN
        next_seq, key_of, runs = self._writer.next_seq, U64.pack, self._runs
        keys, records, workers = self._keys, self._records, self._workers
        by_state, by_time, ready = self._by_state, self._by_time, self._ready
        kind = self._kind
        for job in jobs:
            if job.unique_key is not None:
                self.write()
                inserted.append(insert_job(self._writer, job, self._now))
                last = None  # the run was written: the next job starts another
                continue
            # A job whose fields are the very objects of the job before is of its kind.
            if last is None or not (
                job.queue is last.queue
                and job.worker is last.worker
                and job.function is last.function
                and job.priority is last.priority
                and job.max_attempts is last.max_attempts
                and job.retry_delay_seconds is last.retry_delay_seconds
                and job.timeout_seconds is last.timeout_seconds
                and job.scheduled_at is last.scheduled_at
            ):
                head, middle, tail, worker, counter, state_key, time_key, ready_key = kind(job)
                runs.append((counter, len(keys)))
                last, last_meta = job, _UNSEEN
            if job.meta is not last_meta:  # consecutive jobs often share one meta mapping
                last_meta = job.meta
                after_args = middle + pack(pack_value(dict(job.meta), "meta")) + tail
            key = key_of(next_seq())
            args = job.packed_args
            if args is None:
                args = pack_value(list(job.args), "args")
            size = len(args)
            keys.append(key)
            records.append(head + (_BIN8[size] + args if size < 256 else pack(args)) + after_args)
            by_state.append(state_key + key)
            by_time.append(time_key + key)
            workers.append(worker)
            if ready_key is not None:
                ready.append(ready_key + key)
            row = _blank(Inserted)
            _set(row, "id", key.hex())
            _set(row, "created", True)
            inserted.append(row)
        self.write()
        return inserted

    def write(self) -> None:
        """Write the jobs added since the last write."""
        keys = self._keys
        if not keys:
            return
        writer = self._writer
        txn, dbs = writer.txn, writer.dbs
        _, stored = txn.cursor(db=dbs.jobs).putmulti(
            zip(keys, self._records, strict=True), append=True
        )
        if stored != len(keys):  # an append below a stored key is skipped
            raise out_of_sequence(keys[0])
        txn.cursor(db=dbs.by_state).putmulti(zip(self._by_state, self._workers, strict=True))
        txn.cursor(db=dbs.by_time).putmulti(zip(self._by_time, self._workers, strict=True))
        txn.cursor(db=dbs.ready).putmulti(zip(self._ready, repeat(b""), strict=False))
        runs = self._runs
        ends = [start for _, start in runs[1:]]
        ends.append(len(keys))
        for (counter, start), end in zip(runs, ends, strict=True):
            writer.count(counter, end - start)
        for entries in (keys, self._records, self._by_state, self._by_time, self._workers):
            entries.clear()
        self._ready.clear()
        runs.clear()

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
    frame = record.frame()
    return _Kind(
        frame.head,
        frame.middle,
        frame.tail,
        job.worker.encode(),
        placed.counter,
        placed.by_state,
        placed.by_time,
        placed.ready,
    )
