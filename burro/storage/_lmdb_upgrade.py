"""Bringing a store written by an earlier burro up to the current format.

Format 1 kept one uniqueness entry per unique key, ``bounded(key) -> (seq, inserted_at)``
of the newest job with it; format 2 keeps one per stored job with a unique key,
``unique_prefix(key) + seq -> inserted_at`` (see :mod:`._lmdb_keys`). Each format 1
entry becomes the format 2 entry of its job. Older jobs with the same key had no entry
then and get none now: for them, uniqueness stays as format 1 judged it (by the newest
job only) until they are deleted.

The upgrade runs in the transaction that opens the store, so it is all or nothing. A
process of the earlier burro still running on the store would go on writing format 1
entries: every process sharing a data directory must run the same burro (README).
"""

from __future__ import annotations

import struct

import lmdb

from burro.storage._codec import CorruptRecord
from burro.storage._lmdb_keys import U64, length_prefixed

__all__ = ["upgrade"]

#: Format 1's uniqueness value: (seq of the newest job with the key, its inserted_at).
_FORMAT_1_UNIQUE = struct.Struct(">QQ")


def upgrade(txn: lmdb.Transaction[bytes], unique: lmdb._Database, found: bytes) -> bool:
    """Rewrite what format ``found`` stores differently; False if no upgrade knows it.

    Raises :class:`CorruptRecord` for an entry format 1 cannot have written.
    """
    if found != b"1":
        return False
    entries = list(txn.cursor(db=unique).iternext())
    txn.drop(unique, delete=False)
    for bounded_key, value in entries:
        if len(value) != _FORMAT_1_UNIQUE.size or not bounded_key:
            raise CorruptRecord(f"uniqueness entry {bounded_key.hex()} is not of format 1")
        seq, inserted = _FORMAT_1_UNIQUE.unpack(value)
        # unique_prefix(key) without the key itself: format 1 kept only bounded(key).
        txn.put(length_prefixed(bounded_key) + U64.pack(seq), U64.pack(inserted), db=unique)
    return True
