"""LMDB listings, page by page, against the in-memory store given the same history.

Listing reads different indexes depending on the filter and the order (insertion, the
time index of waiting or finished jobs, or one pass over the records); every path must
give exactly the memory store's pages and totals.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import product
from pathlib import Path

import pytest

from burro.states import FINISHED_STATES, TaskState
from burro.storage import Complete, Fail, JobFilter, NewJob, Storage
from burro.storage.lmdb import LmdbStorage
from burro.storage.memory import MemoryStorage

T0 = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
QUEUES = ("alpha", "beta", "q" * 300)  # the last one is too long to be a key verbatim
WORKERS = ("app.one", "app.two")
STATE_SETS = [
    None,
    frozenset({TaskState.PENDING}),
    frozenset({TaskState.SCHEDULED, TaskState.RETRYABLE}),
    frozenset({TaskState.SCHEDULED, TaskState.PENDING, TaskState.RETRYABLE}),
    frozenset({TaskState.RUNNING}),
    FINISHED_STATES,
    frozenset({TaskState.COMPLETED, TaskState.PENDING}),
]
SORTS = ("inserted_at", "scheduled_at", "priority", "attempted_at", "completed_at")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def play(stores: list[Storage], seed: int) -> None:
    """The same random history of inserts, claims and settlements on every store."""
    rng = random.Random(seed)
    for step in range(160):
        now = at(step)
        action = rng.random()
        queue = rng.choice(QUEUES)
        if action < 0.55:
            job = NewJob(
                queue=queue,
                worker=rng.choice(WORKERS),
                function="run",
                args=(step,),
                priority=rng.randrange(3),
                scheduled_at=at(step + rng.choice((-30, 0, 0, 40))),
            )
            outcomes = {store.insert(job, now).id for store in stores}
            assert len(outcomes) == 1
        elif action < 0.8:
            limit = rng.randrange(1, 4)
            claims = [store.claim(queue, limit, "rt", now) for store in stores]
            assert len({tuple(job.id for job in claimed) for claimed in claims}) == 1
        else:
            settle_some(stores, rng, now)
        if step % 20 == 0:
            promoted = [store.promote(now, 5) for store in stores]
            assert all(counts == promoted[0] for counts in promoted)


def settle_some(stores: list[Storage], rng: random.Random, now: datetime) -> None:
    running, _ = stores[0].list_jobs(
        JobFilter(states=frozenset({TaskState.RUNNING})), offset=0, limit=3
    )
    settlements = [
        rng.choice(
            [
                Complete(job.id, "rt", job.attempts, result=job.args[0]),
                Fail(job.id, "rt", job.attempts, "boom", now + timedelta(seconds=30)),
                Fail(job.id, "rt", job.attempts, "boom", None),
            ]
        )
        for job in running
    ]
    for store in stores:
        store.settle(settlements, now)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Storage, Storage]]:
    lmdb_store = LmdbStorage(Path(tmp_path_factory.mktemp("listing")) / "store", "process")
    memory_store = MemoryStorage()
    play([lmdb_store, memory_store], seed=20300101)
    yield lmdb_store, memory_store
    lmdb_store.close()
    memory_store.close()


@pytest.mark.parametrize(
    "states", STATE_SETS, ids=lambda states: "any" if states is None else "+".join(sorted(states))
)
@pytest.mark.parametrize("sort_by", SORTS)
def test_every_page_matches_the_memory_store(
    stores: tuple[Storage, Storage], states: frozenset[TaskState] | None, sort_by: str
) -> None:
    lmdb_store, memory_store = stores
    for queue, worker, descending in product((None, *QUEUES), (None, *WORKERS), (False, True)):
        filters = JobFilter(states=states, queue=queue, worker=worker)
        for offset, limit in ((0, 1000), (0, 7), (5, 7), (40, 25)):
            pages = [
                store.list_jobs(
                    filters,
                    offset=offset,
                    limit=limit,
                    sort_by=sort_by,  # type: ignore[arg-type]
                    descending=descending,
                )
                for store in (lmdb_store, memory_store)
            ]
            ids = [([job.id for job in jobs], total) for jobs, total in pages]
            assert ids[0] == ids[1], (filters, sort_by, descending, offset, limit)


def test_counts_and_due_times_match_the_memory_store(stores: tuple[Storage, Storage]) -> None:
    lmdb_store, memory_store = stores
    assert lmdb_store.counts() == memory_store.counts()
    assert lmdb_store.next_due_at() == memory_store.next_due_at()
    assert lmdb_store.failed_today(at(100)) == memory_store.failed_today(at(100))
