"""Recurring task definitions and their fires in the LMDB store.

``recurring``: task name -> definition. ``fires``: ``(hash of name, fire_at)`` -> the id
of the job that fire inserted. Recording a fire and inserting its job share one write
transaction, so each fire time inserts exactly one job whichever process gets there first.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import lmdb

from burro.storage._codec import CorruptRecord
from burro.storage._lmdb_env import Databases
from burro.storage._lmdb_jobs import insert_job
from burro.storage._lmdb_keys import U64, bounded, fire_key, fire_prefix, micros, parse_job_id
from burro.storage._lmdb_read import key_range
from burro.storage._lmdb_records import decode_recurring, encode_recurring, utc
from burro.storage._lmdb_writer import JobWriter
from burro.storage.base import NewJob, RecurringRecord

__all__ = [
    "advance_recurring",
    "delete_recurring",
    "fire_recurring",
    "is_stored",
    "read_recurring",
    "recurring_key",
]


def recurring_key(name: str) -> bytes:
    """The key of recurring task ``name``."""
    return bounded(name.encode())


def read_recurring(
    txn: lmdb.Transaction[bytes], dbs: Databases, name: str
) -> RecurringRecord | None:
    """One definition, or ``None``; :class:`CorruptRecord` names the task."""
    data = txn.get(recurring_key(name), db=dbs.recurring)
    return None if data is None else decode_named(name, data)


def decode_named(name: str, data: bytes) -> RecurringRecord:
    """Decode a definition, naming it if the bytes are broken."""
    try:
        return decode_recurring(data)
    except CorruptRecord as error:
        raise CorruptRecord(f"recurring task {name!r}: {error}") from error


def delete_recurring(writer: JobWriter, name: str) -> bool:
    """Remove a definition and its record of fires; False if there was none."""
    dbs = writer.dbs
    existed = writer.txn.delete(recurring_key(name), db=dbs.recurring)
    _delete_fires(writer.txn, dbs, fire_prefix(name), before=None)
    return existed


def fire_recurring(
    writer: JobWriter,
    record: RecurringRecord,
    fire_at: datetime,
    job: NewJob,
    *,
    next_fire_at: datetime,
    now: datetime,
) -> str | None:
    """Record one fire, insert its job and move the schedule.

    ``None`` if ``record`` is no longer the one stored (deleted, redefined or moved since
    the caller read it), or if that fire was already recorded or is older than the last
    one recorded.
    """
    dbs = writer.dbs
    name = record.name
    fired = fire_key(name, fire_at)
    if not is_stored(writer.txn, dbs, record):
        return None
    if writer.txn.get(fired, db=dbs.fires) is not None:
        return None
    if record.last_fire_at is not None and fire_at < record.last_fire_at:
        # A fire older than the last one recorded was superseded (its record may have
        # been pruned below): firing it now would run a stale occurrence twice.
        return None
    inserted = insert_job(writer, job, now)
    writer.txn.put(fired, parse_job_id(inserted.id) or b"", db=dbs.fires)
    if record.last_fire_at is not None:
        # Fires before the previous one can no longer be asked for: the schedule has
        # moved past them. Keeping the previous one still answers a late duplicate.
        _delete_fires(writer.txn, dbs, fire_prefix(name), before=record.last_fire_at)
    moved = replace(record, next_fire_at=utc(next_fire_at), last_fire_at=utc(fire_at))
    writer.txn.put(recurring_key(name), encode_recurring(moved), db=dbs.recurring)
    return inserted.id


def advance_recurring(writer: JobWriter, record: RecurringRecord, next_fire_at: datetime) -> bool:
    """Move the next fire of ``record`` if it is still the one stored; whether it was."""
    if not is_stored(writer.txn, writer.dbs, record):
        return False
    moved = replace(record, next_fire_at=utc(next_fire_at))
    writer.txn.put(recurring_key(record.name), encode_recurring(moved), db=writer.dbs.recurring)
    return True


def is_stored(txn: lmdb.Transaction[bytes], dbs: Databases, record: RecurringRecord) -> bool:
    """Whether ``record``, as read earlier, is still exactly the stored definition."""
    # Compared as bytes: a stored record encodes back to the bytes it was read from, and
    # bytes compare equal where decoded values may not (a NaN among the args).
    stored = txn.get(recurring_key(record.name), db=dbs.recurring)
    return stored is not None and stored == encode_recurring(record)


def _delete_fires(
    txn: lmdb.Transaction[bytes], dbs: Databases, prefix: bytes, *, before: datetime | None
) -> None:
    cut = None if before is None else micros(before)
    doomed = []
    for key, _ in key_range(txn, dbs.fires, prefix):
        if cut is not None and U64.unpack(key[-8:])[0] >= cut:
            break
        doomed.append(key)
    for key in doomed:
        txn.delete(key, db=dbs.fires)
