"""Builders shared by the storage suites: jobs, times and jobs driven into a state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import lmdb

from burro.states import TaskState
from burro.storage import Complete, Fail, Job, NewJob, Storage

#: The moment every storage test starts from; tests move time with :func:`at`.
T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
RUNTIME = "runtime-a"
OTHER_RUNTIME = "runtime-b"


def at(seconds: float) -> datetime:
    """``seconds`` after :data:`T0`."""
    return T0 + timedelta(seconds=seconds)


def new_job(**fields: Any) -> NewJob:
    """A job for the ``default`` queue with test defaults, overridden by ``fields``."""
    defaults: dict[str, Any] = {
        "queue": "default",
        "worker": "tests.workers",
        "function": "perform",
        "args": (1,),
    }
    return NewJob(**{**defaults, **fields})


def insert(storage: Storage, now: datetime = T0, **fields: Any) -> str:
    """Insert a new job and return its id."""
    inserted = storage.insert(new_job(**fields), now)
    assert inserted.created
    return inserted.id


def claim_only(storage: Storage, job_id: str, now: datetime = T0, runtime: str = RUNTIME) -> Job:
    """Claim ``job_id``, which must be the next ready job of its queue."""
    job = storage.get(job_id)
    assert job is not None
    claimed = storage.claim(job.queue, 1, runtime, now)
    assert [c.id for c in claimed] == [job_id]
    return claimed[0]


def job_in(storage: Storage, state: TaskState, now: datetime = T0, **fields: Any) -> str:
    """A new job driven into ``state`` at ``now`` (the queue must have no other ready job)."""
    if state is TaskState.SCHEDULED:
        return insert(storage, now, scheduled_at=now + timedelta(hours=1), **fields)
    job_id = insert(storage, now, **fields)
    if state is TaskState.PENDING:
        return job_id
    if state is TaskState.CANCELLED:
        storage.cancel(job_id, "not needed", now)
        return job_id
    running = claim_only(storage, job_id, now)
    settlement = {
        TaskState.RUNNING: None,
        TaskState.COMPLETED: Complete(job_id, RUNTIME, running.attempts, result="done"),
        TaskState.RETRYABLE: Fail(
            job_id, RUNTIME, running.attempts, "boom", retry_at=now + timedelta(minutes=5)
        ),
        TaskState.DISCARDED: Fail(job_id, RUNTIME, running.attempts, "boom", retry_at=None),
    }[state]
    if settlement is not None:
        storage.settle([settlement], now)
    return job_id


def state_of(storage: Storage, job_id: str) -> TaskState:
    """The current state of a stored job."""
    job = storage.get(job_id)
    assert job is not None
    return job.state


def queue_counts(storage: Storage, queue: str = "default") -> dict[TaskState, int]:
    """The counts of one queue, all zeros when the backend lists no such queue."""
    return storage.counts().get(queue, dict.fromkeys(TaskState, 0))


def expected_counts(**by_state: int) -> dict[TaskState, int]:
    """Every state at zero except those given by name."""
    counts = dict.fromkeys(TaskState, 0)
    counts.update({TaskState(name): n for name, n in by_state.items()})
    return counts


def dump_store(path: Path) -> dict[bytes, list[tuple[bytes, bytes]]]:
    """Every entry of every named database of the store at ``path``."""
    env = lmdb.open(str(path), readonly=True, lock=False, max_dbs=64, subdir=True)
    try:
        with env.begin() as txn:
            names = [name for name, _ in txn.cursor()]
        contents = {}
        for name in names:
            db = env.open_db(name, create=False)
            with env.begin(db=db) as txn:
                contents[name] = list(txn.cursor())
        return contents
    finally:
        env.close()
