"""Retention: old finished tasks are deleted in short batches, and nothing else is."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import burro
from burro.actors import cleanup
from burro.states import TaskState
from burro.testing import ManualClock, drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory, wait_until

DAY = 86_400


def _finish(manager: burro.BackgroundTaskManager, count: int, tag: str) -> list[str]:
    ids = manager.enqueue_many(
        [
            {"worker": workers.record, "function": "record", "args": [f"{tag}{i}"]}
            for i in range(count)
        ]
    )
    drain(manager)
    return ids


def test_cleanup_actor_deletes_by_retention_on_its_interval(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(
        clock=clock,
        cleanup={
            "retention_days_completed": 1,
            "retention_days_failed": 3,
            "interval_seconds": 3600,
        },
    )
    _finish(manager, 3, "old")
    manager.enqueue_task(workers.always_fails, args=["dead"], max_attempts=1)
    drain(manager)
    clock.advance(2 * DAY)  # completed ones are past retention, the discarded one is not
    wait_until(lambda: manager.get_statistics()["queues"]["default"]["completed"] == 0)
    assert manager.get_statistics()["queues"]["default"]["discarded"] == 1
    clock.advance(2 * DAY)
    wait_until(lambda: manager.get_statistics()["queues"]["default"]["discarded"] == 0)


def test_cleanup_never_touches_unfinished_tasks_or_recurring_definitions(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(
        clock=clock, queues={"default": {"concurrency": 1}}, max_retry_delay_seconds=30 * DAY
    )
    _finish(manager, 2, "done")
    retryable = manager.enqueue_task(workers.always_fails, args=["r"], retry_delay_seconds=10 * DAY)
    drain(manager)
    running = manager.enqueue_task(workers.blocks, args=["running"])
    assert recorder.started.wait(10)
    scheduled = manager.schedule_task(workers.record, "record", ["s"], 30 * DAY)
    manager.pause_queue("default")
    pending = manager.enqueue_task(workers.record, args=["p"])
    manager.schedule_recurring_task("keep", workers.record, "record", ["k"], "0 0 1 1 *")
    clock.advance(9 * DAY)
    assert manager.cleanup_old_tasks(retention_days_completed=0, retention_days_failed=0) == 2
    states = {manager.get_task_status(t).status for t in (retryable, scheduled, pending)}
    assert states == {TaskState.RETRYABLE, TaskState.SCHEDULED, TaskState.PENDING}
    assert manager.get_task_status(running).status is TaskState.RUNNING
    assert [r.name for r in manager.list_recurring_tasks()] == ["keep"]
    stats = manager.get_statistics()["queues"]["default"]
    listed = {s: manager.list_tasks(status=s)[1].total_entries for s in TaskState}
    assert {s: stats[s.value] for s in TaskState} == listed  # counts stay exact


def test_cleanup_respects_each_retention(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    _finish(manager, 2, "c")
    manager.enqueue_task(workers.always_fails, args=["d"], max_attempts=1)
    drain(manager)
    clock.advance(5 * DAY)
    assert manager.cleanup_old_tasks(retention_days_completed=10, retention_days_failed=10) == 0
    assert manager.cleanup_old_tasks(retention_days_completed=4, retention_days_failed=10) == 2
    assert manager.cleanup_old_tasks(retention_days_completed=4, retention_days_failed=4) == 1


def test_jobs_keep_completing_while_a_large_cleanup_runs(
    start_manager: Factory,
    clock: ManualClock,
    recorder: workers.Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manager = start_manager(clock=clock, cleanup={"interval_seconds": 3650 * DAY})  # only ours
    _finish(manager, 1_200, "old")
    clock.advance(30 * DAY)
    storage = manager._storage
    real_delete = storage.delete_finished
    batches: list[int] = []
    interleaved: list[str] = []

    def delete_then_let_the_queue_run(*args: Any) -> int:
        removed = real_delete(*args)
        batches.append(removed)
        if len(batches) == 1:
            # Between two batches a fresh job must be able to run to completion: the
            # clean-up holds no lock and no transaction that would stall the queue.
            task_id = manager.enqueue_task(workers.record, args=["between batches"])
            recorder.wait_for(lambda: recorder.runs["between batches"] == 1)
            drain(manager)
            interleaved.append(task_id)
        return removed

    monkeypatch.setattr(storage, "delete_finished", delete_then_let_the_queue_run)
    monkeypatch.setattr(cleanup, "CLEANUP_BATCH", 100)
    done = threading.Event()
    removed: list[int] = []

    def run_cleanup() -> None:
        removed.append(manager.cleanup_old_tasks(retention_days_completed=1))
        done.set()

    threading.Thread(target=run_cleanup).start()
    assert done.wait(30)
    assert removed == [1_200]
    assert len([b for b in batches if b]) == 12  # twelve short transactions, not one long one
    assert manager.get_task_status(interleaved[0]).status is TaskState.COMPLETED


def test_a_retention_reaching_before_year_one_keeps_every_task(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(
        cleanup={"retention_days_completed": 1e10, "retention_days_failed": 1e10}
    )
    ids = _finish(manager, 2, "kept")
    assert manager.cleanup_old_tasks() == 0
    assert manager.cleanup_old_tasks(retention_days_completed=1e12) == 0
    assert [manager.get_task_status(i).status for i in ids] == [TaskState.COMPLETED] * 2


def test_a_retention_longer_than_the_calendar_still_lets_the_other_class_be_cleaned(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    _finish(manager, 2, "kept")
    clock.advance(DAY)
    forever = 1_000_000  # days: further back than the first year of the calendar
    assert manager.cleanup_old_tasks(retention_days_completed=forever) == 0
    assert manager.cleanup_old_tasks(retention_days_completed=0, retention_days_failed=forever) == 2
    assert manager.get_statistics()["queues"]["default"]["completed"] == 0
