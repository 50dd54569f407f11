"""Group commit: concurrent writers share one commit (leader/follower).

Every writer queues an item. The first to arrive leads: it takes everything queued so
far and commits it as one batch while the others wait. If more arrived meanwhile,
leadership passes to the first of them, so no writer commits for others for long. N
writers arriving together cost one commit (and, with ``durability="fsync"``, one fsync).
Used twice: by LMDB storage for any concurrent writes, and by the workers, which merge
their outcomes into one ``settle_and_claim``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["GroupCommitter", "Ticket"]


@dataclass(eq=False, slots=True)
class Ticket:
    """One writer's item and, once its batch is committed, its outcome."""

    item: Any
    #: Only a writer that has to wait gets an event (the uncontended path makes none).
    wake: threading.Event | None = None
    done: bool = False
    result: Any = None
    error: BaseException | None = None

    def succeed(self, result: Any) -> None:
        """Record the work's result."""
        self.result, self.error = result, None

    def fail(self, error: BaseException) -> None:
        """Record why the work failed (the writer raises it)."""
        self.result, self.error = None, error


class GroupCommitter:
    """Runs queued work in batches through ``commit_batch``, one batch at a time.

    ``commit_batch(tickets)`` must call :meth:`Ticket.succeed` or :meth:`Ticket.fail` on
    every ticket, or raise (then every ticket of the batch fails with that error).
    """

    def __init__(self, commit_batch: Callable[[list[Ticket]], None]) -> None:
        self._commit_batch = commit_batch
        self._lock = threading.Lock()
        self._queued: list[Ticket] = []
        self._leading = False

    def run(self, item: Any) -> Any:
        """Queue ``item``, wait until its batch is committed, return its result."""
        ticket: Ticket = Ticket(item)
        with self._lock:
            lead, self._leading = not self._leading, True
            if not lead:
                ticket.wake = threading.Event()
            self._queued.append(ticket)
        if lead:
            self._lead()
        while not ticket.done:
            assert ticket.wake is not None  # a follower's
            ticket.wake.wait()
            if not ticket.done:  # leadership was passed on to this writer
                ticket.wake.clear()
                self._lead()
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _lead(self) -> None:
        with self._lock:
            batch, self._queued = self._queued, []
        try:
            self._commit_batch(batch)
        except BaseException as error:
            for ticket in batch:
                ticket.fail(error)
        finally:
            for ticket in batch:
                ticket.done = True
                if ticket.wake is not None:
                    ticket.wake.set()
            with self._lock:
                if self._queued:
                    successor = self._queued[0].wake
                    assert successor is not None  # queued while a leader was active
                    successor.set()  # the next leader
                else:
                    self._leading = False
