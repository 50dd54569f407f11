"""Lifecycle events: payloads, and subscribers that fail or block never touch the jobs."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import pytest

from burro.storage import CancelOutcome, Job, Storage
from burro.testing import ManualClock, drain
from tests.integration.observability.conftest import Factory
from tests.integration.runtime import workers

JOBS = 20


class Collector:
    """A subscriber that records events and can be waited on."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Mapping[str, Any]]] = []
        self._changed = threading.Condition()

    def __call__(self, event: str, payload: Mapping[str, Any]) -> None:
        with self._changed:
            self.events.append((event, payload))
            self._changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self._changed:
            assert self._changed.wait_for(lambda: len(self.events) >= count, timeout=10)

    def names(self, task_id: str) -> list[str]:
        return [event for event, payload in self.events if payload.get("task_id") == task_id]


def test_each_transition_is_an_event_with_its_payload(
    start_manager: Factory, clock: ManualClock
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()
    collector = Collector()
    manager.events.subscribe("*", collector)
    manager.pause_queue("default")
    flaky = manager.enqueue_task(workers.fails_then_succeeds, args=["f", 1], retry_delay_seconds=10)
    dead = manager.enqueue_task(workers.always_fails, args=["d"], max_attempts=1)
    cancelled = manager.enqueue_task(workers.record, args=["c"])
    manager.cancel_task(cancelled)
    manager.resume_queue("default")
    drain(manager)
    clock.advance(60)
    drain(manager)
    manager.stop()  # delivers what is queued

    assert collector.names(flaky) == [
        "job.enqueued",
        "job.started",
        "job.failed",
        "job.retry",
        "job.started",
        "job.completed",
    ]
    assert collector.names(dead) == ["job.enqueued", "job.started", "job.failed", "job.discarded"]
    assert collector.names(cancelled) == ["job.enqueued", "job.cancelled"]
    payloads = {event: payload for event, payload in collector.events if payload["task_id"] == dead}
    assert payloads["job.discarded"] == {
        "task_id": dead,
        "queue": "default",
        "worker": f"{workers.__name__}.always_fails",
        "attempt": 1,
        "state": "discarded",
        "duration": payloads["job.discarded"]["duration"],
        "error_type": "ValueError",
        "error": "ValueError: hopeless d",
    }
    retry = next(p for e, p in collector.events if e == "job.retry")
    assert datetime.fromisoformat(retry["retry_at"]) >= start + timedelta(seconds=10)
    assert all("args" not in payload for _, payload in collector.events)


def test_a_raising_subscriber_is_logged_and_breaks_nothing(
    start_manager: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    manager = start_manager()

    def broken(_event: str, _payload: Mapping[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    collector = Collector()
    manager.events.subscribe("*", broken)
    manager.events.subscribe("job.completed", collector)
    ids = [manager.enqueue_task(workers.add, args=[n, n]) for n in range(JOBS)]
    drain(manager)
    collector.wait_for(JOBS)  # later subscribers still get every event

    assert {manager.get_task_status(i).status for i in ids} == {"completed"}
    assert manager.health()["status"] == "ok"
    failures = [r for r in caplog.records if r.name == "burro.events"]
    assert failures
    assert failures[0].levelno == logging.ERROR
    assert failures[0].exc_info is not None
    assert "subscriber bug" in str(failures[0].exc_info[1])


def test_a_blocked_subscriber_delays_no_job(start_manager: Factory) -> None:
    manager = start_manager()
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def stuck(event: str, _payload: Mapping[str, Any]) -> None:
        calls.append(event)
        entered.set()
        release.wait(30)

    collector = Collector()
    manager.events.subscribe("job.started", stuck)
    manager.events.subscribe("job.completed", collector)
    ids = [manager.enqueue_task(workers.add, args=[n, n]) for n in range(JOBS)]
    drain(manager)  # every job ran while the subscriber is blocked on its first event

    assert entered.wait(10)
    assert {manager.get_task_status(i).status for i in ids} == {"completed"}
    assert calls == ["job.started"]
    assert not collector.events
    release.set()
    collector.wait_for(JOBS)  # then the backlog is delivered, in order
    assert len(calls) == JOBS


def test_cancelling_a_finished_task_again_reports_nothing(
    start_manager: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    manager = start_manager()
    caplog.set_level(logging.INFO, logger="burro.jobs")
    collector = Collector()
    manager.events.subscribe("*", collector)
    manager.pause_queue("default")
    task_id = manager.enqueue_task(workers.record, args=["c"])
    manager.cancel_task(task_id)
    manager.cancel_task(task_id)  # a no-op: the task is already cancelled
    manager.stop()  # delivers what is queued

    assert collector.names(task_id) == ["job.enqueued", "job.cancelled"]
    cancelled = [r for r in caplog.records if r.getMessage().startswith("cancelled ")]
    assert len(cancelled) == 1


class MeetingStore:
    """A store that holds each caller after its first read, or before its first cancel,
    until ``callers`` of them got there: racing cancels all see the task as it was
    before any of them changed it."""

    def __init__(self, storage: Storage, callers: int) -> None:
        self._storage = storage
        self._meeting = threading.Barrier(callers)
        self._met = threading.local()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._storage, name)

    def get(self, job_id: str) -> Job | None:
        job = self._storage.get(job_id)
        self._meet()
        return job

    def cancel(self, job_id: str, reason: str | None, now: datetime) -> CancelOutcome | None:
        self._meet()
        return self._storage.cancel(job_id, reason, now)

    def _meet(self) -> None:
        if not getattr(self._met, "done", False):
            self._met.done = True
            self._meeting.wait(timeout=10)


@pytest.mark.parametrize("backend", ["lmdb", "memory"])
def test_racing_cancels_of_one_task_report_it_once(
    start_manager: Factory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    backend: str,
) -> None:
    manager = start_manager(backend=backend)
    caplog.set_level(logging.INFO, logger="burro.jobs")
    collector = Collector()
    manager.events.subscribe("*", collector)
    manager.pause_queue("default")
    task_id = manager.enqueue_task(workers.record, args=["c"])
    monkeypatch.setattr(manager, "_storage", MeetingStore(manager._storage, callers=2))
    failures: list[BaseException] = []

    def cancel() -> None:
        try:
            manager.cancel_task(task_id)
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=cancel) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    monkeypatch.undo()
    manager.stop()  # delivers what is queued

    assert failures == []
    assert collector.names(task_id) == ["job.enqueued", "job.cancelled"]
    cancelled = [r for r in caplog.records if r.getMessage().startswith("cancelled ")]
    assert len(cancelled) == 1


def test_a_subscriber_may_stop_the_runtime(start_manager: Factory) -> None:
    manager = start_manager()
    failures: list[BaseException] = []
    stopped = threading.Event()

    def stop_on_discard(_event: str, _payload: Mapping[str, Any]) -> None:
        try:
            manager.stop()
        except BaseException as exc:
            failures.append(exc)
        stopped.set()

    manager.events.subscribe("job.discarded", stop_on_discard)
    manager.enqueue_task(workers.always_fails, args=["d"], max_attempts=1)
    assert stopped.wait(10)

    assert failures == []
    assert not manager.running
