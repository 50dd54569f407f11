"""Waking idle workers: with no polling to fall back on, no enqueued job is left waiting."""

from __future__ import annotations

import threading

import pytest

import burro
from burro.actors._hub import QueueHub
from burro.testing import drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory


def test_a_job_enqueued_while_the_worker_frees_its_slot_is_picked_up(
    start_manager: Factory, recorder: workers.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The insert lands after the worker's last claim found the queue empty and before it
    freed its slot: the producer sees no idle slot and wakes nobody, so the worker must
    notice the insert itself. The scheduler's poll, which would hide a lost wake-up,
    runs once an hour here."""
    manager = start_manager(poll_interval_seconds=3600, queues={"default": {"concurrency": 1}})
    late: list[str] = []
    real_free = QueueHub.free

    def free_after_an_insert(hub: QueueHub, index: int, job_id: str) -> bool:
        if not late:  # the first job's slot: insert from another thread, then free
            producer = threading.Thread(
                target=lambda: late.append(manager.enqueue_task(workers.add, args=[2, 2]))
            )
            producer.start()
            producer.join(10)
        return real_free(hub, index, job_id)

    monkeypatch.setattr(QueueHub, "free", free_after_an_insert)
    first = manager.enqueue_task(workers.add, args=[1, 1])
    drain(manager, timeout=10)
    assert [manager.get_task_status(i).status for i in (first, *late)] == [
        burro.TaskState.COMPLETED,
        burro.TaskState.COMPLETED,
    ]


def test_enqueueing_from_a_job_and_from_an_event_subscriber_never_deadlocks(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    """Producers and workers take turns through burro's bookkeeping (burro._turns): an
    enqueue from a running job, or from a subscriber, must still go through."""
    manager = start_manager()
    workers.chained["manager"] = manager
    seen: list[str] = []

    def follow_up(_: str, payload: dict[str, object]) -> None:
        if str(payload["worker"]).endswith("add") and not seen:
            seen.append(manager.enqueue_task(workers.record, args=["from a subscriber"]))

    manager.events.subscribe("job.completed", follow_up)
    manager.enqueue_task(workers.enqueues_another, args=["chain"])
    manager.enqueue_task(workers.add, args=[1, 2])
    recorder.wait_for(lambda: len(recorder.calls) == 4)
    drain(manager, timeout=10)
    assert sorted(value for name, value in recorder.calls if name == "record") == [
        "chain follow-up",
        "from a subscriber",
    ]
