"""A settlement takes back the record its claim wrote: only while it is unchanged, once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from burro.states import TaskState
from burro.storage import Complete
from burro.storage import _lmdb_jobs as transitions
from burro.storage._lmdb_claimed import ClaimedRecords
from burro.storage._lmdb_records import StoredJob
from burro.storage._lmdb_writer import JobWriter, Placement
from burro.storage.lmdb import LmdbStorage
from tests.unit.storage.factories import RUNTIME, T0, at, claim_only, insert, new_job


class Rollback(Exception):
    """Raised inside a write transaction to roll it back."""


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LmdbStorage]:
    storage = LmdbStorage(tmp_path / "store", durability="process")
    yield storage
    storage.close()


def test_a_settlement_rolled_back_after_taking_the_record_applies_when_run_again(
    store: LmdbStorage,
) -> None:
    job_id = insert(store)
    job = claim_only(store, job_id)
    settlement = Complete(job_id, RUNTIME, job.attempts, "done")

    def settle_then_fail(writer: JobWriter) -> None:
        assert transitions.settle_job(writer, settlement, at(1)) is not None
        raise Rollback

    with pytest.raises(Rollback):
        store._write(settle_then_fail)
    assert store.get(job_id).state is TaskState.RUNNING  # type: ignore[union-attr]

    (settled,), _ = store.settle_and_claim([settlement], {}, RUNTIME, at(2))
    assert settled is not None
    assert settled.state is TaskState.COMPLETED
    assert settled.result == "done"
    assert store.counts()["default"][TaskState.COMPLETED] == 1
    assert store.counts()["default"][TaskState.RUNNING] == 0


def test_a_claim_rolled_back_leaves_nothing_for_the_next_claim_to_confuse(
    store: LmdbStorage,
) -> None:
    job_id = insert(store)

    def claim_then_fail(writer: JobWriter) -> None:
        assert transitions.claim_jobs(writer, "default", 1, RUNTIME, at(1))
        raise Rollback

    with pytest.raises(Rollback):
        store._write(claim_then_fail)
    job = claim_only(store, job_id, now=at(2))
    assert job.attempts == 1
    (settled,), _ = store.settle_and_claim(
        [Complete(job_id, RUNTIME, job.attempts)], {}, RUNTIME, at(3)
    )
    assert settled is not None
    assert settled.state is TaskState.COMPLETED
    assert settled.attempted_at == at(2)


def _record(name: str) -> tuple[StoredJob, Placement]:
    job = StoredJob.create(new_job(function=name), T0)
    return job, Placement((1, 1), None, None, None, None)


def test_a_record_is_taken_back_once_and_only_with_the_bytes_it_was_written_as() -> None:
    claimed = ClaimedRecords()
    job, placement = _record("a")
    claimed.keep(b"k1", b"bytes-1", job, placement)
    assert claimed.take(b"k1", b"bytes-1") == (job, placement)
    assert claimed.take(b"k1", b"bytes-1") is None

    claimed.keep(b"k2", b"bytes-2", job, placement)
    assert claimed.take(b"k2", b"changed") is None
    assert claimed.take(b"k2", b"bytes-2") is None  # forgotten with the mismatch


def test_claims_never_settled_here_are_forgotten_oldest_first() -> None:
    claimed = ClaimedRecords()
    job, placement = _record("a")
    keys = [n.to_bytes(8, "big") for n in range(5000)]
    for key in keys:
        claimed.keep(key, key, job, placement)
    assert claimed.take(keys[0], keys[0]) is None
    assert claimed.take(keys[-1], keys[-1]) == (job, placement)
    assert len(claimed) <= 4096
