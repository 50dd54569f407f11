"""A bulk insert writes exactly the bytes that inserting the same jobs one by one writes."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

import lmdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from burro.errors import InvalidTaskError, StorageError
from burro.states import TaskState
from burro.storage import JobFilter, NewJob, open_storage
from burro.storage._codec import pack
from burro.storage._lmdb_keys import U64
from burro.storage._lmdb_records import StoredJob
from burro.storage.base import Inserted
from tests.unit.storage.factories import T0, dump_store, new_job

#: Shared by several jobs of a batch, as enqueue_many's templates share theirs.
SHARED_META = {"tenant": "acme"}
metas = st.one_of(
    st.sampled_from([SHARED_META, {}]),
    st.dictionaries(st.sampled_from(["tenant", "trace"]), st.text(max_size=3), max_size=2),
)

kinds = st.fixed_dictionaries(
    {
        "queue": st.sampled_from(["default", "media"]),
        "function": st.sampled_from(["perform", "resize"]),
        # Equal numbers of other types encode differently: each keeps its own.
        "priority": st.sampled_from([0, 1, 3, True]),
        "max_attempts": st.sampled_from([5, 7]),
        "retry_delay_seconds": st.sampled_from([15.0, 15, 1.5]),
        "timeout_seconds": st.sampled_from([None, 2.5, 2, 2.0]),
        "scheduled_at": st.sampled_from([None, T0 - timedelta(minutes=1), T0 + timedelta(hours=1)]),
        "meta": metas,
        # Unique jobs are inserted one by one between the runs of the others; a key seen
        # earlier in the batch makes a duplicate.
        "unique_key": st.sampled_from([None, None, b"k1", b"k2"]),
    }
)
int64 = st.integers(-(2**63), 2**63 - 1)
args = st.lists(st.one_of(int64, st.text(max_size=5), st.none()), max_size=3)


def build(kind: dict[str, Any], job_args: list[Any], packed: bool) -> NewJob:
    unique_for = None if kind["unique_key"] is None else 60.0
    job = new_job(**kind, args=tuple(job_args), unique_for_seconds=unique_for)
    if packed:
        job.packed_args = pack(job_args)
    return job


def stored(jobs: list[NewJob], directory: Path, *, bulk: bool) -> list[tuple[str, bool]]:
    """What became of each job (its id, whether it was created), inserted at once or not."""
    store = open_storage("lmdb", directory, durability="process")
    try:
        outcomes = store.insert_many(jobs, T0) if bulk else [store.insert(j, T0) for j in jobs]
        return [(outcome.id, outcome.created) for outcome in outcomes]
    finally:
        store.close()


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(kinds, args, st.booleans()), min_size=1, max_size=12))
def test_bulk_and_one_by_one_inserts_store_the_same_bytes(
    batch: list[tuple[dict[str, Any], list[Any], bool]],
) -> None:
    jobs = [build(kind, job_args, packed) for kind, job_args, packed in batch]
    with tempfile.TemporaryDirectory() as scratch:
        one_by_one, bulk = Path(scratch, "one"), Path(scratch, "bulk")
        assert stored(jobs, bulk, bulk=True) == stored(jobs, one_by_one, bulk=False)
        assert dump_store(bulk) == dump_store(one_by_one)


def test_equal_numbers_of_other_types_are_stored_as_given(tmp_path: Path) -> None:
    variants = [
        {"priority": 1},
        {"priority": True},
        {"retry_delay_seconds": 15},
        {"retry_delay_seconds": 15.0},
        {"timeout_seconds": 2},
        {"timeout_seconds": 2.0},
    ]
    jobs = [new_job(**fields, meta=SHARED_META) for fields in variants]
    stored(jobs, tmp_path / "bulk", bulk=True)
    stored(jobs, tmp_path / "one", bulk=False)
    assert dump_store(tmp_path / "bulk") == dump_store(tmp_path / "one")


def test_a_record_frame_filled_with_args_and_meta_is_the_record() -> None:
    record = StoredJob.create(new_job(args=("a", 1), priority=2, meta={"k": [1, 2]}), T0)
    frame = record.frame()
    assert frame.fill(record.packed_args, record.packed_meta) == record.encode()
    record.packed_args = pack(["another", "longer", "list", "of", "args" * 100])
    record.packed_meta = pack({"tenant": "x" * 300, "n": 2})
    assert frame.fill(record.packed_args, record.packed_meta) == record.encode()


def test_a_priority_out_of_range_stores_none_of_the_batch(tmp_path: Path) -> None:
    store = open_storage("lmdb", tmp_path / "store", durability="process")
    try:
        with pytest.raises(InvalidTaskError, match="64-bit"):
            store.insert_many([new_job(), new_job(priority=1 << 63)], T0)
        assert store.counts() == {}
    finally:
        store.close()


def set_sequence_counter(path: Path, value: int) -> None:
    """Write the store's next sequence number behind LMDB's back (the store is closed)."""
    env = lmdb.open(str(path), max_dbs=64, subdir=True)
    try:
        meta = env.open_db(b"meta", create=False)
        with env.begin(write=True, db=meta) as txn:
            txn.put(b"next_seq", U64.pack(value))
    finally:
        env.close()


@pytest.mark.parametrize("bulk", [True, False], ids=["insert_many", "insert"])
def test_a_sequence_counter_behind_the_stored_jobs_fails_the_insert(
    tmp_path: Path, bulk: bool
) -> None:
    path = tmp_path / "store"
    first = [
        job_id for job_id, _ in stored([new_job(args=(n,)) for n in range(3)], path, bulk=True)
    ]
    set_sequence_counter(path, 2)  # job 2 and 3 exist: appending 2 again must not pass
    store = open_storage("lmdb", path, durability="process")
    try:
        late = [new_job(args=("late",)), new_job(args=("later",))]
        insert_late = partial(store.insert_many, late) if bulk else partial(store.insert, late[0])
        with pytest.raises(StorageError, match="sequence counter is behind"):
            insert_late(T0)
        listed, total = store.list_jobs(JobFilter(), offset=0, limit=10)
        assert (sorted(job.id for job in listed), total) == (sorted(first), 3)
        assert [job.args for job in listed if job.id == first[1]] == [(1,)]
        assert store.counts()["default"][TaskState.PENDING] == 3
    finally:
        store.close()


def test_long_args_and_shared_fields_are_stored_as_one_by_one(tmp_path: Path) -> None:
    # Args of every binary header length (bin 8, 16 and 32), in jobs that share their
    # fields' very objects (as jobs of one enqueue_many template do) and in jobs that don't.
    template = new_job(queue="media", priority=2, retry_delay_seconds=1.5, meta=SHARED_META)
    sizes = [0, 200, 253, 254, 300, 65_532, 65_533, 70_000, 3]
    jobs = []
    for n, size in enumerate(sizes):
        job = new_job(
            queue=template.queue,
            priority=template.priority,
            retry_delay_seconds=template.retry_delay_seconds,
            meta=template.meta if n % 3 else {"n": n},
            args=("x" * size,),
        )
        jobs.append(job)
        jobs.append(new_job(queue="media", priority=2, retry_delay_seconds=1.5, args=(n,)))
    outcomes = stored(jobs, tmp_path / "bulk", bulk=True)
    assert outcomes == stored(jobs, tmp_path / "one", bulk=False)
    assert dump_store(tmp_path / "bulk") == dump_store(tmp_path / "one")


def test_the_rows_of_a_bulk_insert_are_inserted_rows(tmp_path: Path) -> None:
    store = open_storage("lmdb", tmp_path / "store", durability="process")
    try:
        rows = store.insert_many([new_job(args=(n,)) for n in range(3)], T0)
    finally:
        store.close()
    assert rows == [Inserted(row.id, created=True) for row in rows]
    assert all(type(row) is Inserted and row.created is True for row in rows)
    with pytest.raises(AttributeError):
        rows[0].id = "changed"  # type: ignore[misc]
