"""What the LMDB store keeps across a close and a reopen of its data directory."""

from __future__ import annotations

from pathlib import Path

from burro.states import TaskState
from burro.storage import (
    Complete,
    Fail,
    JobFilter,
    RecurringRecord,
    RuntimeInfo,
    Storage,
    open_storage,
)
from tests.unit.storage.factories import RUNTIME, T0, at, claim_only, insert, new_job

ALL = JobFilter()


def reopen(path: Path) -> Storage:
    return open_storage("lmdb", path, durability="fsync")


def nightly() -> RecurringRecord:
    return RecurringRecord(
        name="nightly",
        cron_expression="0 3 * * *",
        timezone="UTC",
        worker="app.reports",
        function="build",
        args=("daily",),
        options={"queue": "reports"},
        next_fire_at=at(60),
    )


def fill(storage: Storage) -> dict[str, str]:
    """Jobs in several states, a recurring task with one fire and a runtime's claim."""
    job_ids = {
        "scheduled": insert(storage, scheduled_at=at(600), queue="later"),
        "unique": insert(storage, queue="u", unique_key=b"k", unique_for_seconds=3600),
        "completed": insert(storage, queue="c"),
        "retryable": insert(storage, queue="r"),
        "crashed": insert(storage, queue="crash"),
    }
    claim_only(storage, job_ids["completed"])
    claim_only(storage, job_ids["retryable"])
    storage.settle(
        [
            Complete(job_ids["completed"], RUNTIME, 1, result={"ok": True}),
            Fail(job_ids["retryable"], RUNTIME, 1, "boom", at(30)),
        ],
        at(1),
    )
    storage.upsert_recurring(nightly())
    fired = storage.fire_recurring(nightly(), at(60), new_job(queue="reports"), at(120), at(61))
    assert fired is not None
    job_ids["fired"] = fired
    storage.register_runtime(RuntimeInfo(id="crashing", pid=1, hostname="h", started_at=T0))
    claim_only(storage, job_ids["crashed"], runtime="crashing")
    return job_ids


def test_everything_survives_a_reopen(tmp_path: Path) -> None:
    path = tmp_path / "store"
    storage = reopen(path)
    job_ids = fill(storage)
    jobs_before = storage.list_jobs(ALL, offset=0, limit=100)
    counts_before = storage.counts()
    failed_before = storage.failed_today(at(2))
    recurring_before = storage.list_recurring()
    storage.close()

    storage = reopen(path)
    try:
        assert storage.list_jobs(ALL, offset=0, limit=100) == jobs_before
        assert storage.counts() == counts_before
        assert storage.failed_today(at(2)) == failed_before
        assert storage.list_recurring() == recurring_before
        assert storage.next_due_at() == at(30)
        (current,) = storage.list_recurring()
        again = storage.fire_recurring(current, at(60), new_job(queue="reports"), at(120), at(62))
        assert again is None
        duplicate = storage.insert(
            new_job(queue="u", unique_key=b"k", unique_for_seconds=3600), at(5)
        )
        assert (duplicate.id, duplicate.created) == (job_ids["unique"], False)
        fresh = insert(storage, at(5))
        assert fresh not in job_ids.values()
    finally:
        storage.close()


def test_claims_of_a_runtime_that_closed_without_unregistering_are_rescued(
    tmp_path: Path,
) -> None:
    """A runtime whose store was closed (its process gone) is dead after a reopen."""
    path = tmp_path / "store"
    storage = reopen(path)
    job_ids = fill(storage)
    storage.close()

    storage = reopen(path)
    try:
        rescued = storage.rescue_orphans(at(10))
        assert [job.id for job in rescued] == [job_ids["crashed"]]
        assert rescued[0].state is TaskState.PENDING
        assert rescued[0].attempts == 1
    finally:
        storage.close()
