"""Priorities, the concurrency limit, timeouts, cancellation and queue controls."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

import burro
from burro.actors._hub import QueueHub
from burro.testing import actor_ref, drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory


def test_priority_then_time_then_insertion_order_on_a_single_worker(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    manager.pause_queue("default")
    for value, priority in [("p2-a", 2), ("p0-a", 0), ("p1-a", 1), ("p0-b", 0), ("p2-b", 2)]:
        manager.enqueue_task(workers.record, args=[value], priority=priority)
    manager.resume_queue("default")
    drain(manager)
    assert [v for _, v in recorder.calls] == ["p0-a", "p0-b", "p1-a", "p2-a", "p2-b"]


def test_concurrency_limit_is_never_exceeded(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 3}})
    for i in range(10):
        manager.enqueue_task(workers.blocks, args=[i])
    recorder.wait_for(lambda: recorder.active == 3)
    assert manager.get_statistics()["queues"]["default"]["running"] == 3
    assert manager.get_statistics()["workers_summary"] == {"total_busy": 3, "total_idle": 0}
    recorder.gate.set()
    drain(manager)
    assert recorder.max_active == 3
    assert manager.get_statistics()["queues"]["default"]["completed"] == 10


def test_queues_have_their_own_concurrency(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}, "media": {"concurrency": 2}})
    for i in range(3):
        manager.enqueue_task(workers.blocks, args=[f"media-{i}"], queue="media")
    recorder.wait_for(lambda: recorder.active == 2)
    manager.enqueue_task(workers.record, args=["default still runs"])
    recorder.wait_for(lambda: recorder.runs["default still runs"] == 1)
    assert recorder.active == 2
    recorder.gate.set()
    drain(manager)
    assert recorder.max_active == 2


def test_timeout_fails_the_attempt_and_frees_the_slot_at_once(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    stuck = manager.enqueue_task(
        workers.blocks, args=["stuck"], timeout_seconds=0.2, max_attempts=1
    )
    after = manager.enqueue_task(workers.record, args=["after"])
    recorder.wait_for(lambda: recorder.runs["after"] == 1)  # the only slot was freed
    status = manager.get_task_status(stuck)
    assert status.status is burro.TaskState.DISCARDED
    assert (status.last_error or "").startswith("TimeoutError")
    drain(manager)
    assert manager.get_task_status(after).status is burro.TaskState.COMPLETED
    health = manager.health()
    assert health["abandoned_threads"] == 1
    assert health["status"] == "degraded"
    recorder.gate.set()


def test_timeout_is_retried_like_any_failure(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    task_id = manager.enqueue_task(
        workers.blocks, args=["t"], timeout_seconds=0.1, retry_delay_seconds=3600
    )
    recorder.wait_for(lambda: recorder.runs["t"] == 1)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.RETRYABLE
    assert "timeout_seconds=0.1" in (status.last_error or "")
    recorder.gate.set()


def test_cancel_pending_task_never_runs(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    manager.pause_queue("default")
    task_id = manager.enqueue_task(workers.record, args=["never"])
    manager.cancel_task(task_id, reason="changed my mind")
    manager.resume_queue("default")
    drain(manager)
    status = manager.get_task_status(task_id)
    assert (status.status, status.cancel_reason) == (burro.TaskState.CANCELLED, "changed my mind")
    assert recorder.calls == []


def test_a_retried_task_forgets_why_it_was_cancelled(manager: burro.BackgroundTaskManager) -> None:
    manager.pause_queue("default")
    task_id = manager.enqueue_task(workers.record, args=["later"])
    manager.cancel_task(task_id, reason="wrong customer")
    manager.retry_task(task_id)
    status = manager.get_task_status(task_id)
    assert (status.status, status.cancel_reason) == (burro.TaskState.PENDING, None)


def test_cancel_running_task_is_cooperative(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.cooperative, args=["c"])
    assert recorder.started.wait(10)
    manager.cancel_task(task_id)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.CANCELLED
    assert status.result is None


def test_running_task_that_ignores_cancel_ends_cancelled_not_completed(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.blocks, args=["ignores"])
    assert recorder.started.wait(10)
    manager.cancel_task(task_id)
    recorder.gate.set()
    drain(manager)
    assert manager.get_task_status(task_id).status is burro.TaskState.CANCELLED


def test_cancel_of_finished_task_changes_nothing(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.add, args=[1, 2])
    drain(manager)
    manager.cancel_task(task_id)
    assert manager.get_task_status(task_id).status is burro.TaskState.COMPLETED


def test_cancel_and_status_of_unknown_task_raise_task_not_found(
    manager: burro.BackgroundTaskManager,
) -> None:
    with pytest.raises(burro.TaskNotFound):
        manager.cancel_task("nope")
    with pytest.raises(burro.TaskNotFound):
        manager.get_task_status("nope")
    with pytest.raises(burro.TaskNotFound):
        manager.retry_task("nope")


def test_paused_queue_claims_nothing_and_running_jobs_finish(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    running = manager.enqueue_task(workers.blocks, args=["running"])
    assert recorder.started.wait(10)
    manager.pause_queue("default")
    waiting = manager.enqueue_task(workers.record, args=["waiting"])
    recorder.gate.set()
    recorder.wait_for(lambda: recorder.active == 0)
    drain_error = None
    try:
        drain(manager, timeout=0.3)
    except TimeoutError as exc:  # a paused queue keeps its pending job
        drain_error = exc
    assert drain_error is not None
    assert manager.get_task_status(waiting).status is burro.TaskState.PENDING
    manager.resume_queue("default")
    drain(manager)
    assert manager.get_task_status(running).status is burro.TaskState.COMPLETED
    assert manager.get_task_status(waiting).status is burro.TaskState.COMPLETED


def test_scale_queue_up_and_down(start_manager: Factory, recorder: workers.Recorder) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    manager.scale_queue("default", 3)
    for i in range(6):
        manager.enqueue_task(workers.blocks, args=[i])
    recorder.wait_for(lambda: recorder.active == 3)
    recorder.gate.set()
    drain(manager)
    manager.scale_queue("default", 1)
    assert manager.health()["queues"]["default"]["concurrency"] == 1
    recorder.gate.clear()
    recorder.max_active = 0
    for i in range(3):
        manager.enqueue_task(workers.blocks, args=[f"again-{i}"])
    recorder.wait_for(lambda: recorder.active == 1)
    recorder.gate.set()
    drain(manager)
    assert recorder.max_active == 1


def test_a_worker_that_fails_to_start_leaves_the_queue_as_it_was(
    start_manager: Factory, recorder: workers.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    from burro.supervision import runtime_tree

    manager = start_manager(queues={"default": {"concurrency": 1}})
    real_spec = runtime_tree.worker_spec

    def spec_failing_at_slot_3(context: Any, queue: str, index: int) -> Any:
        spec = real_spec(context, queue, index)
        if index == 3:
            return replace(spec, start=_no_thread)
        return spec

    monkeypatch.setattr(runtime_tree, "worker_spec", spec_failing_at_slot_3)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        manager.scale_queue("default", 5)
    assert manager.health()["queues"]["default"]["concurrency"] == 1
    assert _worker_ids(manager.supervision_tree()) == ["WorkerActor:default:0"]
    monkeypatch.setattr(runtime_tree, "worker_spec", real_spec)
    manager.scale_queue("default", 2)  # the slots of the failed attempt are free again
    assert _worker_ids(manager.supervision_tree()) == [
        "WorkerActor:default:0",
        "WorkerActor:default:1",
    ]
    for i in range(2):
        manager.enqueue_task(workers.blocks, args=[i])
    recorder.wait_for(lambda: recorder.active == 2)
    recorder.gate.set()
    drain(manager)


def _no_thread() -> Any:
    raise RuntimeError("can't start new thread")


def _worker_ids(node: dict[str, Any]) -> list[str]:
    own = [node["name"]] if str(node["name"]).startswith("WorkerActor:") else []
    return own + [name for child in node["children"] for name in _worker_ids(child)]


def caught_up(manager: burro.BackgroundTaskManager) -> None:
    """Return once the QueueActor has handled every wake sent to it so far."""
    actor_ref(manager, "QueueActor:default").proxy().actor_urn.get(timeout=5)


def scaled_down_then_up_under_two_jobs(
    start_manager: Factory, recorder: workers.Recorder, *waiting: str
) -> tuple[burro.BackgroundTaskManager, list[str]]:
    """Concurrency 2, jobs ``first`` (slot 0) and ``second`` (slot 1) running, ``waiting``
    pending; then slot 1 is removed and taken over by a new worker. Every job is a
    ``blocks_alone`` job, run until its gate opens. The scheduler polls once an hour: a
    waiting job starts only if a freed slot wakes the QueueActor."""
    manager = start_manager(poll_interval_seconds=3600, queues={"default": {"concurrency": 2}})
    manager.pause_queue("default")
    ids = [
        manager.enqueue_task(workers.blocks_alone, args=[value])
        for value in ("first", "second", *waiting)
    ]
    manager.resume_queue("default")
    recorder.wait_for(lambda: recorder.runs["first"] == recorder.runs["second"] == 1)
    manager.scale_queue("default", 1)  # slot 1's job goes on running
    manager.scale_queue("default", 2)  # a new worker takes slot 1
    caught_up(manager)
    return manager, ids


def finish_all(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder, ids: list[str]
) -> None:
    """Open every gate; each job then completes once, on its first attempt."""
    recorder.open_gates()
    drain(manager)
    for task_id in ids:
        status = manager.get_task_status(task_id)
        assert (status.status, status.attempts) == (burro.TaskState.COMPLETED, 1)
    assert set(recorder.runs.values()) == {1}


def test_scaling_down_then_up_keeps_the_slot_busy_until_its_removed_job_finishes(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager, ids = scaled_down_then_up_under_two_jobs(start_manager, recorder, "third")
    first, second, third = ids
    assert manager.get_task_status(third).status is burro.TaskState.PENDING
    assert recorder.active == 2
    recorder.gate_of("second").set()  # slot 1's new worker may start now
    recorder.wait_for(lambda: recorder.runs["third"] == 1)
    assert manager.get_task_status(second).status is burro.TaskState.COMPLETED
    assert manager.get_task_status(first).status is burro.TaskState.RUNNING
    finish_all(manager, recorder, ids)
    assert recorder.max_active == 2


def test_the_worker_removed_from_a_slot_claims_no_job_for_it(
    start_manager: Factory, recorder: workers.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Jobs are waiting when the removed worker's job finishes: it leaves them to the
    slot's new worker instead of claiming one for the slot and giving it back."""
    handovers: list[bool] = []
    freed: list[str] = []
    real_replace, real_free = QueueHub.replace, QueueHub.free

    def recorded_replace(hub: QueueHub, index: int, finished: str, claimed: str) -> bool:
        handovers.append(real_replace(hub, index, finished, claimed))
        return handovers[-1]

    def recorded_free(hub: QueueHub, index: int, job_id: str) -> bool:
        result = real_free(hub, index, job_id)
        with recorder.lock:
            freed.append(job_id)
            recorder.lock.notify_all()
        return result

    monkeypatch.setattr(QueueHub, "replace", recorded_replace)
    monkeypatch.setattr(QueueHub, "free", recorded_free)
    manager, ids = scaled_down_then_up_under_two_jobs(start_manager, recorder, "third", "fourth")
    second = ids[1]
    recorder.gate_of("second").set()
    recorder.wait_for(lambda: second in freed)  # the removed worker is done with its slot
    assert False not in handovers  # it claimed no job it then had to give back
    finish_all(manager, recorder, ids)


@pytest.mark.parametrize("reason", [object(), 42])
def test_cancel_with_a_reason_that_is_not_text_is_refused_and_changes_nothing(
    manager: burro.BackgroundTaskManager, reason: object
) -> None:
    task_id = manager.schedule_task(workers.record, "record", ["later"], 3600)
    with pytest.raises(burro.InvalidTaskError, match="reason"):
        manager.cancel_task(task_id, reason=reason)  # type: ignore[arg-type]
    assert manager.get_task_status(task_id).status is burro.TaskState.SCHEDULED
