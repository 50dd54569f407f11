"""Clocks: a timer never runs before the clock it was set on reaches its time."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

import pytest

from burro.clock import ManualClock, SystemClock


class SteppedClock(SystemClock):
    """Wall-clock time that a test can step back, as NTP or a resumed VM does."""

    def __init__(self) -> None:
        self.step_back = timedelta(0)

    def now(self) -> datetime:
        return super().now() - self.step_back


def test_a_timer_waits_for_the_wall_clock_after_it_is_stepped_back() -> None:
    clock = SteppedClock()
    when = clock.now() + timedelta(milliseconds=100)
    seen: list[datetime] = []
    fired = threading.Event()

    def callback() -> None:
        seen.append(clock.now())
        fired.set()

    clock.call_at(when, callback)
    clock.step_back = timedelta(milliseconds=150)
    assert fired.wait(timeout=10)
    # The scheduler re-arms only for a later time: a timer run early would stall it.
    assert seen[0] >= when


def test_a_cancelled_timer_never_runs() -> None:
    clock = SystemClock()
    ran = threading.Event()
    clock.call_at(clock.now() + timedelta(milliseconds=50), ran.set).cancel()
    after = threading.Event()
    clock.call_at(clock.now() + timedelta(milliseconds=100), after.set)
    assert after.wait(timeout=10)
    assert not ran.is_set()


def test_a_timer_due_already_runs_at_once() -> None:
    clock = SystemClock()
    ran = threading.Event()
    clock.call_at(clock.now() - timedelta(seconds=1), ran.set)
    assert ran.wait(timeout=10)


def test_a_manual_clock_refuses_to_move_backwards_or_to_a_naive_time() -> None:
    clock = ManualClock()
    start = clock.now()
    with pytest.raises(ValueError, match="forward only"):
        clock.advance(-100)
    with pytest.raises(ValueError, match="aware"):
        clock.set(datetime(2031, 1, 1))  # naive on purpose
    with pytest.raises(ValueError, match="aware"):
        clock.call_at(datetime(2031, 1, 1), lambda: None)
    assert clock.now() == start


def test_setting_a_manual_clock_to_a_past_time_leaves_it_where_it_is() -> None:
    clock = ManualClock()
    later = clock.advance(60)
    assert clock.set(later - timedelta(seconds=30)) == later
