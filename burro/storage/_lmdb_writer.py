"""The working state of one LMDB write transaction: job records, their indexes, counters.

Every job is in exactly one state and has these entries, all written in the same
transaction as its record (``seq`` is the 8-byte insertion sequence, the primary key):

* ``by_state``  ``(state, queue id, inserted_at, seq)`` -> worker: listing by insertion.
* ``by_time``   ``(state, queue id, time, seq)`` -> worker, where ``time`` is the
  ``scheduled_at`` of a waiting or pending job and the ``completed_at`` of a finished
  one: promotion, next due time, retention and the natural listing order of those
  states read it. Running jobs (never more than the total concurrency) have none.
* ``ready``     ``(queue id, priority, scheduled_at, seq)`` while ``pending``: the claim order.
* ``claims``    ``(runtime, seq)`` -> runtime id while ``running``: release and rescue.
* ``counts``    ``(queue id, state)`` -> number of jobs, adjusted once per transaction.

The hot paths pass py-lmdb's optional arguments by position - ``get(key, default, db)``,
``put(key, value, dupdata, overwrite, append, db)``, ``delete(key, value, db)``: keyword
arguments cost a dict per call there, about a fifth of a put.
"""

from __future__ import annotations

import struct
from datetime import datetime
from typing import NamedTuple

import lmdb

from burro.states import TaskState
from burro.storage._codec import CorruptRecord
from burro.storage._lmdb_env import SharedEnvironment
from burro.storage._lmdb_keys import (
    COUNT,
    FAILED_DAY,
    STATE_CODES,
    U32,
    U64,
    claim_prefix,
    day_number,
    micros,
    signed,
)
from burro.storage._lmdb_read import decode_job, load_job, queue_key
from burro.storage._lmdb_records import StoredJob

__all__ = ["Entries", "JobWriter", "Placement", "out_of_sequence"]

_PENDING = TaskState.PENDING
_RUNNING = TaskState.RUNNING
#: Meta keys of the counters that hand out sequence numbers and queue ids.
_NEXT_SEQ = b"next_seq"
_NEXT_QUEUE = b"next_queue"


class Placement(NamedTuple):
    """Where a job is indexed: one key per index, ``None`` where it has none."""

    counter: tuple[int, int]
    by_state: bytes | None
    by_time: bytes | None
    ready: bytes | None
    claim: bytes | None


#: A placement's fields as a plain tuple, in the same order: what the hot paths pass
#: around, as a tuple display costs a fraction of building even the named tuple.
Entries = tuple[tuple[int, int], bytes | None, bytes | None, bytes | None, bytes | None]
#: The placement of a job not stored yet.
_NOWHERE: Entries = ((0, 0), None, None, None, None)
#: Builds a Placement from its entries, without the named tuple's own Python ``__new__``.
_placed = tuple.__new__


#: The first byte of each state's ``by_state``/``by_time`` keys, by state code.
_STATE_BYTES = {code: bytes((code,)) for code in STATE_CODES.values()}
#: The head of a ``by_state``/``by_time`` key, ``(state, queue id, time)``: see ``BY_STATE``.
_TIMED = struct.Struct(">BIQ")
#: The head of a ready key, ``(queue id, priority, scheduled_at)``: see ``READY``.
_READY_HEAD = struct.Struct(">IQQ")


def out_of_sequence(key: bytes) -> CorruptRecord:
    """A new job's key is not above every stored one: LMDB refuses to append it silently."""
    return CorruptRecord(
        f"job key {key.hex()} is not above the stored ones: the sequence counter is behind"
    )


class JobWriter:
    """Changes to jobs inside one write transaction; :meth:`flush` before committing."""

    def __init__(self, txn: lmdb.Transaction[bytes], shared: SharedEnvironment) -> None:
        self.txn = txn
        self.dbs = shared.dbs
        self._shared = shared
        #: The jobs database: named on every load and store.
        self._jobs = shared.dbs.jobs
        self._counters = shared.counters
        self._claimed = shared.claimed
        self._count_deltas: dict[tuple[int, int], int] = {}
        self._failure_deltas: dict[tuple[int, int], int] = {}
        self._next_seq: int | None = None
        #: Queue ids read or created in this transaction, cached once it commits.
        self.new_queues: dict[str, int] = {}

    # -- identities ----------------------------------------------------------------
    def queue_id(self, name: str) -> int:
        """The id of queue ``name``, registering the queue if it is new."""
        found = self.find_queue(name)
        if found is not None:
            return found
        raw = self.txn.get(_NEXT_QUEUE, db=self.dbs.meta)
        queue = 1 if raw is None else U32.unpack(raw)[0]
        self.txn.put(_NEXT_QUEUE, U32.pack(queue + 1), db=self.dbs.meta)
        self.txn.put(queue_key(name), U32.pack(queue), db=self.dbs.queues)
        self.txn.put(b"i" + U32.pack(queue), name.encode(), db=self.dbs.queues)
        self.new_queues[name] = queue
        return queue

    def find_queue(self, name: str) -> int | None:
        """The id of queue ``name``, or ``None`` if no job ever used it."""
        found = self._shared.queue_ids.get(name) or self.new_queues.get(name)
        if found is not None:
            return found
        raw = self.txn.get(queue_key(name), db=self.dbs.queues)
        if raw is None:
            return None
        self.new_queues[name] = U32.unpack(raw)[0]
        return self.new_queues[name]

    def next_seq(self) -> int:
        """A fresh insertion sequence number (the counter is written by :meth:`flush`)."""
        if self._next_seq is None:
            known = self._counters.current.get(_NEXT_SEQ)
            if known is None:
                raw = self.txn.get(_NEXT_SEQ, db=self.dbs.meta)
                known = 1 if raw is None else U64.unpack(raw)[0]
            self._next_seq = known
        seq = self._next_seq
        self._next_seq += 1
        return seq

    # -- records -------------------------------------------------------------------
    def load(self, key: bytes) -> StoredJob | None:
        """The record under primary key ``key``, or ``None``."""
        return load_job(self.txn, self.dbs, key)

    def must_load(self, key: bytes) -> StoredJob:
        """The record an index entry points at; a missing one means a damaged store."""
        data = self.txn.get(key, None, self._jobs)
        if data is None:
            raise CorruptRecord(f"an index names job {key.hex()}, which is not stored")
        return decode_job(key, data)

    def load_placed(self, key: bytes) -> tuple[StoredJob, Entries] | None:
        """The record under ``key`` and its index entries, or ``None``.

        A record this process wrote when claiming the job, unchanged since, is taken
        back instead of decoded (see :mod:`._lmdb_claimed`).
        """
        data = self.txn.get(key, None, self._jobs)
        if data is None:
            return None
        kept = self._claimed.take(key, data)
        if kept is not None:
            return kept
        job = decode_job(key, data)
        return job, self.entries(key, job)

    def store(self, key: bytes, job: StoredJob, *, append: bool = False) -> None:
        """Write a record (``append``: ``key`` is the largest yet, a faster put)."""
        if not self.txn.put(key, job.encode(), True, True, append, self._jobs):
            raise out_of_sequence(key)

    def delete(self, key: bytes, job: StoredJob) -> None:
        """Delete a record and every index entry of it."""
        placed = self.placement(key, job)
        for db, entry in zip(self._shared.indexes, placed[1:], strict=True):
            if entry is not None:
                self.txn.delete(entry, db=db)
        self.count(placed.counter, -1)
        self.txn.delete(key, db=self.dbs.jobs)

    # -- indexes -------------------------------------------------------------------
    def placement(self, key: bytes, job: StoredJob) -> Placement:
        """The index entries ``job`` has in its current state."""
        return _placed(Placement, self.entries(key, job))

    def entries(self, key: bytes, job: StoredJob, *, was: Entries | None = None) -> Entries:
        """:meth:`placement` as a plain tuple (see :data:`Entries`).

        ``was``: earlier entries of the same job, whose queue and insertion time (never
        changed after insert) are reused instead of computed again.
        """
        state = job.state
        code = STATE_CODES[state]
        # The queue id and the by_state key ``was`` holds (None for a job not stored yet).
        (queue, _), lifelong, _, _, _ = _NOWHERE if was is None else was
        inserted = None
        if lifelong is None:
            queue = self._shared.queue_ids.get(job.queue) or self.queue_id(job.queue)
            inserted = micros(job.inserted_at)
            by_state = _TIMED.pack(code, queue, inserted) + key
        else:
            # (queue id, inserted_at, seq): the part of the by_state key a job keeps for life.
            by_state = _STATE_BYTES[code] + lifelong[1:]
        if state is _RUNNING:
            # Running jobs are few (at most the total concurrency): no time index needed.
            claimed_by = job.claimed_by
            claim = None
            if claimed_by is not None:
                prefix = self._shared.claim_prefixes.get(claimed_by)
                claim = (prefix or self._claim_prefix(claimed_by)) + key
            return (queue, code), by_state, None, None, claim
        # by_time files a finished job under completed_at, any other under scheduled_at.
        completed_at = job.completed_at
        if completed_at is not None:
            by_time = _TIMED.pack(code, queue, micros(completed_at)) + key
            return (queue, code), by_state, by_time, None, None
        scheduled_at = job.scheduled_at
        if inserted is not None and scheduled_at == job.inserted_at:
            # Due when inserted, as most jobs are: filed under the same time in both indexes.
            scheduled, by_time = inserted, by_state
        else:
            scheduled = micros(scheduled_at)
            by_time = _TIMED.pack(code, queue, scheduled) + key
        ready = None
        if state is _PENDING:
            ready = _READY_HEAD.pack(queue, signed(job.priority), scheduled) + key
        return (queue, code), by_state, by_time, ready, None

    def _claim_prefix(self, runtime_id: str) -> bytes:
        """The claims index prefix of ``runtime_id``, computed once per environment."""
        prefix = self._shared.claim_prefixes[runtime_id] = claim_prefix(runtime_id)
        return prefix

    def place(self, key: bytes, job: StoredJob, before: Entries | None) -> Entries:  # noqa: PLR0912
        """Move ``job``'s index entries from ``before`` (``None``: a new job) to its state's.

        Returns where it is indexed now.
        """
        after = self.entries(key, job, was=before)
        old = _NOWHERE if before is None else before
        txn = self.txn
        worker = job.worker.encode()
        by_state_db, by_time_db, ready_db, claims_db = self._shared.indexes
        counter, by_state, by_time, ready, claim = after
        old_counter, old_by_state, old_by_time, old_ready, old_claim = old
        # Entries whose key did not change keep their value (the worker, the claimant).
        # One block per index, not a loop over them: building the loop's tuples cost
        # more than the moves themselves.
        if old_by_state != by_state:
            if old_by_state is not None:
                txn.delete(old_by_state, b"", by_state_db)
            if by_state is not None:
                txn.put(by_state, worker, True, True, False, by_state_db)
        if old_by_time != by_time:
            if old_by_time is not None:
                txn.delete(old_by_time, b"", by_time_db)
            if by_time is not None:
                txn.put(by_time, worker, True, True, False, by_time_db)
        if old_ready != ready:
            if old_ready is not None:
                txn.delete(old_ready, b"", ready_db)
            if ready is not None:
                txn.put(ready, b"", True, True, False, ready_db)
        if old_claim != claim:
            if old_claim is not None:
                txn.delete(old_claim, b"", claims_db)
            if claim is not None:
                claimed_by = job.claimed_by
                value = b"" if claimed_by is None else claimed_by.encode()
                txn.put(claim, value, True, True, False, claims_db)
        if old_counter != counter:
            deltas = self._count_deltas  # as count() does, without its two calls per move
            deltas[counter] = deltas.get(counter, 0) + 1
            if before is not None:
                deltas[old_counter] = deltas.get(old_counter, 0) - 1
        return after

    def update(self, key: bytes, job: StoredJob, before: Entries, *, claimed: bool = False) -> None:
        """Re-index and store a job changed since ``before`` was taken.

        ``claimed``: this process just claimed the job; its settlement takes the record
        back (:meth:`load_placed`), so ``job`` must not be changed after this.
        """
        after = self.place(key, job, before)
        record = job.encode()
        self.txn.put(key, record, True, True, False, self._jobs)
        if claimed:
            self._claimed.keep(key, record, job, after)

    def count(self, counter: tuple[int, int], delta: int) -> None:
        """Add ``delta`` jobs to a ``(queue id, state code)`` count (written by :meth:`flush`)."""
        self._count_deltas[counter] = self._count_deltas.get(counter, 0) + delta

    def count_failure(self, job: StoredJob, now: datetime) -> None:
        """Count one failed attempt of ``job`` on ``now``'s UTC day."""
        counter = (day_number(now), self.queue_id(job.queue))
        self._failure_deltas[counter] = self._failure_deltas.get(counter, 0) + 1

    # -- commit --------------------------------------------------------------------
    def flush(self) -> None:
        """Write the counters this transaction changed."""
        counters = self._counters
        written = self._add(self.dbs.counts, COUNT, self._count_deltas, counters.current)
        if self._failure_deltas:
            self._add(self.dbs.failed, FAILED_DAY, self._failure_deltas, {})
        if self._next_seq is not None:
            self.txn.put(_NEXT_SEQ, U64.pack(self._next_seq), True, True, False, self.dbs.meta)
            written[_NEXT_SEQ] = self._next_seq
        if written:
            counters.wrote(written)

    def _add(
        self,
        db: lmdb._Database,
        layout: struct.Struct,
        deltas: dict[tuple[int, int], int],
        known: dict[bytes, int],
    ) -> dict[bytes, int]:
        """Add each delta to its counter (whose value is taken from ``known`` if there).

        ``deltas`` are by counter fields, packed by ``layout`` into the counter's key;
        moves that cancelled out are skipped. Returns the new values (by key). One call
        for all: a flush adds two or three.
        """
        txn = self.txn
        written = {}
        for counter, delta in deltas.items():
            if not delta:
                continue
            key = layout.pack(*counter)
            value = known.get(key)
            if value is None:
                raw = txn.get(key, None, db)
                value = 0 if raw is None else U64.unpack(raw)[0]
            total = value + delta
            if total < 0:
                raise CorruptRecord(f"counter {key.hex()} would go negative")
            txn.put(key, U64.pack(total), True, True, False, db)
            written[key] = total
        return written

    def publish(self) -> None:
        """After commit: remember the queue ids this transaction saw."""
        self._shared.queue_ids.update(self.new_queues)

    #: ``job_id(key)``: the public id of primary key ``key``, its bytes in hex (as
    #: :func:`job_id`); ``bytes.hex`` itself, so that naming it costs no call.
    job_id = staticmethod(bytes.hex)
