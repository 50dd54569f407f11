"""Restart intensity: how many restarts a supervisor allows within a period."""

from __future__ import annotations

from collections import deque

__all__ = ["RestartIntensity", "RestartIntensityExceeded"]


class RestartIntensityExceeded(RuntimeError):
    """A supervisor gave up: more than ``max_restarts`` restarts within ``max_seconds``."""


class RestartIntensity:
    """A sliding window of restart times, as OTP's ``intensity`` and ``period``.

    Time is passed in (monotonic seconds), so the window is a pure function of the
    restarts recorded and the times given.
    """

    def __init__(self, max_restarts: int, max_seconds: float) -> None:
        if max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, not {max_restarts}")
        if max_seconds <= 0:
            raise ValueError(f"max_seconds must be > 0, not {max_seconds}")
        self.max_restarts = max_restarts
        self.max_seconds = max_seconds
        self._times: deque[float] = deque()

    def allow(self, now: float) -> bool:
        """Record a restart at ``now``; False if it makes more than allowed in the window."""
        while self._times and now - self._times[0] >= self.max_seconds:
            self._times.popleft()
        self._times.append(now)
        return len(self._times) <= self.max_restarts

    def describe(self) -> str:
        """The limit, for messages."""
        return f"more than {self.max_restarts} restarts within {self.max_seconds} s"
