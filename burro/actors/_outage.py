"""Storage outages: a full disk or a store refusing writes is ridden out, not crashed on.

A failing storage write is not a bug in an actor, so restarting the actor cannot mend
it: a queue, a scheduler or a worker that crashed on it would crash again at once, use up
its supervisor's restart budget in milliseconds and take the runtime down, although the
disk may have room again a minute later. Instead the actor that met the failure reports
it here and tries again after a growing pause; ``health()`` says ``degraded`` meanwhile,
one ERROR is logged when the outage starts and one WARNING when it ends.
"""

from __future__ import annotations

import logging
import threading
import time

from burro.errors import StorageError

__all__ = ["StorageOutage"]

logger = logging.getLogger("burro.storage")

#: The first pause before trying a failed write again, and the longest.
FIRST_PAUSE = 0.05
LONGEST_PAUSE = 5.0


class StorageOutage:
    """The runtime's current storage outage, if any, shared by all its actors."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._halted = threading.Event()
        #: The latest failure of the outage under way, or ``None``: read unlocked on hot paths.
        self.error: StorageError | None = None
        self._failures = 0
        self._since = 0.0

    def failed(self, error: StorageError, where: str) -> float:
        """Record that ``where`` met ``error``; returns how long to pause before trying again."""
        with self._lock:
            first = self.error is None
            if first:
                self._since = time.monotonic()
                self._failures = 0
            self.error = error
            self._failures += 1
            failures = self._failures
        if first:
            logger.error("storage is failing (%s): %s; retrying until it recovers", where, error)
        else:
            logger.debug("storage still failing (%s): %s", where, error)
        return min(FIRST_PAUSE * 2.0 ** min(failures - 1, 16), LONGEST_PAUSE)

    def recovered(self) -> None:
        """A write succeeded: the outage, if one was under way, is over."""
        with self._lock:
            if self.error is None:
                return
            self.error = None
            failures, lasted = self._failures, time.monotonic() - self._since
        logger.warning("storage recovered after %d failed attempt(s) over %.1f s", failures, lasted)

    def problem(self) -> str | None:
        """What ``health()`` reports while an outage is under way."""
        error = self.error
        if error is None:
            return None
        return f"storage failing for {time.monotonic() - self._since:.1f} s: {error}"

    def pause(self, seconds: float) -> None:
        """Wait ``seconds`` before trying again, or less if the runtime is stopping."""
        self._halted.wait(seconds)

    def halt(self) -> None:
        """The runtime stops waiting for running jobs: end every pause, give up retrying."""
        self._halted.set()

    @property
    def halted(self) -> bool:
        """Whether :meth:`halt` was called: writes are no longer retried."""
        return self._halted.is_set()
