"""Start, stop, the disabled and in-memory modes, and what a runtime says about itself."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path

import pykka
import pytest

import burro
from burro.states import TaskState
from burro.testing import drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory, wait_until


def test_context_manager_stops_the_runtime(tmp_path: Path, recorder: workers.Recorder) -> None:
    with burro.start(data_dir=tmp_path, durability="process") as manager:
        task_id = manager.enqueue_task(workers.add, args=[1, 2])
        drain(manager)
    assert not manager.running
    with burro.start(data_dir=tmp_path) as again:
        assert again.get_task_status(task_id).result == 3


def test_graceful_stop_lets_running_jobs_finish(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    task_id = manager.enqueue_task(workers.blocks, args=["finishing"])
    assert recorder.started.wait(10)
    stopper = threading.Thread(target=manager.stop, kwargs={"timeout": 10})
    stopper.start()
    wait_until(lambda: not manager.running)
    assert stopper.is_alive()  # stop() is waiting for the running job
    recorder.gate.set()
    stopper.join(10)
    assert not stopper.is_alive()
    with burro.start(data_dir=manager.config.data_dir) as reader:
        assert reader.get_task_status(task_id).status is TaskState.COMPLETED


def test_stop_timeout_releases_running_jobs_back_to_pending(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    task_id = manager.enqueue_task(workers.blocks, args=["slow"])
    assert recorder.started.wait(10)
    manager.stop(timeout=0.2)
    recorder.gate.set()  # the abandoned run ends; its outcome must not overwrite the release
    recorder.wait_for(lambda: recorder.active == 0)
    with burro.connect(data_dir=manager.config.data_dir) as inspector:
        status = inspector.get_task_status(task_id)
    assert status.status is TaskState.PENDING
    assert status.attempts == 0  # a shutdown gives the attempt back
    manager2 = start_manager(data_dir=manager.config.data_dir)
    drain(manager2)
    assert manager2.get_task_status(task_id).status is TaskState.COMPLETED
    assert recorder.runs["slow"] == 2


@pytest.mark.parametrize("overrides", [{"enabled": False}, {"backend": "noop"}])
def test_disabled_runtime_accepts_and_drops_jobs_with_one_warning(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    recorder: workers.Recorder,
    overrides: dict[str, object],
) -> None:
    with caplog.at_level(logging.WARNING, logger="burro"):
        manager = burro.start(data_dir=tmp_path / "never", **overrides)
    try:
        task_id = manager.enqueue_task(workers.record, args=[1])
        assert isinstance(task_id, str) and task_id
        with pytest.raises(burro.TaskNotFound):
            manager.get_task_status(task_id)
        assert manager.get_statistics()["workers_summary"]["total_busy"] == 0
        with pytest.raises(burro.InvalidTaskError):
            manager.enqueue_task(workers.not_marked, args=[1])  # still validated
        # What app code does with the ids and names it got back works too, doing nothing.
        manager.cancel_task(task_id)
        manager.retry_task(task_id)
        name = manager.schedule_recurring_task("nightly", workers.record, "record", [1], "@daily")
        manager.cancel_recurring_task(name)
        manager.pause_queue("default")
        manager.resume_queue("default")
        manager.scale_queue("default", 3)
        with pytest.raises(burro.InvalidTaskError, match="unknown queue"):
            manager.pause_queue("nope")
        drain(manager)  # nothing to wait for
    finally:
        manager.stop()
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "disabled" in warnings[0].getMessage()
    assert not (tmp_path / "never").exists()
    assert recorder.calls == []


def test_memory_backend_runs_jobs_and_writes_nothing(
    tmp_path: Path, recorder: workers.Recorder
) -> None:
    with burro.start(backend="memory", data_dir=tmp_path / "unused") as manager:
        task_id = manager.enqueue_task(workers.add, args=[20, 22])
        drain(manager)
        assert manager.get_task_status(task_id).result == 42
    assert not (tmp_path / "unused").exists()


def test_statistics_health_tree_and_listing(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 2}, "emails": {"concurrency": 1}})
    done = [manager.enqueue_task(workers.add, args=[i, i]) for i in range(3)]
    manager.enqueue_task(workers.always_fails, args=["f"], max_attempts=1, queue="emails")
    drain(manager)
    stats = manager.get_statistics()
    assert stats["queues"]["default"]["completed"] == 3
    assert stats["queues"]["emails"]["discarded"] == 1
    assert stats["queues"]["emails"]["failed_today"] == 1
    assert set(stats["queues"]["default"]) == {s.value for s in TaskState} | {"failed_today"}
    assert stats["workers_summary"] == {"total_busy": 0, "total_idle": 3}

    assert manager.health()["status"] == "ok"
    tree = manager.supervision_tree()
    assert tree["name"] == "burro" and tree["alive"] is True
    names = {child["name"] for child in tree["children"]}
    assert names == {
        "QueueSupervisor:default",
        "QueueSupervisor:emails",
        "SchedulerActor",
        "CleanupActor",
    }

    page, pagination = manager.list_tasks(status="completed", per_page=2, page=2)
    assert pagination.total_entries == 3 and pagination.total_pages == 2
    assert [t.id for t in page] == done[2:]
    newest, _ = manager.list_tasks(status=["completed"], descending=True, per_page=1)
    assert newest[0].id == done[-1]
    failed, _ = manager.list_tasks(status=[TaskState.DISCARDED], queue="emails")
    assert failed[0].last_error is not None


def test_cleanup_old_tasks_removes_finished_only(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    manager.enqueue_task(workers.add, args=[1, 1])
    drain(manager)
    manager.pause_queue("default")
    pending = manager.enqueue_task(workers.add, args=[2, 2])
    assert manager.cleanup_old_tasks(retention_days_completed=0, retention_days_failed=0) == 1
    assert manager.get_task_status(pending).status is TaskState.PENDING
    assert manager.get_statistics()["queues"]["default"]["completed"] == 0


def test_second_stop_cuts_the_grace_period_short(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    task_id = manager.enqueue_task(workers.blocks, args=["stuck"])
    assert recorder.started.wait(10)
    stopper = threading.Thread(target=manager.stop, kwargs={"timeout": 60})
    stopper.start()
    wait_until(lambda: not manager.running)
    manager.stop(timeout=0)  # the second Ctrl-C: returns at once
    stopper.join(10)
    assert not stopper.is_alive()  # the first stop gave up waiting for the job
    with burro.connect(data_dir=manager.config.data_dir) as inspector:
        assert inspector.get_task_status(task_id).status is TaskState.PENDING


def test_start_on_an_unusable_data_directory_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.raises(burro.StorageError, match="a-file"):
        burro.start(data_dir=blocker / "data")
    assert pykka.ActorRegistry.get_all() == []  # nothing half-started


def test_start_creates_a_missing_data_directory(tmp_path: Path, recorder: workers.Recorder) -> None:
    data = tmp_path / "not" / "yet" / "there"
    with burro.start(data_dir=data, durability="process") as manager:
        task_id = manager.enqueue_task(workers.add, args=[1, 1])
        drain(manager)
        assert manager.get_task_status(task_id).result == 2
    assert data.is_dir()


def test_the_longest_intervals_and_retry_cap_the_config_accepts_run(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    longest = threading.TIMEOUT_MAX  # the config's bound for seconds
    manager = start_manager(
        poll_interval_seconds=longest,
        max_retry_delay_seconds=longest,
        cleanup={"interval_seconds": longest},
    )
    failing = manager.enqueue_task(workers.always_fails, args=[1], retry_delay_seconds=longest)
    added = manager.enqueue_task(workers.add, args=[1, 2])

    wait_until(lambda: manager.get_task_status(failing).status is TaskState.RETRYABLE)
    wait_until(lambda: manager.get_task_status(added).status is TaskState.COMPLETED)
    status = manager.get_task_status(failing)
    assert status.attempted_at is not None
    assert status.scheduled_at - status.attempted_at >= timedelta(seconds=longest)
    assert manager.health()["status"] == "ok"


def test_stop_without_a_timeout_waits_for_the_running_job(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.blocks, args=["long"])
    assert recorder.started.wait(10)
    stopper = threading.Thread(target=manager.stop, kwargs={"timeout": None})
    stopper.start()
    wait_until(lambda: not manager.running)
    recorder.gate.set()  # the job finishes however long it took; stop then returns
    stopper.join(10)
    assert not stopper.is_alive()
    with burro.connect(data_dir=manager.config.data_dir) as reader:
        assert reader.get_task_status(task_id).status is TaskState.COMPLETED


@pytest.mark.parametrize("timeout", [-1, float("nan"), "30", True])
def test_a_bad_stop_timeout_is_refused_and_the_runtime_keeps_running(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder, timeout: object
) -> None:
    with pytest.raises(burro.ConfigError, match="stop timeout"):
        manager.stop(timeout=timeout)  # type: ignore[arg-type]
    assert manager.running
    manager.enqueue_task(workers.record, args=["still running"])
    recorder.wait_for(lambda: recorder.runs["still running"] == 1)


def test_a_call_meeting_a_concurrent_stop_raises_runtime_not_running(
    manager: burro.BackgroundTaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage = manager._storage
    entered, closed = threading.Event(), threading.Event()
    real_get = storage.get

    def get_once_the_store_closes(task_id: str) -> object:
        entered.set()
        assert closed.wait(10)
        return real_get(task_id)

    monkeypatch.setattr(storage, "get", get_once_the_store_closes)
    outcome: list[BaseException] = []

    def read() -> None:
        try:
            manager.get_task_status("0000000000000001")
        except BaseException as error:
            outcome.append(error)

    reader = threading.Thread(target=read)
    reader.start()
    assert entered.wait(10)  # the call passed its running check
    manager.stop(timeout=5)  # and the store closes under it
    closed.set()
    reader.join(10)
    assert len(outcome) == 1
    assert isinstance(outcome[0], burro.RuntimeNotRunning), outcome


def test_queue_controls_of_a_connect_manager_say_it_runs_no_queues(tmp_path: Path) -> None:
    with (
        burro.connect(data_dir=tmp_path) as manager,
        pytest.raises(burro.RuntimeNotRunning, match="runs no queues"),
    ):
        manager.pause_queue("default")


def test_drain_waits_for_the_queues_this_runtime_runs_only(
    start_manager: Factory, recorder: workers.Recorder, tmp_path: Path
) -> None:
    manager = start_manager()
    with burro.connect(
        data_dir=tmp_path / "data", queues={"default": {}, "elsewhere": {}}
    ) as producer:
        producer.enqueue_task(workers.record, args=["not here"], queue="elsewhere")
    manager.enqueue_task(workers.record, args=["here"])
    drain(manager)  # returns, although no runtime here runs "elsewhere"
    assert recorder.runs["here"] == 1
    with pytest.raises(LookupError, match="not run by this runtime"):
        drain(manager, queue="elsewhere")


def test_drain_of_a_stopped_runtime_raises_runtime_not_running(
    manager: burro.BackgroundTaskManager,
) -> None:
    manager.stop(timeout=5)
    with pytest.raises(burro.RuntimeNotRunning):
        drain(manager)
