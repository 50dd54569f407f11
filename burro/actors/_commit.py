"""The workers' group commit: outcomes of jobs finishing together share one write.

Each finishing worker hands in its job's settlement and, if its slot may go on, asks for
its queue's next job. A leader merges everything handed in into a single
:meth:`Storage.settle_and_claim` (see :mod:`burro._group_commit`), so N workers
finishing at once cost one transaction and one claim per queue.
"""

from __future__ import annotations

from collections import Counter
from contextlib import AbstractContextManager
from typing import NamedTuple

from burro._group_commit import GroupCommitter, Ticket
from burro.clock import Clock
from burro.storage.base import Job, Settlement, Storage

__all__ = ["SettlementBatcher"]


class _Finished(NamedTuple):
    settlement: Settlement
    next_from: str | None


class SettlementBatcher:
    """Commits the settlements of concurrent workers together."""

    def __init__(
        self,
        storage: Storage,
        runtime_id: str,
        clock: Clock,
        turn: AbstractContextManager[object],
    ) -> None:
        self._storage = storage
        self._runtime_id = runtime_id
        self._clock = clock
        self._turn = turn
        self._group = GroupCommitter(self._commit)

    def finish(
        self, settlement: Settlement, next_from: str | None
    ) -> tuple[Job | None, Job | None]:
        """Commit ``settlement`` and claim one job of queue ``next_from`` in the same write.

        Returns the settled job (None if the settlement was stale) and the claimed job.
        """
        result: tuple[Job | None, Job | None] = self._group.run(_Finished(settlement, next_from))
        return result

    def _commit(self, batch: list[Ticket]) -> None:
        try:
            self._apply(batch)
        except Exception:
            if len(batch) == 1:
                raise
            # One bad settlement must not fail its neighbours: commit each alone.
            for ticket in batch:
                self._commit_alone(ticket)

    def _commit_alone(self, ticket: Ticket) -> None:
        try:
            self._apply([ticket])
        except Exception as error:
            ticket.fail(error)

    def _apply(self, batch: list[Ticket]) -> None:
        items: list[_Finished] = [ticket.item for ticket in batch]
        if len(items) == 1:  # the common case, without counting
            wanted = {} if items[0].next_from is None else {items[0].next_from: 1}
        else:
            wanted = Counter(item.next_from for item in items if item.next_from is not None)
        with self._turn:  # see burro._turns
            settled, claimed = self._storage.settle_and_claim(
                [item.settlement for item in items], wanted, self._runtime_id, self._clock.now()
            )
        pools = {queue: list(reversed(jobs)) for queue, jobs in claimed.items()}
        for ticket, item, job in zip(batch, items, settled, strict=True):
            pool = pools.get(item.next_from or "")
            ticket.succeed((job, pool.pop() if pool else None))
