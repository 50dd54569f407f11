"""The EventBus: asynchronous delivery that no subscriber can stall or break."""

from __future__ import annotations

import json
import logging
import pickle
import threading
import time
from collections.abc import Mapping
from typing import Any

import pytest

from burro.errors import InvalidTaskError
from burro.observability.events import EventBus

PAYLOAD = {"task_id": "1"}


def test_a_raising_subscriber_is_logged_and_the_next_one_still_called(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus()
    got = threading.Event()

    def broken(_event: str, _payload: Mapping[str, Any]) -> None:
        raise RuntimeError("subscriber bug")

    bus.subscribe("job.completed", broken)
    bus.subscribe("*", lambda _event, _payload: got.set())
    bus.emit("job.completed", PAYLOAD)
    assert got.wait(5)
    bus.close()

    (record,) = [r for r in caplog.records if r.name == "burro.events"]
    assert record.levelno == logging.ERROR
    assert "job.completed" in record.getMessage()


def test_a_full_backlog_drops_events_without_blocking_the_emitter(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = EventBus(max_backlog=2)
    entered, release = threading.Event(), threading.Event()

    def stuck(_event: str, _payload: Mapping[str, Any]) -> None:
        entered.set()
        release.wait(10)

    bus.subscribe("job.started", stuck)
    bus.emit("job.started", PAYLOAD)
    assert entered.wait(5)
    for _ in range(5):  # two fit in the backlog, three are dropped
        bus.emit("job.started", PAYLOAD)

    assert bus.dropped == 3
    assert [r.getMessage() for r in caplog.records] == ["event backlog full: 1 events dropped"]
    release.set()
    bus.close()


def test_close_gives_up_on_a_stuck_subscriber_at_its_timeout() -> None:
    bus = EventBus(max_backlog=1)
    entered, release = threading.Event(), threading.Event()

    def stuck(_event: str, _payload: Mapping[str, Any]) -> None:
        entered.set()
        release.wait(10)

    bus.subscribe("*", stuck)
    bus.emit("job.started", PAYLOAD)
    assert entered.wait(5)
    bus.emit("job.started", PAYLOAD)  # the backlog is now full
    began = time.monotonic()
    bus.close(timeout=0.2)

    assert time.monotonic() - began < 2
    release.set()


def test_events_nobody_listens_to_are_not_queued() -> None:
    bus = EventBus(max_backlog=1)
    for _ in range(3):
        bus.emit("job.started", PAYLOAD)

    assert bus.dropped == 0
    assert not bus.wants("job.started")


def test_unsubscribed_callbacks_are_no_longer_called() -> None:
    bus = EventBus()
    calls: list[str] = []
    done = threading.Event()

    def callback(event: str, _payload: Mapping[str, Any]) -> None:
        calls.append(event)

    bus.subscribe("job.started", callback)
    bus.unsubscribe("job.started", callback)
    bus.subscribe("job.completed", lambda _event, _payload: done.set())
    bus.emit("job.started", PAYLOAD)
    bus.emit("job.completed", PAYLOAD)
    assert done.wait(5)
    bus.close()

    assert calls == []


def test_an_unknown_event_name_is_refused() -> None:
    with pytest.raises(InvalidTaskError, match=r"job\.finished"):
        EventBus().subscribe("job.finished", lambda _event, _payload: None)


def test_a_subscriber_cannot_change_what_the_next_one_sees() -> None:
    bus = EventBus()
    seen: list[dict[str, Any]] = []
    cleared: list[Mapping[str, Any]] = []
    done = threading.Event()

    def meddling(_event: str, payload: Mapping[str, Any]) -> None:
        payload.clear()  # type: ignore[attr-defined]
        cleared.append(payload)

    def reading(_event: str, payload: Mapping[str, Any]) -> None:
        seen.append(dict(payload))
        done.set()

    bus.subscribe("job.completed", meddling)
    bus.subscribe("job.completed", reading)
    bus.emit("job.completed", {"task_id": "1"})
    assert done.wait(5)
    bus.close()

    assert cleared == [{}]
    assert seen == [{"task_id": "1"}]


def test_a_subscriber_can_serialise_and_pickle_its_payload() -> None:
    bus = EventBus()
    kept: list[tuple[str, bytes]] = []
    failures: list[Exception] = []
    done = threading.Event()

    def forwarding(_event: str, payload: Mapping[str, Any]) -> None:
        try:
            kept.append((json.dumps(payload), pickle.dumps(payload)))
        except Exception as exc:
            failures.append(exc)
        done.set()

    bus.subscribe("job.completed", forwarding)
    bus.emit("job.completed", {"task_id": "1", "duration": 0.5})
    assert done.wait(5)
    bus.close()

    assert failures == []
    ((text, pickled),) = kept
    assert json.loads(text) == {"task_id": "1", "duration": 0.5}
    assert pickle.loads(pickled) == {"task_id": "1", "duration": 0.5}


def test_a_subscriber_calling_sys_exit_does_not_end_delivery() -> None:
    bus = EventBus()
    got = threading.Event()

    def exits(_event: str, _payload: Mapping[str, Any]) -> None:
        raise SystemExit(1)

    bus.subscribe("job.started", exits)
    bus.subscribe("job.completed", lambda _event, _payload: got.set())
    bus.emit("job.started", PAYLOAD)
    bus.emit("job.completed", PAYLOAD)
    assert got.wait(5)
    bus.close()


def test_a_subscriber_closing_the_bus_on_a_full_backlog_still_ends_the_dispatcher() -> None:
    bus = EventBus(max_backlog=2)
    entered, release = threading.Event(), threading.Event()
    dispatchers: list[threading.Thread] = []
    delivered: list[str] = []

    def closing(event: str, _payload: Mapping[str, Any]) -> None:
        if event == "job.discarded":  # stop() on a discard, with the backlog full
            dispatchers.append(threading.current_thread())
            entered.set()
            release.wait(10)
            bus.close()
        else:
            delivered.append(event)

    bus.subscribe("*", closing)
    bus.emit("job.discarded", PAYLOAD)
    assert entered.wait(5)
    bus.emit("job.started", PAYLOAD)
    bus.emit("job.completed", PAYLOAD)  # the backlog is now full
    release.set()
    (dispatcher,) = dispatchers
    dispatcher.join(5)

    assert not dispatcher.is_alive()
    assert delivered == ["job.started", "job.completed"]
    assert not bus.wants("job.started")


def test_a_dispatcher_left_behind_by_close_ends_once_its_subscriber_returns() -> None:
    bus = EventBus(max_backlog=1)
    entered, release = threading.Event(), threading.Event()
    dispatchers: list[threading.Thread] = []

    def stuck(_event: str, _payload: Mapping[str, Any]) -> None:
        dispatchers.append(threading.current_thread())
        entered.set()
        release.wait(10)

    bus.subscribe("*", stuck)
    bus.emit("job.started", PAYLOAD)
    assert entered.wait(5)
    bus.emit("job.started", PAYLOAD)  # the backlog is now full: close() finds no room
    bus.close(timeout=0.1)
    release.set()
    dispatcher = dispatchers[0]
    dispatcher.join(5)

    assert not dispatcher.is_alive()
    assert len(dispatchers) == 2  # what was queued at close is still delivered
