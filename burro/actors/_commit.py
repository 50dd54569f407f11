"""The workers' commits: a job's outcome and its slot's next claim, in one write.

Each finishing worker hands in its job's settlement and, if its slot may go on, asks for
its queue's next job. Where a commit waits for the disk (``durability="fsync"`` on
LMDB), outcomes of jobs finishing together share one write: a leader merges everything
handed in into a single :meth:`Storage.settle_and_claim` (see :mod:`burro._group_commit`),
so N workers finishing at once cost one transaction, one flush and one claim per queue.

Elsewhere a commit costs less than handing a batch from one worker thread to another:
each worker commits its own outcome under its queue's claims lock. Measured with four
workers emptying a full queue of no-op jobs on two CPUs: 24,000 jobs/s against 16,500
when they share commits, which wakes every follower on the other CPU (three context
switches per job against one). The lock is not fair: while the jobs are that short, a
worker can wait a few hundred milliseconds to record its outcome.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import NamedTuple

from burro._group_commit import GroupCommitter, Ticket
from burro.actors._hub import QueueHub
from burro.clock import Clock
from burro.storage.base import Job, Settlement, Storage

__all__ = ["SettlementBatcher", "shares_commits"]


class _Finished(NamedTuple):
    settlement: Settlement
    #: The queue to claim the slot's next job from, or None.
    next_from: str | None
    #: The worker slot (of queue ``next_from``) the next job is for.
    slot: int = 0


#: Builds a _Finished from its fields in order, without the named tuple's Python __new__.
_finished = tuple.__new__


def shares_commits(backend: str, durability: str) -> bool:
    """Whether concurrent workers' outcomes share commits (see the module)."""
    return backend == "lmdb" and durability == "fsync"


class SettlementBatcher:
    """Commits the settlements of workers: together if ``grouped``, else each alone."""

    def __init__(
        self,
        storage: Storage,
        runtime_id: str,
        clock: Clock,
        turn: AbstractContextManager[object],
        hubs: Mapping[str, QueueHub],
        *,
        grouped: bool = True,
    ) -> None:
        self._storage = storage
        self._runtime_id = runtime_id
        self._clock = clock
        self._turn = turn
        self._hubs = hubs
        self._group = GroupCommitter(self._commit, commit_one=self._settle_one) if grouped else None

    def finish(
        self, settlement: Settlement, next_from: str | None, slot: int = 0
    ) -> tuple[Job | None, Job | None]:
        """Commit ``settlement`` and claim one job of queue ``next_from`` in the same write.

        The claimed job is recorded as claimed for ``slot`` of that queue's hub before
        its claims lock is let go, so the QueueActor never takes it for a stranded claim.
        Returns the settled job (None if the settlement was stale) and the claimed job.
        """
        item = _finished(_Finished, (settlement, next_from, slot))
        if self._group is None:
            return self._settle_one(item)
        result: tuple[Job | None, Job | None] = self._group.run(item)
        return result

    def _commit(self, batch: list[Ticket]) -> None:
        if len(batch) == 1:  # the common case: its error is its own writer's
            self._apply_one(batch[0])
            return
        try:
            self._apply(batch)
        except Exception:
            # One bad settlement must not fail its neighbours: commit each alone.
            for ticket in batch:
                self._commit_alone(ticket)

    def _commit_alone(self, ticket: Ticket) -> None:
        try:
            self._apply_one(ticket)
        except Exception as error:
            ticket.fail(error)

    def _apply(self, batch: list[Ticket]) -> None:
        items: list[_Finished] = [ticket.item for ticket in batch]
        wanted = Counter(item.next_from for item in items if item.next_from is not None)
        with self._claims_locked(wanted):
            with self._turn:  # see burro._turns
                settled, claimed = self._storage.settle_and_claim(
                    [item.settlement for item in items], wanted, self._runtime_id, self._clock.now()
                )
            pools = {queue: list(reversed(jobs)) for queue, jobs in claimed.items()}
            for ticket, item, job in zip(batch, items, settled, strict=True):
                pool = pools.get(item.next_from or "")
                self._hand_out(ticket, job, pool.pop() if pool else None)

    def _apply_one(self, ticket: Ticket) -> None:
        """:meth:`_apply` for the common batch of one, without pooling the claims."""
        ticket.succeed(self._settle_one(ticket.item))

    def _settle_one(self, item: _Finished) -> tuple[Job | None, Job | None]:
        """Commit one writer's item: its settled job, and the job claimed for its slot.

        A lone writer's whole commit (the group committer calls it without a ticket).
        """
        queue = item.next_from
        if queue is None:
            with self._turn:  # see burro._turns
                (job,), _ = self._storage.settle_and_claim(
                    [item.settlement], {}, self._runtime_id, self._clock.now()
                )
            return job, None
        hub = self._hubs[queue]
        with hub.claims_lock:
            with self._turn:
                (job,), claimed = self._storage.settle_and_claim(
                    [item.settlement], {queue: 1}, self._runtime_id, self._clock.now()
                )
            next_jobs = claimed.get(queue)
            if not next_jobs:
                return job, None
            next_job = next_jobs[0]
            # Recorded before the claims lock is let go (see finish).
            hub.claimed_for(item.slot, next_job.id)
        return job, next_job

    def _hand_out(self, ticket: Ticket, settled: Job | None, next_job: Job | None) -> None:
        """Give a writer its outcome; its next job is recorded as claimed for its slot first."""
        if next_job is not None:
            self._hubs[next_job.queue].claimed_for(ticket.item.slot, next_job.id)
        ticket.succeed((settled, next_job))

    def _claims_locked(self, queues: Mapping[str, int]) -> AbstractContextManager[object]:
        """The claims locks of the hubs of ``queues``, taken in name order."""
        if not queues:
            return contextlib.nullcontext()
        if len(queues) == 1:
            (queue,) = queues
            return self._hubs[queue].claims_lock
        stack = contextlib.ExitStack()
        for queue in sorted(queues):
            stack.enter_context(self._hubs[queue].claims_lock)
        return stack
