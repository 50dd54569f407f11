"""Recurring tasks: one job per fire time, across processes, restarts, crashes and DST."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import burro
from burro.clock import TimerHandle
from burro.storage import RecurringRecord
from burro.testing import ManualClock, crash_actor, drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory

EVERY_MINUTE = "* * * * *"


def _fires(manager: burro.BackgroundTaskManager, name: str) -> list[str]:
    tasks, _ = manager.list_tasks(per_page=1000)
    return sorted(t.meta["fire_at"] for t in tasks if t.meta.get("recurring") == name)


def _step(
    manager: burro.BackgroundTaskManager,
    clock: ManualClock,
    until: datetime,
    step: timedelta = timedelta(minutes=1),
) -> None:
    while clock.now() < until:
        clock.set(min(clock.now() + step, until))
        drain(manager)


def test_each_fire_time_enqueues_one_tagged_job(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()
    manager.schedule_recurring_task("tick", workers.record, "record", ["tick"], EVERY_MINUTE)
    (listed,) = manager.list_recurring_tasks()
    assert listed.name == "tick"
    assert listed.next_fire_at == start + timedelta(minutes=1)
    _step(manager, clock, start + timedelta(minutes=3))
    assert _fires(manager, "tick") == [
        (start + timedelta(minutes=m)).isoformat() for m in (1, 2, 3)
    ]
    assert recorder.runs["tick"] == 3


def test_two_runtimes_sharing_a_store_fire_once(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    first = start_manager(clock=clock)
    second = start_manager(clock=clock)
    first.schedule_recurring_task("shared", workers.record, "record", ["s"], EVERY_MINUTE)
    start = clock.now()
    for minute in range(1, 4):
        clock.set(start + timedelta(minutes=minute))
        drain(first)
        drain(second)
    assert len(_fires(first, "shared")) == 3
    assert recorder.runs["s"] == 3


def test_crashed_scheduler_neither_duplicates_nor_skips_a_fire(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()
    manager.schedule_recurring_task("steady", workers.record, "record", ["x"], EVERY_MINUTE)
    _step(manager, clock, start + timedelta(minutes=1))
    crash_actor(manager, "SchedulerActor")
    _step(manager, clock, start + timedelta(minutes=3))
    assert len(_fires(manager, "steady")) == 3


@pytest.mark.parametrize(("catch_up", "expected"), [("one", 1), ("all", 5), ("none", 0)])
def test_missed_fires_after_downtime_follow_catch_up(
    tmp_path: Path, recorder: workers.Recorder, catch_up: str, expected: int
) -> None:
    clock = ManualClock()
    start = clock.now()
    with burro.start(data_dir=tmp_path, clock=clock, durability="process") as manager:
        manager.schedule_recurring_task(
            "nightly", workers.record, "record", ["n"], EVERY_MINUTE, catch_up=catch_up
        )
    clock.set(start + timedelta(minutes=5, seconds=30))  # down for five fire times
    with burro.start(data_dir=tmp_path, clock=clock, durability="process") as manager:
        drain(manager)
        fires = _fires(manager, "nightly")
        assert len(fires) == expected
        if catch_up == "one":
            assert fires == [(start + timedelta(minutes=5)).isoformat()]  # the latest
        (listed,) = manager.list_recurring_tasks()  # definitions persist across restarts
        assert listed.next_fire_at == start + timedelta(minutes=6)
        _step(manager, clock, start + timedelta(minutes=6))
        assert len(_fires(manager, "nightly")) == expected + 1  # back on schedule


def test_declaring_the_same_schedule_again_after_downtime_keeps_the_catch_up(
    tmp_path: Path, recorder: workers.Recorder
) -> None:
    """Apps declare their recurring tasks at every start, often from a process that runs
    no queues (a web app): that must not wipe out the fires missed meanwhile."""
    clock = ManualClock()
    start = clock.now()
    options: dict[str, Any] = {"data_dir": tmp_path, "clock": clock, "durability": "process"}

    def declare(manager: burro.BackgroundTaskManager) -> None:
        manager.schedule_recurring_task(
            "nightly", workers.record, "record", ["n"], EVERY_MINUTE, catch_up="all"
        )

    with burro.start(**options) as manager:
        declare(manager)
    clock.set(start + timedelta(minutes=3, seconds=30))  # down for three fire times
    producer = burro.connect(**options)
    try:
        declare(producer)
        (listed,) = producer.list_recurring_tasks()
        assert listed.next_fire_at == start + timedelta(minutes=1)  # still owed
    finally:
        producer.stop()
    with burro.start(**options) as manager:
        drain(manager)
        assert _fires(manager, "nightly") == [
            (start + timedelta(minutes=m)).isoformat() for m in (1, 2, 3)
        ]


def test_a_fire_landing_while_a_task_is_declared_again_is_not_undone(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()

    def declare() -> None:
        manager.schedule_recurring_task("job", workers.record, "record", ["n"], EVERY_MINUTE)

    declare()
    storage = manager._storage
    real_upsert = storage.upsert_recurring

    def fire_then_upsert(record: RecurringRecord, **options: Any) -> None:
        # The scheduler fires after the declaration has looked at the stored task.
        _step(manager, clock, start + timedelta(minutes=1))
        real_upsert(record, **options)

    storage.upsert_recurring = fire_then_upsert  # type: ignore[method-assign]
    declare()
    (listed,) = manager.list_recurring_tasks()
    assert listed.next_fire_at == start + timedelta(minutes=2)  # the fire stands


def test_upsert_takes_effect_from_the_next_fire(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()
    manager.schedule_recurring_task("job", workers.record, "record", ["old"], EVERY_MINUTE)
    _step(manager, clock, start + timedelta(minutes=1))
    manager.schedule_recurring_task("job", workers.record, "record", ["new"], "*/5 * * * *")
    (listed,) = manager.list_recurring_tasks()
    assert listed.cron_expression == "*/5 * * * *"
    assert listed.next_fire_at == start + timedelta(minutes=5)
    _step(manager, clock, start + timedelta(minutes=10))
    assert recorder.runs["old"] == 1
    assert recorder.runs["new"] == 2


def test_cancel_stops_future_fires(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()
    manager.schedule_recurring_task("gone", workers.record, "record", ["g"], EVERY_MINUTE)
    _step(manager, clock, start + timedelta(minutes=1))
    manager.cancel_recurring_task("gone")
    assert manager.list_recurring_tasks() == []
    _step(manager, clock, start + timedelta(minutes=4))
    assert recorder.runs["g"] == 1
    with pytest.raises(burro.TaskNotFound):
        manager.cancel_recurring_task("gone")


def test_a_cancel_while_the_scheduler_skips_missed_fires_stays_cancelled(
    start_manager: Factory,
    clock: ManualClock,
    recorder: workers.Recorder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """catch_up="none" moves past the misses: that must not bring a cancelled task back."""
    manager = start_manager(clock=clock)
    start = clock.now()
    manager.schedule_recurring_task(
        "gone", workers.record, "record", ["g"], EVERY_MINUTE, catch_up="none"
    )
    storage = manager._storage
    read = storage.list_recurring
    test_thread = threading.current_thread()
    cancelled, read_again = threading.Event(), threading.Event()

    def cancel_right_after_the_read() -> list[RecurringRecord]:
        records = read()
        if threading.current_thread() is test_thread:
            return records
        if cancelled.is_set():
            read_again.set()  # the scheduler's pass that read before the cancel is over
        elif any(record.next_fire_at <= clock.now() for record in records):
            manager.cancel_recurring_task("gone")
            cancelled.set()
        return records

    monkeypatch.setattr(storage, "list_recurring", cancel_right_after_the_read)
    clock.set(start + timedelta(minutes=5, seconds=30))  # five fire times missed
    assert cancelled.wait(timeout=10)
    clock.set(start + timedelta(minutes=7))  # one more scheduler pass
    assert read_again.wait(timeout=10)
    drain(manager)
    assert manager.list_recurring_tasks() == []
    assert _fires(manager, "gone") == []
    assert recorder.runs["g"] == 0


@pytest.mark.parametrize(
    ("name", "expression", "timezone", "message"),
    [
        ("bad", "61 * * * *", "UTC", "61 \\* \\* \\* \\*"),
        ("never", "0 0 31 2 *", "UTC", "never"),
        ("tz", EVERY_MINUTE, "Mars/Olympus_Mons", "Mars/Olympus_Mons"),
        ("", EVERY_MINUTE, "UTC", "non-empty name"),
    ],
)
def test_bad_recurring_definitions_are_refused_and_nothing_stored(
    manager: burro.BackgroundTaskManager, name: str, expression: str, timezone: str, message: str
) -> None:
    with pytest.raises(burro.InvalidTaskError, match=message):
        manager.schedule_recurring_task(
            name, workers.record, "record", [1], expression, timezone=timezone
        )
    assert manager.list_recurring_tasks() == []


def test_a_worker_unique_by_default_can_recur(
    start_manager: Factory, clock: ManualClock, recorder: workers.Recorder
) -> None:
    manager = start_manager(clock=clock)
    start = clock.now()
    with pytest.raises(burro.InvalidTaskError, match="unique_for_seconds"):
        manager.schedule_recurring_task(
            "sync", workers.sync_once, "sync_once", ["s"], EVERY_MINUTE, unique_for_seconds=30
        )
    manager.schedule_recurring_task("sync", workers.sync_once, "sync_once", ["s"], EVERY_MINUTE)
    _step(manager, clock, start + timedelta(minutes=2))
    assert len(_fires(manager, "sync")) == 2
    assert recorder.runs["s"] == 2


@pytest.mark.parametrize(
    ("zone", "expression", "start", "end", "expected_utc"),
    [
        # Fall back: 01:30 happens twice; it fires once, at the first (EDT) occurrence.
        ("America/New_York", "30 1 * * *", "2025-11-02T04:00", "2025-11-02T09:00", ["05:30"]),
        # Spring forward: 02:30 does not exist; it fires once, right after the gap.
        ("America/New_York", "30 2 * * *", "2025-03-09T05:00", "2025-03-09T09:00", ["07:00"]),
        ("Europe/Berlin", "30 2 * * *", "2025-10-25T23:00", "2025-10-26T03:00", ["00:30"]),
        ("Europe/Berlin", "30 2 * * *", "2025-03-29T23:00", "2025-03-30T03:00", ["01:00"]),
    ],
)
def test_daylight_saving_transitions_fire_exactly_once(
    start_manager: Factory,
    recorder: workers.Recorder,
    zone: str,
    expression: str,
    start: str,
    end: str,
    expected_utc: list[str],
) -> None:
    clock = ManualClock(datetime.fromisoformat(start).replace(tzinfo=UTC))
    manager = start_manager(clock=clock)
    manager.schedule_recurring_task(
        "dst", workers.record, "record", ["d"], expression, timezone=zone
    )
    _step(
        manager, clock, datetime.fromisoformat(end).replace(tzinfo=UTC), step=timedelta(minutes=10)
    )
    fired = [datetime.fromisoformat(f).strftime("%H:%M") for f in _fires(manager, "dst")]
    assert fired == expected_utc


class RecordingClock(ManualClock):
    """A manual clock that remembers every timer asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.asked: list[datetime] = []

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        self.asked.append(when)
        return super().call_at(when, callback)


def test_idle_scheduler_sleeps_until_the_next_fire(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    clock = RecordingClock()
    manager = start_manager(clock=clock, poll_interval_seconds=86_400)
    manager.schedule_recurring_task("hourly", workers.record, "record", ["h"], "0 * * * *")
    drain(manager)
    next_hour = clock.now() + timedelta(hours=1)
    assert clock.asked[-1] == next_hour  # one timer, for the fire: no polling in between
    assert all(when >= next_hour for when in clock.asked[-2:])
