"""The ``noop`` backend accepts every call and keeps nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from burro.states import FINISHED_STATES
from burro.storage import (
    Cancel,
    Complete,
    Fail,
    JobFilter,
    RecurringRecord,
    RuntimeInfo,
    Storage,
    open_storage,
)
from burro.storage.noop import NoopStorage
from tests.unit.storage.factories import RUNTIME, T0, at, new_job


@pytest.fixture
def noop(tmp_path: Path) -> Storage:
    return open_storage("noop", tmp_path / "never-created")


def test_open_storage_touches_no_disk(noop: Storage, tmp_path: Path) -> None:
    assert isinstance(noop, NoopStorage)
    assert isinstance(noop, Storage)
    assert not (tmp_path / "never-created").exists()


def test_inserts_return_fresh_ids_and_store_nothing(noop: Storage) -> None:
    first = noop.insert(new_job(unique_key=b"k", unique_for_seconds=60), T0)
    second = noop.insert(new_job(unique_key=b"k", unique_for_seconds=60), T0)
    batch = noop.insert_many([new_job(), new_job()], T0)
    every = [first, second, *batch]
    assert all(inserted.created for inserted in every)
    assert len({inserted.id for inserted in every}) == 4
    assert all(isinstance(inserted.id, str) and inserted.id for inserted in every)
    assert noop.get(first.id) is None


def test_reads_find_nothing(noop: Storage) -> None:
    noop.insert(new_job(), T0)
    assert noop.list_jobs(JobFilter(), offset=0, limit=10) == ([], 0)
    assert noop.counts() == {}
    assert noop.failed_today(T0) == {}
    assert noop.next_due_at() is None


def test_running_finds_no_work(noop: Storage) -> None:
    job_id = noop.insert(new_job(), T0).id
    assert noop.claim("default", 10, RUNTIME, T0) == []
    settlements = [
        Complete(job_id, RUNTIME, 1),
        Fail(job_id, RUNTIME, 1, "boom", None),
        Cancel(job_id, RUNTIME, 1),
    ]
    assert noop.settle(settlements, T0) == [None, None, None]
    assert noop.release(RUNTIME, None, T0, rescue=True) == []
    assert noop.promote(at(3600), 100) == {}


def test_operator_actions_find_no_job(noop: Storage) -> None:
    job_id = noop.insert(new_job(), T0).id
    assert noop.cancel(job_id, "why", T0) is None
    assert noop.retry(job_id, T0) is None
    assert noop.delete_finished(FINISHED_STATES, at(1), 100) == 0


def test_recurring_tasks_are_accepted_and_never_fire(noop: Storage) -> None:
    record = RecurringRecord(
        name="nightly",
        cron_expression="@daily",
        timezone="UTC",
        worker="app.reports",
        function="build",
        args=(),
        options={},
        next_fire_at=at(60),
    )
    noop.upsert_recurring(record)
    assert noop.get_recurring("nightly") is None
    assert noop.list_recurring() == []
    assert noop.fire_recurring(record, at(60), new_job(), at(120), at(61)) is None
    assert noop.advance_recurring(record, at(120)) is False
    assert noop.delete_recurring("nightly") is False


def test_runtimes_and_close_are_harmless(noop: Storage) -> None:
    noop.register_runtime(RuntimeInfo(id=RUNTIME, pid=1, hostname="h", started_at=T0))
    assert noop.rescue_orphans(T0) == []
    noop.unregister_runtime(RUNTIME)
    noop.close()
    noop.close()
