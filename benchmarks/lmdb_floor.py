"""The floor under burro's store: its two hot transactions as bare LMDB calls.

Each function makes, per job, the LMDB calls burro's store makes (counted with cProfile
on ``LmdbStorage.insert`` and ``settle_and_claim``), on an environment opened as burro
opens its own (``writemap``, no syncs), with keys and values of the same shapes and
sizes, and nothing else: no records encoded or decoded, no placements, no counters
kept, no group commit. What these cost is what no change to burro's Python could save
while the store keeps its layout (a record, three index entries and a count per job).

* ``insert``: a write transaction with six puts (the record, ``by_state``, ``by_time``,
  ``ready``, a count, the sequence counter), then a commit;
* ``settle_and_claim``: a write transaction that settles one running job (a get, the
  record put, ``by_state`` moved, ``by_time`` added, its claim deleted) and claims the
  next (a cursor walk of ``ready``, the entry deleted, a get, the record put,
  ``by_state`` moved, ``by_time`` deleted, a claim added), two counts put, a commit.

``python -m benchmarks.instructions --only lmdb_floor_insert,lmdb_floor_settle_and_claim``
counts them beside burro's own cases ``storage_insert`` and ``settle_and_claim``.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from pathlib import Path

import lmdb

__all__ = ["insert", "prepare_pending", "settle_and_claim"]

_U64 = struct.Struct(">Q")
_DATABASES = (b"jobs", b"by_state", b"by_time", b"ready", b"claims", b"counts", b"meta")
#: A stored no-op job's record is about this long (msgpack, 23 fields).
_RECORD = bytes(range(130))
_WORKER = b"benchmarks.workers"
#: Heads of the index keys, as long as burro's: (state, queue id, time) and
#: (queue id, priority, scheduled_at); the 8-byte sequence follows.
_PENDING, _RUNNING, _COMPLETED = (bytes((code,)) + bytes(12) for code in (1, 2, 4))
_READY = bytes(20)
_CLAIM = bytes(16)


@contextlib.contextmanager
def _environment(directory: Path) -> Iterator[tuple[lmdb.Environment, dict[bytes, object]]]:
    (directory / "floor").mkdir(parents=True, exist_ok=True)
    env = lmdb.open(
        str(directory / "floor"),
        map_size=1 << 30,
        max_dbs=len(_DATABASES),
        sync=False,
        metasync=False,
        writemap=True,
    )
    try:
        yield env, {name: env.open_db(name) for name in _DATABASES}
    finally:
        env.close()


def prepare_pending(directory: Path, jobs: int) -> None:
    """Store ``jobs`` + 1 pending jobs (record and index entries), one transaction."""
    with _environment(directory) as (env, dbs), env.begin(write=True) as txn:
        for seq in range(jobs + 1):
            key = _U64.pack(seq)
            txn.put(key, _RECORD, append=True, db=dbs[b"jobs"])
            txn.put(_PENDING + key, _WORKER, db=dbs[b"by_state"])
            txn.put(_PENDING + key, _WORKER, db=dbs[b"by_time"])
            txn.put(_READY + key, b"", db=dbs[b"ready"])


def insert(directory: Path, jobs: int) -> None:
    """``jobs`` inserts, one transaction each."""
    with _environment(directory) as (env, dbs):
        records, by_state, by_time = dbs[b"jobs"], dbs[b"by_state"], dbs[b"by_time"]
        ready, counts, meta = dbs[b"ready"], dbs[b"counts"], dbs[b"meta"]
        for seq in range(jobs):
            key = _U64.pack(seq)
            txn = env.begin(write=True)
            txn.put(key, _RECORD, append=True, db=records)
            txn.put(_PENDING + key, _WORKER, db=by_state)
            txn.put(_PENDING + key, _WORKER, db=by_time)
            txn.put(_READY + key, b"", db=ready)
            txn.put(b"count", key, db=counts)
            txn.put(b"next_seq", key, db=meta)
            txn.commit()


def settle_and_claim(directory: Path, jobs: int) -> None:
    """``jobs`` settle-and-claim transactions over jobs stored by :func:`prepare_pending`."""
    with _environment(directory) as (env, dbs):
        records, by_state, by_time = dbs[b"jobs"], dbs[b"by_state"], dbs[b"by_time"]
        ready, claims, counts = dbs[b"ready"], dbs[b"claims"], dbs[b"counts"]
        for seq in range(jobs):
            done, following = _U64.pack(seq), _U64.pack(seq + 1)
            txn = env.begin(write=True)
            # Settle the running job.
            txn.get(done, db=records)
            txn.delete(_RUNNING + done, db=by_state)
            txn.put(_COMPLETED + done, _WORKER, db=by_state)
            txn.put(_COMPLETED + done, _WORKER, db=by_time)
            txn.delete(_CLAIM + done, db=claims)
            txn.put(done, _RECORD, db=records)
            # Claim the next one.
            cursor = txn.cursor(db=ready)
            cursor.set_range(_READY[:4])
            cursor.key()
            cursor.next()
            txn.delete(_READY + following, db=ready)
            txn.get(following, db=records)
            txn.delete(_PENDING + following, db=by_state)
            txn.put(_RUNNING + following, _WORKER, db=by_state)
            txn.delete(_PENDING + following, db=by_time)
            txn.put(_CLAIM + following, b"runtime", db=claims)
            txn.put(following, _RECORD, db=records)
            txn.put(b"pending", following, db=counts)
            txn.put(b"completed", following, db=counts)
            txn.commit()
