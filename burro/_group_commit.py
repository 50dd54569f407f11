"""Group commit: concurrent writers share one commit (leader/follower).

Every writer queues an item. The first to arrive leads: it takes everything queued so
far and commits it as one batch while the others wait. If more arrived meanwhile,
leadership passes to the first of them, so no writer commits for others for long. N
writers arriving together cost one commit (and, with ``durability="fsync"``, one fsync).
Used twice: by LMDB storage for any concurrent writes, and by the workers, which merge
their outcomes into one ``settle_and_claim``.

Two refinements serve a store whose commits wait for the disk (given ``make_durable``):

* Durability is pipelined. LMDB makes a commit durable with two flushes: its data, then
  the meta page that makes it current. The store leaves the second out; the next
  commit's data flush carries that meta page to disk as well. A batch is therefore
  acknowledged only once it is durable: after the next batch has committed (when
  ``commit_batch`` returns True), or, if no writer is waiting, after ``make_durable()``.
  If that next commit raises or ``make_durable()`` fails, the writers held for it fail
  with that error although their commits stand and are visible (a job enqueued so runs):
  a StorageError from a failed flush means "not known to be on disk", not "not written".
  The write may survive a power cut or be lost; a caller that retries it may write twice.
* A leader gathers its batch. Writers that shared the previous commit tend to come back
  together (a producer and the worker running its jobs, several producer threads): a
  leader with nothing held waits for as many of them as that commit carried, at most a
  quarter of its duration, so that they share the next commit too. (With batches held,
  it commits at once: their writers cannot come back before it has.)
"""

from __future__ import annotations

import threading
import time
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
    every ticket, or raise (then every ticket of the batch fails with that error). With
    ``make_durable`` (a store whose commits wait for the disk), it returns whether its
    commit flushed every earlier one to disk, and a ticket that succeeded is acknowledged
    only once its commit is durable (a raise fails the held tickets too); leaders also
    gather their batches (see the module). Without it, ``commit_one(item)`` (if given)
    commits a writer that finds nobody leading, returning its result or raising.
    """

    def __init__(
        self,
        commit_batch: Callable[[list[Ticket]], bool | None],
        make_durable: Callable[[], None] | None = None,
        *,
        gather_share: float = 0.25,
        commit_one: Callable[[Any], Any] | None = None,
    ) -> None:
        self._commit_batch = commit_batch
        #: A lone writer's commit, without building a ticket (stores without make_durable).
        self._commit_one = commit_one
        self._make_durable = make_durable
        #: The longest a leader gathers writers, as a share of the previous commit's duration.
        self._gather_share = gather_share
        self._lock = threading.Lock()
        self._queued: list[Ticket] = []
        self._leading = False
        #: Committed but not yet durable, acknowledged by a later leader (with make_durable).
        self._held: list[Ticket] = []
        #: Set whenever a writer queues behind a leader (a gathering leader waits on it).
        self._arrived = threading.Event()
        self._last_size = 1
        self._last_duration = 0.0

    def run(self, item: Any) -> Any:
        """Queue ``item``, wait until its batch is committed, return its result."""
        if self._make_durable is not None:
            return self._run_queued(item, durable=True)
        with self._lock:
            alone = not self._leading
            self._leading = True
        if not alone:
            return self._run_queued(item, durable=False)
        # Nobody leads: commit at once, as a batch of one (by commit_one: without a ticket).
        # Inline, like the hand-over below (_hand_over's work): this runs for every write.
        try:
            if self._commit_one is not None:
                return self._commit_one(item)
            ticket = Ticket(item)
            self._commit_batch([ticket])
        finally:
            with self._lock:  # to the first writer that queued meanwhile, if any
                if self._queued:
                    successor = self._queued[0].wake
                    assert successor is not None  # queued while this writer led
                    successor.set()
                else:
                    self._leading = False  # nothing is ever held without make_durable
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _run_queued(self, item: Any, *, durable: bool) -> Any:
        """:meth:`run` for a writer that queues its item (a leader is active, or disk waits)."""
        ticket: Ticket = Ticket(item)
        with self._lock:
            lead, self._leading = not self._leading, True
            # A leader of a durable store may hand over before its own batch is durable.
            if not lead or durable:
                ticket.wake = threading.Event()
            self._queued.append(ticket)
        lead_batch = self._lead_durable if durable else self._lead
        if lead:
            lead_batch()
        elif durable:
            self._arrived.set()
        while not ticket.done:
            assert ticket.wake is not None
            ticket.wake.wait()
            if not ticket.done:  # leadership was passed on to this writer
                ticket.wake.clear()
                lead_batch()
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
            _finish(batch)
            self._hand_over()

    def _hand_over(self) -> bool:
        """Wake the next leader if a writer is queued (True), else stop leading."""
        with self._lock:
            if self._queued:
                successor = self._queued[0].wake
                assert successor is not None  # queued while a leader was active
                successor.set()
                return True
            if not self._held:
                self._leading = False
            return False

    def _lead_durable(self) -> None:
        if self._last_size > 1 and not self._held:
            self._gather(self._last_size, self._last_duration * self._gather_share)
        with self._lock:
            batch, self._queued = self._queued, []
        started = time.monotonic()
        _finish(self._commit(batch))
        self._last_size, self._last_duration = len(batch), time.monotonic() - started
        while not self._hand_over() and self._held:
            _finish(self._settle())  # nobody follows whose commit would flush them

    def _gather(self, wanted: int, longest: float) -> None:
        """Wait until ``wanted`` writers are queued, or for ``longest`` seconds."""
        deadline = time.monotonic() + longest
        while True:
            self._arrived.clear()
            with self._lock:
                if len(self._queued) >= wanted:
                    return
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._arrived.wait(remaining):
                return

    def _commit(self, batch: list[Ticket]) -> list[Ticket]:
        """Commit one batch of a durable store; returns the tickets now final."""
        try:
            flushed = self._commit_batch(batch)
        except BaseException as error:
            # This commit's flush was to carry the held batches to disk, and whether any of
            # it reached the disk is unknown: they can no longer be acknowledged as durable.
            finished, self._held = [*self._held, *batch], []
            for ticket in finished:
                ticket.fail(error)
            return finished
        # A failure is final at once; a success only once a flush has carried it to disk.
        finished = [ticket for ticket in batch if ticket.error is not None]
        if flushed:
            finished += self._held
            self._held = []
        self._held += [ticket for ticket in batch if ticket.error is None]
        return finished

    def _settle(self) -> list[Ticket]:
        """Make the held batches durable (they fail if that fails); returns them."""
        assert self._make_durable is not None
        held, self._held = self._held, []
        try:
            self._make_durable()
        except BaseException as error:
            for ticket in held:
                ticket.fail(error)
        return held


def _finish(tickets: list[Ticket]) -> None:
    """Tell the writers of ``tickets`` that their outcome is final."""
    for ticket in tickets:
        ticket.done = True
        if ticket.wake is not None:
            ticket.wake.set()
