"""The jobs the scenarios run, and the in-process probes they report to.

The same plain functions run under burro (marked with ``@burro.worker``) and under Huey
(wrapped by ``huey.task()`` in :mod:`benchmarks._systems`), so both do identical work.
"""

from __future__ import annotations

import threading
import time

import burro

__all__ = ["PROBE", "TALLY", "Probe", "Tally", "noop", "stamped"]


class Tally:
    """Counts finished jobs and wakes whoever waits for a target count."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._done = threading.Event()
        self.count = 0
        self.target = 0

    def arm(self, target: int) -> None:
        """Start counting from zero towards ``target``."""
        with self._lock:
            self.count = 0
            self.target = target
            self._done.clear()

    def hit(self) -> None:
        """One more job finished."""
        with self._lock:
            self.count += 1
            if self.count >= self.target:
                self._done.set()

    def wait(self, timeout: float) -> bool:
        """Block until the target is reached; False on timeout."""
        return self._done.wait(timeout)


class Probe:
    """Times taken inside jobs (``time.perf_counter()``): waits, starts and finishes."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.starts: list[float] = []
        self.finishes: list[float] = []

    def reset(self) -> None:
        """Forget everything recorded so far."""
        self.waits = []
        self.starts = []
        self.finishes = []


TALLY = Tally()
PROBE = Probe()


@burro.worker
def noop(index: int = 0) -> None:
    """Does nothing but count itself."""
    TALLY.hit()


@burro.worker
def stamped(enqueued_at: float | None = None) -> None:
    """Records when it started (and its wait since ``enqueued_at``) and when it finished."""
    started = time.perf_counter()
    PROBE.starts.append(started)
    if enqueued_at is not None:
        PROBE.waits.append(started - enqueued_at)
    PROBE.finishes.append(time.perf_counter())
    TALLY.hit()
