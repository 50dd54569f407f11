"""Several processes on one LMDB data directory: claims, uniqueness, liveness, rescue."""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from burro.states import TaskState
from burro.storage import Complete, NewJob, RuntimeInfo
from burro.storage.lmdb import LmdbStorage
from tests.integration.storage.conftest import Child

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.slow


@pytest.fixture
def store(store_dir: Path) -> Iterator[LmdbStorage]:
    storage = LmdbStorage(store_dir, durability="process")
    yield storage
    storage.close()


def fill(store: LmdbStorage, count: int) -> list[str]:
    jobs = [NewJob(queue="default", worker="w", function="f", args=(n,)) for n in range(count)]
    return [inserted.id for inserted in store.insert_many(jobs, NOW)]


def runtime(runtime_id: str) -> RuntimeInfo:
    return RuntimeInfo(
        id=runtime_id, pid=os.getpid(), hostname=socket.gethostname(), started_at=NOW
    )


def test_two_processes_claiming_together_take_each_job_once(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    job_ids = fill(store, 1500)
    children = [spawn("claim", str(store_dir), f"rt-{n}") for n in range(2)]
    for child in children:
        assert child.read() == "ready"
    for child in children:
        child.send("go")
    # Both hold a first batch before either goes on, so the rest is claimed by two
    # writers at once however fast the first one runs.
    for child in children:
        assert child.read() == "first"
    for child in children:
        child.send("go")
    claimed = [child.read() for child in children]
    assert all(child.finish() == 0 for child in children)
    every_claim = claimed[0] + claimed[1]
    assert sorted(every_claim) == sorted(job_ids)
    assert all(claimed), "both processes should have claimed some jobs"
    assert store.counts()["default"][TaskState.RUNNING] == 1500


def test_two_processes_inserting_one_unique_job_store_it_once(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    children = [spawn("unique", str(store_dir), f"rt-{n}") for n in range(2)]
    for child in children:
        assert child.read() == "ready"
    for child in children:
        child.send("go")
    assert sum(child.read() for child in children) == 1
    assert store.counts()["unique"][TaskState.PENDING] == 1


def test_a_killed_runtime_is_found_dead_and_its_claims_rescued(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    fill(store, 5)
    child = spawn("hold", str(store_dir), "doomed")
    held = child.read()
    assert len(held) == 3
    assert store.rescue_orphans(NOW) == []
    os.kill(child.process.pid, signal.SIGKILL)
    assert child.process.wait(timeout=10) == -signal.SIGKILL
    rescued = store.rescue_orphans(NOW)
    assert sorted(job.id for job in rescued) == sorted(held)
    assert all(job.state is TaskState.PENDING and job.attempts == 1 for job in rescued)
    assert [info.id for info in store.runtimes()] == []
    assert not (store_dir / "runtimes" / "doomed.lock").exists()


def test_a_live_runtime_in_another_process_keeps_its_claims(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    fill(store, 5)
    child = spawn("hold", str(store_dir), "alive")
    held = child.read()
    for _ in range(3):
        assert store.rescue_orphans(NOW) == []
    assert {store.get(job_id).state for job_id in held} == {TaskState.RUNNING}  # type: ignore[union-attr]
    assert [info.id for info in store.runtimes()] == ["alive"]
    assert child.finish() == 0
    assert [info.id for info in store.runtimes()] == []


def test_a_live_runtime_of_another_store_object_in_this_process_keeps_its_claims(
    store: LmdbStorage, store_dir: Path
) -> None:
    fill(store, 4)
    other = LmdbStorage(store_dir, durability="process")
    try:
        other.register_runtime(runtime("neighbour"))
        held = [job.id for job in other.claim("default", 2, "neighbour", NOW)]
        assert store.rescue_orphans(NOW) == []
        store.claim("default", 1, "never-registered", NOW)
        (rescued,) = store.rescue_orphans(NOW)
        assert rescued.id not in held
    finally:
        other.close()
    # Closed without unregistering: its runtime is now as dead as a crashed one.
    assert sorted(job.id for job in store.rescue_orphans(NOW)) == sorted(held)


def test_a_runtime_id_held_elsewhere_cannot_be_registered_again(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    from burro.errors import StorageError

    fill(store, 3)
    child = spawn("hold", str(store_dir), "taken")
    child.read()
    with pytest.raises(StorageError, match="taken"):
        store.register_runtime(runtime("taken"))
    assert child.finish() == 0
    store.register_runtime(runtime("taken"))
    store.unregister_runtime("taken")


def test_a_map_grown_by_another_process_is_adopted(
    store_dir: Path, spawn: Callable[..., Child]
) -> None:
    small = LmdbStorage(store_dir, durability="process", map_size=1 << 20)
    try:
        fill(small, 10)
        child = spawn("fill", str(store_dir), "2000")
        filled = child.read()
        assert child.finish() == 0
        assert small.get(filled[-1]) is not None
        assert small.counts()["filled"][TaskState.PENDING] == 2000
        fill(small, 10)
        assert small.counts()["default"][TaskState.PENDING] == 20
    finally:
        small.close()


def test_counts_and_ids_stay_exact_when_another_process_writes_in_between(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    """A process trusts the counters it wrote itself only while nobody else has written."""
    mine = fill(store, 10)
    store.claim("default", 2, "rt-here", NOW)
    claimer = spawn("claim", str(store_dir), "rt-there")
    assert claimer.read() == "ready"
    claimer.send("go")
    assert claimer.read() == "first"
    claimer.send("go")
    assert len(claimer.read()) == 8
    assert claimer.finish() == 0
    filler = spawn("fill", str(store_dir), "5")
    theirs = filler.read()
    assert filler.finish() == 0
    later = fill(store, 3)
    store.claim("default", 1, "rt-here", NOW)
    assert len(set(mine + theirs + later)) == 18
    assert store.counts()["default"] == {
        **dict.fromkeys(TaskState, 0),
        TaskState.PENDING: 2,
        TaskState.RUNNING: 11,
    }
    assert store.counts()["filled"][TaskState.PENDING] == 5


def test_opening_with_a_smaller_map_never_cuts_another_process_short(
    store_dir: Path, spawn: Callable[..., Child]
) -> None:
    """LMDB sizes the data file to each map: a smaller one must not truncate a larger one's."""
    grower = spawn("grow", str(store_dir))
    assert grower.read() == "ready"
    grown = (store_dir / "data.mdb").stat().st_size
    assert spawn("open", str(store_dir), str(1 << 20)).read() == "opened"
    assert (store_dir / "data.mdb").stat().st_size >= grown
    grower.send("go")
    stored = grower.read()  # the grower dies of SIGBUS if its map was cut short
    assert grower.finish() == 0
    reader = LmdbStorage(store_dir, durability="process", map_size=1 << 20)
    try:
        assert reader.counts()["grown"][TaskState.PENDING] == stored
    finally:
        reader.close()


def test_space_is_reused_after_a_process_is_killed_while_reading(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    """A reader killed mid-read must not pin its snapshot: the store would grow for ever."""
    fill(store, 200)
    reader = spawn("read", str(store_dir))
    assert reader.read() == "reading"
    os.kill(reader.process.pid, signal.SIGKILL)
    assert reader.process.wait(timeout=10) == -signal.SIGKILL
    store.rescue_orphans(NOW)  # what every runtime does on start and on each poll
    before = store._shared.env.info()["last_pgno"]
    for _ in range(40):
        assert len(store.claim("default", 200, "rt", NOW)) == 200
        store.release("rt", None, NOW, rescue=False)
    # Rewriting 200 jobs 40 times reuses freed pages; a pinned snapshot costs thousands.
    assert store._shared.env.info()["last_pgno"] < before + 1000


def test_a_cancel_from_another_process_between_claim_and_settlement_is_seen(
    store: LmdbStorage, store_dir: Path, spawn: Callable[..., Child]
) -> None:
    # This process keeps what its claim wrote for the settlement; the other process's
    # change to the record must win over that.
    (job_id,) = fill(store, 1)
    _, claimed = store.settle_and_claim([], {"default": 1}, "rt-a", NOW)
    assert [job.id for job in claimed["default"]] == [job_id]
    child = spawn("cancel", str(store_dir), job_id)
    assert child.read() == "running"
    assert child.finish() == 0
    (settled,), _ = store.settle_and_claim([Complete(job_id, "rt-a", 1)], {}, "rt-a", NOW)
    assert settled is not None
    assert settled.state is TaskState.CANCELLED
    assert settled.cancel_reason == "from another process"
    assert store.counts()["default"][TaskState.CANCELLED] == 1
