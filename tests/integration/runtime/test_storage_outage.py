"""A storage outage (a full disk, a store refusing writes) is ridden out, never crashed on."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import burro
from burro.errors import StorageError
from burro.states import TaskState
from burro.testing import ManualClock, drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory, wait_until
from tests.integration.storage.test_lmdb_faults import in_private_mount

#: The storage writes the runtime's actors make (an enqueue, ``insert``, still works).
RUNTIME_WRITES = (
    "claim",
    "settle",
    "settle_and_claim",
    "release",
    "promote",
    "rescue_orphans",
    "delete_finished",
)


class Outage:
    """Makes the runtime's storage writes fail while it is on, as a full disk would."""

    def __init__(self, manager: burro.BackgroundTaskManager, monkeypatch: Any) -> None:
        self.on = threading.Event()
        self.failures = 0
        storage = manager._storage
        for name in RUNTIME_WRITES:
            monkeypatch.setattr(storage, name, self._failing(getattr(storage, name)))

    def _failing(self, write: Any) -> Any:
        def failing(*args: Any, **kwargs: Any) -> Any:
            if self.on.is_set():
                self.failures += 1
                raise StorageError("/data: MDB_MAP_FULL (no space left on device)")
            return write(*args, **kwargs)

        return failing


def restarts(tree: dict[str, Any]) -> int:
    """Restarts of every actor and supervisor in ``supervision_tree()``."""
    return int(tree["restarts"]) + sum(restarts(child) for child in tree["children"])


@pytest.fixture
def errors_logged() -> Iterator[list[logging.LogRecord]]:
    """ERROR records of the ``burro`` loggers."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.ERROR)
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("burro")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


def test_an_outage_while_jobs_run_is_ridden_out_and_every_job_runs_once(
    start_manager: Factory,
    recorder: workers.Recorder,
    monkeypatch: pytest.MonkeyPatch,
    errors_logged: list[logging.LogRecord],
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 2}})
    outage = Outage(manager, monkeypatch)
    running = manager.enqueue_task(workers.blocks, args=["running"])
    assert recorder.started.wait(10)
    outage.on.set()
    recorder.gate.set()  # the running job returns: its outcome cannot be stored yet
    waiting = [manager.enqueue_task(workers.record, args=[n]) for n in range(5)]
    wait_until(lambda: outage.failures >= 3 and manager.health()["status"] == "degraded")
    problems = manager.health()["problems"]
    assert any("storage failing" in problem for problem in problems), problems
    assert recorder.runs["running"] == 1
    assert manager.get_task_status(running).status is TaskState.RUNNING  # its slot is held

    outage.on.clear()
    drain(manager)
    assert manager.health()["status"] == "ok"
    assert manager.get_task_status(running).status is TaskState.COMPLETED
    assert manager.get_task_status(running).attempts == 1  # stored, not rescued and rerun
    assert all(manager.get_task_status(i).status is TaskState.COMPLETED for i in waiting)
    assert recorder.runs["running"] == 1
    assert all(recorder.runs[n] == 1 for n in range(5))
    assert restarts(manager.supervision_tree()) == 0  # no actor crashed on it
    outage_errors = [r for r in errors_logged if "storage is failing" in r.getMessage()]
    assert len(outage_errors) == 1  # one ERROR when it starts, not one per retry


def test_the_scheduler_rides_out_an_outage_and_promotes_once_storage_is_back(
    start_manager: Factory,
    recorder: workers.Recorder,
    clock: ManualClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = start_manager(clock=clock)
    outage = Outage(manager, monkeypatch)
    task_id = manager.schedule_task(workers.record, "record", ["later"], scheduled_at=60)
    outage.on.set()
    clock.advance(61)  # due now, but the promotion fails
    wait_until(lambda: outage.failures >= 1)
    clock.advance(10)  # the scheduler tries again, and fails again
    wait_until(lambda: outage.failures >= 2)
    assert manager.get_task_status(task_id).status is TaskState.SCHEDULED

    outage.on.clear()
    clock.advance(10)
    recorder.wait_for(lambda: recorder.runs["later"] == 1)
    drain(manager)
    assert manager.get_task_status(task_id).status is TaskState.COMPLETED
    assert restarts(manager.supervision_tree()) == 0


def test_stop_during_an_outage_returns_and_the_next_start_runs_the_held_job(
    start_manager: Factory, recorder: workers.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    outage = Outage(manager, monkeypatch)
    task_id = manager.enqueue_task(workers.blocks, args=["held"])
    assert recorder.started.wait(10)
    outage.on.set()
    recorder.gate.set()
    wait_until(lambda: outage.failures >= 1)
    manager.stop(timeout=0.2)  # neither the outcome nor the release can be stored
    assert not manager.running

    again = start_manager(queues={"default": {"concurrency": 1}})
    drain(again)
    status = again.get_task_status(task_id)
    assert status.status is TaskState.COMPLETED
    assert recorder.runs["held"] == 2  # at least once: its outcome was never stored


@pytest.mark.slow
def test_a_runtime_on_a_full_disk_degrades_and_recovers_once_the_disk_has_room(
    tmp_path: Path,
) -> None:
    """For real: a tmpfs fills up under a running runtime, then is remounted larger."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    prefix = in_private_mount(f"mount -t tmpfs -o size=20m tmpfs {mount_point}")
    command = [sys.executable, "-m", "tests.integration.runtime.full_disk_child"]
    child = subprocess.run(
        [*prefix, *command, str(mount_point / "data")],
        capture_output=True,
        text=True,
        timeout=50,
        check=True,
    )
    report = json.loads(child.stdout.splitlines()[-1])
    assert "no space left on device" in report["full"].lower()
    assert report["degraded"] is True  # the queue's claims failed: reported, not crashed on
    assert any("storage failing" in problem for problem in report["problems"])
    assert report["health"] == "ok"
    assert report["states"] == ["completed"]  # every job ran once the disk had room
    assert report["restarts"] == 0
