"""Watching queue capacity: a WARNING when a queue's workers are all busy and jobs wait."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any, Protocol

from burro.states import TaskState
from burro.storage.base import Storage

__all__ = ["CapacityWatch", "SlotTable"]

logger = logging.getLogger("burro.queue")


class SlotTable(Protocol):
    """The worker slots of one queue in one runtime (``burro.actors._hub.QueueHub``)."""

    @property
    def name(self) -> str:
        """The queue's name."""

    @property
    def concurrency(self) -> int:
        """How many jobs the queue runs at once."""

    def running_jobs(self) -> Mapping[int, str]:
        """Slot → job id for every busy slot."""

    def idle_slots(self) -> list[int]:
        """Slots that may take a job now (none while paused or stopping)."""

    def worker_refs(self) -> Mapping[int, Any]:
        """Slot → worker; empty where this runtime runs no workers for the queue."""


class CapacityWatch:
    """Warns when a queue runs at full concurrency with a backlog of pending jobs.

    Called as each attempt starts; it looks at most once a second per queue (a storage
    count) and warns at most once a minute per queue.
    """

    CHECK_INTERVAL = 1.0
    WARNING_INTERVAL = 60.0

    def __init__(self, storage: Storage, hubs: Mapping[str, SlotTable]) -> None:
        self._storage = storage
        self._hubs = hubs
        self._next_check: dict[str, float] = {}

    def check(self, queue: str) -> None:
        """Look at ``queue`` if it is time to, and warn if it is at capacity."""
        now = time.monotonic()
        if now < self._next_check.get(queue, 0.0):
            return
        self._next_check[queue] = now + self.CHECK_INTERVAL
        hub = self._hubs.get(queue)
        if hub is None:
            return
        busy = len(hub.running_jobs())
        if busy < hub.concurrency:
            return
        waiting = self._storage.counts().get(queue, {}).get(TaskState.PENDING, 0)
        if waiting:
            self._next_check[queue] = now + self.WARNING_INTERVAL
            logger.warning(
                "queue %s is at capacity: %d/%d workers busy, %d job(s) waiting",
                queue,
                busy,
                hub.concurrency,
                waiting,
                extra={"queue": queue, "busy": busy, "waiting": waiting},
            )
