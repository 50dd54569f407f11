"""Group commit: the outcomes of workers finishing together share one transaction.

Each finishing worker hands in its job's settlement (and, if its slot may go on, asks for
the queue's next job). The first to arrive becomes the leader and commits everything
handed in so far in one :meth:`Storage.settle_and_claim`; the others wait for it. When
more arrived meanwhile, leadership passes to the first of them, so no worker commits
for others for long. N workers finishing at once cost one write (and one fsync).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from dataclasses import dataclass, field

from burro.clock import Clock
from burro.storage.base import Job, Settlement, Storage

__all__ = ["GroupCommit"]

logger = logging.getLogger("burro.worker")


@dataclass(eq=False, slots=True)
class _Handoff:
    """One worker's settlement, waiting for a leader to commit it."""

    settlement: Settlement
    queue: str | None
    wake: threading.Event = field(default_factory=threading.Event)
    committed: bool = False
    settled: Job | None = None
    claimed: Job | None = None
    error: BaseException | None = None


class GroupCommit:
    """Commits the settlements of concurrent workers together (leader/follower)."""

    def __init__(self, storage: Storage, runtime_id: str, clock: Clock) -> None:
        self._storage = storage
        self._runtime_id = runtime_id
        self._clock = clock
        self._lock = threading.Lock()
        self._waiting: list[_Handoff] = []
        self._leading = False

    def finish(
        self, settlement: Settlement, next_from: str | None
    ) -> tuple[Job | None, Job | None]:
        """Commit ``settlement``; claim one job of queue ``next_from`` in the same write.

        Returns the settled job (None if the settlement was stale) and the claimed job.
        """
        handoff = _Handoff(settlement, next_from)
        with self._lock:
            self._waiting.append(handoff)
            lead, self._leading = not self._leading, True
        if lead:
            self._lead()
        while not handoff.committed:
            handoff.wake.wait()
            if not handoff.committed:  # leadership was passed on to this worker
                handoff.wake.clear()
                self._lead()
        if handoff.error is not None:
            raise handoff.error
        return handoff.settled, handoff.claimed

    def _lead(self) -> None:
        with self._lock:
            batch, self._waiting = self._waiting, []
        self._commit(batch)
        with self._lock:
            if self._waiting:
                self._waiting[0].wake.set()  # the next leader
            else:
                self._leading = False

    def _commit(self, batch: list[_Handoff]) -> None:
        try:
            self._apply(batch)
        except Exception as error:
            if len(batch) == 1:
                batch[0].error = error
            else:
                # One bad settlement must not fail its neighbours: commit each alone.
                for handoff in batch:
                    self._commit([handoff])
                return
        for handoff in batch:
            handoff.committed = True
            handoff.wake.set()

    def _apply(self, batch: list[_Handoff]) -> None:
        wanted = Counter(h.queue for h in batch if h.queue is not None)
        settled, claimed = self._storage.settle_and_claim(
            [h.settlement for h in batch], wanted, self._runtime_id, self._clock.now()
        )
        pools = {queue: list(reversed(jobs)) for queue, jobs in claimed.items()}
        for handoff, job in zip(batch, settled, strict=True):
            handoff.settled = job
            pool = pools.get(handoff.queue or "")
            handoff.claimed = pool.pop() if pool else None
