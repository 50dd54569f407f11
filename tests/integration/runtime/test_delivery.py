"""Delivery: jobs run, results are kept, failures retry with backoff and end in the DLQ."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

import burro
from burro.testing import ManualClock, drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory


def test_enqueued_job_runs_and_keeps_its_result(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.add, args=[2, 3])
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert status.result == 5
    assert status.attempts == 1
    assert status.completed_at is not None and status.completed_at.tzinfo is not None
    assert recorder.calls == [("add", (2, 3))]


def test_class_worker_method_runs_on_a_fresh_instance(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.Videos, "transcode", [7])
    drain(manager)
    assert manager.get_task_status(task_id).result == "video-7.mp4"


def test_worker_can_be_named_by_import_path(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task("tests.integration.runtime.workers", "add", [1, 1])
    class_id = manager.enqueue_task("tests.integration.runtime.workers:Videos", "transcode", [1])
    drain(manager)
    assert manager.get_task_status(task_id).result == 2
    assert manager.get_task_status(class_id).result == "video-1.mp4"


def test_unencodable_result_completes_with_no_result(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.unencodable_result)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert status.result is None


def test_failures_retry_with_exponential_backoff_then_dead_letter(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock, max_retry_delay_seconds=15)
    task_id = manager.enqueue_task(workers.always_fails, args=["x"])  # 3 attempts, 10 s base
    expected_delays = [10.0, 15.0]  # 10 * 2**0, then 10 * 2**1 = 20 capped at 15
    for attempt, delay in enumerate(expected_delays, start=1):
        drain(manager)
        status = manager.get_task_status(task_id)
        assert status.status is burro.TaskState.RETRYABLE
        assert status.attempts == attempt
        assert status.scheduled_at is not None and status.attempted_at is not None
        waited = (status.scheduled_at - status.attempted_at).total_seconds()
        assert delay <= waited <= delay * 1.1 + 1e-6  # up to 10 % jitter, within the cap
        clock.set(status.scheduled_at)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.DISCARDED
    assert status.attempts == 3
    assert [e["attempt"] for e in status.errors] == [1, 2, 3]
    assert all(e["at"].tzinfo is not None for e in status.errors)
    assert status.last_error is not None
    assert status.last_error.startswith("ValueError: hopeless x")
    assert "Traceback" in status.last_error
    assert recorder.runs["x"] == 3
    assert manager.get_statistics()["queues"]["default"]["discarded"] == 1


def test_retry_delay_is_capped_even_for_huge_attempt_numbers(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock, max_retry_delay_seconds=30)
    task_id = manager.enqueue_task(
        workers.always_fails, args=["cap"], max_attempts=2, retry_delay_seconds=1e9
    )
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.scheduled_at is not None and status.attempted_at is not None
    assert status.scheduled_at - status.attempted_at == timedelta(seconds=30)


def test_flaky_job_succeeds_after_failing_twice(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    task_id = manager.enqueue_task(workers.fails_then_succeeds, args=["sync", 2])
    for _ in range(2):
        drain(manager)
        status = manager.get_task_status(task_id)
        assert status.status is burro.TaskState.RETRYABLE
        assert status.scheduled_at is not None
        clock.set(status.scheduled_at)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert status.result == "synced"
    assert status.attempts == 3
    assert len(status.errors) == 2
    assert "ConnectionError: flaky sync" in (status.last_error or "")


@pytest.mark.parametrize(
    ("worker", "reason", "shown"),
    [
        (workers.returns_failure, "not today", "Failure: 'not today'"),
        (workers.returns_error_tuple, "nope", "error: 'nope'"),
    ],
)
def test_returning_a_failure_fails_the_attempt(
    start_manager: Factory,
    clock: ManualClock,
    recorder: workers.Recorder,
    worker: object,
    reason: str,
    shown: str,
) -> None:
    manager = start_manager(clock=clock)
    discarded: list[object] = []
    seen = threading.Event()
    manager.events.subscribe(
        "job.discarded", lambda _name, payload: (discarded.append(payload["error"]), seen.set())
    )
    task_id = manager.enqueue_task(worker, args=[1], max_attempts=1)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.DISCARDED
    assert reason in (status.last_error or "")
    assert len(status.errors) == 1
    assert seen.wait(10)
    assert discarded == [shown]  # shown the way it is stored, its type not said twice


def test_retry_task_replays_a_dead_letter(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    task_id = manager.enqueue_task(workers.fails_then_succeeds, args=["dlq", 1], max_attempts=1)
    drain(manager)
    assert manager.get_task_status(task_id).status is burro.TaskState.DISCARDED
    manager.retry_task(task_id)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert recorder.runs["dlq"] == 2


def test_scheduled_job_waits_for_its_time(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    at = clock.now() + timedelta(hours=1)
    task_id = manager.schedule_task(workers.record, "record", ["later"], at)
    relative_id = manager.schedule_task(workers.record, "record", ["in 90s"], 90)
    drain(manager)
    assert manager.get_task_status(task_id).status is burro.TaskState.SCHEDULED
    assert recorder.calls == []
    clock.advance(90)
    drain(manager)
    assert manager.get_task_status(relative_id).status is burro.TaskState.COMPLETED
    assert manager.get_task_status(task_id).status is burro.TaskState.SCHEDULED
    clock.set(at)
    drain(manager)
    assert manager.get_task_status(task_id).status is burro.TaskState.COMPLETED
    assert recorder.calls == [("record", "in 90s"), ("record", "later")]


def test_scheduled_job_runs_on_the_real_clock_without_polling(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(poll_interval_seconds=3600)  # only the due-time timer can wake it
    manager.schedule_task(workers.record, "record", ["soon"], 0.2)
    recorder.wait_for(lambda: recorder.runs["soon"] == 1)


def test_unique_jobs_are_stored_once_within_the_window(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    manager.pause_queue("default")
    first = manager.enqueue_task(workers.record, args=["u"], unique_for_seconds=60)
    again = manager.enqueue_task(workers.record, args=["u"], unique_for_seconds=60)
    other_args = manager.enqueue_task(workers.record, args=["v"], unique_for_seconds=60)
    assert again == first
    assert other_args != first
    clock.advance(61)
    later = manager.enqueue_task(workers.record, args=["u"], unique_for_seconds=60)
    assert later != first
    _, page = manager.list_tasks()
    assert page.total_entries == 3


def test_enqueue_many_inserts_all_in_order(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    ids = manager.enqueue_many(
        [{"worker": workers.record, "function": "record", "args": [i]} for i in range(50)]
    )
    assert len(set(ids)) == 50
    drain(manager)
    assert sorted(v for _, v in recorder.calls) == list(range(50))
    assert all(manager.get_task_status(i).status is burro.TaskState.COMPLETED for i in ids)


def test_enqueue_many_refuses_the_whole_batch_on_one_bad_task(
    manager: burro.BackgroundTaskManager,
) -> None:
    tasks = [
        {"worker": workers.record, "function": "record", "args": [1]},
        {"worker": workers.record, "function": "record", "args": [object()]},
    ]
    with pytest.raises(burro.InvalidTaskError, match=r"#1|args"):
        manager.enqueue_many(tasks)
    assert manager.list_tasks()[1].total_entries == 0


def test_decorator_options_are_defaults_that_calls_override(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    default_id = manager.enqueue_task(workers.always_fails, args=[1])
    override_id = manager.enqueue_task(workers.always_fails, args=[2], max_attempts=7)
    assert manager.get_task_status(default_id).max_attempts == 3
    assert manager.get_task_status(override_id).max_attempts == 7
