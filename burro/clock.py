"""Time, injectable: the runtime reads a :class:`Clock` that tests can replace."""

from __future__ import annotations

import heapq
import itertools
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["MAX_SECONDS", "Clock", "ManualClock", "SystemClock", "TimerHandle", "utcnow"]

#: The longest delay the runtime can wait for (about 292 years on Linux): a timer thread
#: cannot wait longer, and ``now`` plus this delay stays within datetime arithmetic.
MAX_SECONDS = threading.TIMEOUT_MAX


def utcnow() -> datetime:
    """The current time as an aware UTC datetime."""
    return datetime.now(UTC)


class TimerHandle(Protocol):
    """A pending callback that can be cancelled."""

    def cancel(self) -> None:
        """Make sure the callback does not run (no-op if it already ran)."""


class Clock(Protocol):
    """The source of time and timers for a runtime."""

    def now(self) -> datetime:
        """The current time, aware UTC."""

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` (from some thread) once ``now() >= when``."""


class _ThreadTimer:
    def __init__(
        self, now: Callable[[], datetime], when: datetime, callback: Callable[[], None]
    ) -> None:
        self._cancelled = threading.Event()
        thread = threading.Thread(target=self._run, args=(now, when, callback), daemon=True)
        thread.start()

    def _run(
        self, now: Callable[[], datetime], when: datetime, callback: Callable[[], None]
    ) -> None:
        # Waiting is measured on the monotonic clock; if the wall clock was stepped back
        # meanwhile, `when` has not come yet: wait for the rest rather than run early.
        while not self._cancelled.wait(max((when - now()).total_seconds(), 0.0)):
            if now() >= when:
                callback()
                return

    def cancel(self) -> None:
        self._cancelled.set()


class SystemClock:
    """Wall-clock time; timers are daemon threads."""

    def now(self) -> datetime:
        """The current time, aware UTC."""
        return datetime.now(UTC)

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        """Run ``callback`` on a timer thread at ``when``."""
        return _ThreadTimer(self.now, when, callback)


class _ManualTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that only moves when a test says so.

    Timers fire synchronously, in due order, inside :meth:`advance` / :meth:`set`.
    """

    def __init__(self, start: datetime | None = None) -> None:
        if start is not None and start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = (start or datetime(2030, 1, 1, tzinfo=UTC)).astimezone(UTC)
        self._lock = threading.Lock()
        self._timers: list[tuple[datetime, int, _ManualTimer]] = []
        self._order = itertools.count()

    def now(self) -> datetime:
        """The manual time."""
        with self._lock:
            return self._now

    def call_at(self, when: datetime, callback: Callable[[], None]) -> TimerHandle:
        """Register ``callback`` to fire once the clock reaches ``when``."""
        _require_aware(when)
        timer = _ManualTimer(callback)
        with self._lock:
            if when > self._now:
                heapq.heappush(self._timers, (when, next(self._order), timer))
                return timer
        callback()
        return timer

    def advance(self, seconds: float) -> datetime:
        """Move time forward by ``seconds`` (>= 0) and fire the timers now due."""
        if not seconds >= 0:
            raise ValueError(f"a ManualClock moves forward only, not by {seconds!r} seconds")
        return self.set(self.now() + timedelta(seconds=seconds))

    def set(self, when: datetime) -> datetime:
        """Move time to ``when`` and fire the timers now due.

        Never backwards: a ``when`` already past leaves the time as it is, so that
        ``set(job.scheduled_at)`` means "at least until the job is due".
        """
        _require_aware(when)
        with self._lock:
            self._now = max(self._now, when.astimezone(UTC))
            due = []
            while self._timers and self._timers[0][0] <= self._now:
                due.append(heapq.heappop(self._timers)[2])
            now = self._now
        for timer in due:
            if not timer.cancelled:
                timer.callback()
        return now


def _require_aware(when: datetime) -> None:
    if when.tzinfo is None:
        raise ValueError(f"a ManualClock needs aware datetimes, not the naive {when}")
