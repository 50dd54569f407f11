"""The LMDB store's uniqueness index: an entry per stored job with a unique key.

Each entry is the key's length-prefixed form, then the job's sequence number, holding
its insertion time: what the insert walks back through, newest first.
"""

from __future__ import annotations

import struct
from pathlib import Path

import lmdb
import pytest

from burro.errors import StorageError
from burro.states import TaskState
from burro.storage import open_storage
from burro.storage._lmdb_keys import U64, bounded, micros, unique_prefix
from tests.unit.storage.factories import T0, at, dump_store, job_in, new_job


def unique_entries(path: Path) -> dict[bytes, bytes]:
    return dict(dump_store(path).get(b"unique", []))


def entry(key: bytes, job_id: str) -> bytes:
    return unique_prefix(key) + bytes.fromhex(job_id)


def test_every_stored_job_with_a_unique_key_has_its_own_entry(tmp_path: Path) -> None:
    storage = open_storage("lmdb", tmp_path, durability="process")
    first = storage.insert(new_job(unique_key=b"k", unique_for_seconds=3600), T0).id
    second = storage.insert(new_job(unique_key=b"k", unique_for_seconds=60), at(100)).id
    other = storage.insert(new_job(unique_key=b"other", unique_for_seconds=60), at(100)).id
    storage.insert(new_job(), at(100))
    storage.close()
    assert unique_entries(tmp_path) == {
        entry(b"k", first): U64.pack(micros(T0)),
        entry(b"k", second): U64.pack(micros(at(100))),
        entry(b"other", other): U64.pack(micros(at(100))),
    }


def test_a_key_that_begins_another_key_is_a_different_job(tmp_path: Path) -> None:
    storage = open_storage("lmdb", tmp_path, durability="process")
    longer = storage.insert(new_job(unique_key=b"abc", unique_for_seconds=60), T0)
    shorter = storage.insert(new_job(unique_key=b"ab", unique_for_seconds=60), at(1))
    assert shorter.created
    assert shorter.id != longer.id
    again = storage.insert(new_job(unique_key=b"ab", unique_for_seconds=60), at(2))
    assert (again.id, again.created) == (shorter.id, False)
    storage.close()


def test_deleting_a_job_removes_its_entry_and_no_other(tmp_path: Path) -> None:
    storage = open_storage("lmdb", tmp_path, durability="process")
    done = job_in(storage, TaskState.COMPLETED, unique_key=b"k", unique_for_seconds=60)
    live = storage.insert(new_job(unique_key=b"k", unique_for_seconds=60), at(120)).id
    assert storage.delete_finished(frozenset({TaskState.COMPLETED}), at(121), 10) == 1
    storage.close()
    assert unique_entries(tmp_path) == {entry(b"k", live): U64.pack(micros(at(120)))}
    assert done != live


def as_format_1(path: Path) -> None:
    """Rewrite the store's uniqueness index as format 1 kept it: the newest job per key."""
    env = lmdb.open(str(path), max_dbs=64, subdir=True, map_size=16 << 20)
    try:
        meta, unique = env.open_db(b"meta"), env.open_db(b"unique")
        with env.begin(write=True) as txn:
            newest: dict[bytes, bytes] = {}
            for key, value in txn.cursor(db=unique):
                seq = key[-8:]
                bounded_key = key[1:-8]
                newest[bounded_key] = struct.pack(">QQ", U64.unpack(seq)[0], U64.unpack(value)[0])
            txn.drop(unique, delete=False)
            for bounded_key, value in newest.items():
                txn.put(bounded_key, value, db=unique)
            txn.put(b"format", b"1", db=meta)
    finally:
        env.close()


def test_a_format_1_store_is_upgraded_when_opened(tmp_path: Path) -> None:
    storage = open_storage("lmdb", tmp_path, durability="process")
    first = storage.insert(new_job(unique_key=b"k", unique_for_seconds=3600), T0).id
    newest = storage.insert(new_job(unique_key=b"k", unique_for_seconds=60), at(100)).id
    storage.close()
    as_format_1(tmp_path)
    assert unique_entries(tmp_path) == {
        bounded(b"k"): struct.pack(">QQ", int(newest, 16), micros(at(100)))
    }

    storage = open_storage("lmdb", tmp_path, durability="process")
    again = storage.insert(new_job(unique_key=b"k", unique_for_seconds=3600), at(200))
    storage.close()
    assert (again.id, again.created) == (newest, False)
    # The newest job's entry, as format 2 writes it; format 1 had none for the first.
    assert unique_entries(tmp_path) == {entry(b"k", newest): U64.pack(micros(at(100)))}
    assert dict(dump_store(tmp_path)[b"meta"])[b"format"] == b"2"
    assert first != newest


def test_a_store_of_an_unknown_format_is_refused_untouched(tmp_path: Path) -> None:
    open_storage("lmdb", tmp_path, durability="process").close()
    env = lmdb.open(str(tmp_path), max_dbs=64, subdir=True, map_size=16 << 20)
    meta = env.open_db(b"meta")  # before the write transaction: opening one takes another
    with env.begin(write=True) as txn:
        txn.put(b"format", b"9", db=meta)
    env.close()
    with pytest.raises(StorageError, match="format b'9', this burro reads b'2'"):
        open_storage("lmdb", tmp_path, durability="process")
    assert dict(dump_store(tmp_path)[b"meta"])[b"format"] == b"9"


def test_a_format_1_store_that_cannot_be_upgraded_is_refused_untouched(tmp_path: Path) -> None:
    storage = open_storage("lmdb", tmp_path, durability="process")
    storage.insert(new_job(unique_key=b"k", unique_for_seconds=60), T0)
    storage.close()
    as_format_1(tmp_path)
    env = lmdb.open(str(tmp_path), max_dbs=64, subdir=True, map_size=16 << 20)
    unique = env.open_db(b"unique")
    with env.begin(write=True) as txn:
        txn.put(b"\x01broken", b"short", db=unique)
    env.close()
    before = dump_store(tmp_path)
    with pytest.raises(StorageError, match="cannot upgrade the store from format b'1'"):
        open_storage("lmdb", tmp_path, durability="process")
    assert dump_store(tmp_path) == before
    # The refused open let the store go: once mended, it opens and upgrades.
    env = lmdb.open(str(tmp_path), max_dbs=64, subdir=True, map_size=16 << 20)
    unique = env.open_db(b"unique")
    with env.begin(write=True) as txn:
        txn.delete(b"\x01broken", db=unique)
    env.close()
    open_storage("lmdb", tmp_path, durability="process").close()
    assert dict(dump_store(tmp_path)[b"meta"])[b"format"] == b"2"
