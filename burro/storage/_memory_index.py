"""Ordered indexes of the in-memory job store.

:class:`SortedKeys` is a sorted set of integer tuples kept in bounded chunks, so adding,
removing and finding the first ``k`` keys cost ``O(log n + k)`` (plus a bounded chunk
shift) however many keys it holds. :class:`JobIndex` keeps, for every stored job, the
entries the store reads by: ready jobs per queue, due jobs, claims per runtime, listing
orders per (queue, state, worker) and counts per queue and state.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import islice

from burro.states import FINISHED_STATES, TaskState

__all__ = [
    "NULL_LAST",
    "ORDERS",
    "Entry",
    "JobIndex",
    "Listing",
    "ListingKey",
    "SortedKeys",
    "micros",
]

#: An index key: integers compared left to right, the job's sequence number last.
Key = tuple[int, ...]
#: Identifies one listing partition: (queue, state, worker).
ListingKey = tuple[str, TaskState, str]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MICROSECOND = timedelta(microseconds=1)
#: First element of a listing key whose time is unset: such jobs sort after the others.
NULL_LAST = 1


def micros(moment: datetime) -> int:
    """``moment`` as whole microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _ONE_MICROSECOND


def _nullable(moment: datetime | None, seq: int) -> Key:
    # Unset times sort after set ones ascending (as SQL's default NULLS LAST does).
    return (NULL_LAST, 0, seq) if moment is None else (0, micros(moment), seq)


class SortedKeys:
    """A sorted set of keys stored in chunks of bounded size."""

    _CHUNK = 512

    def __init__(self) -> None:
        self._chunks: list[list[Key]] = []
        self._maxes: list[Key] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, key: Key) -> None:
        """Insert ``key`` (keys are unique by construction)."""
        self._size += 1
        if not self._chunks:
            self._chunks.append([key])
            self._maxes.append(key)
            return
        at = bisect_left(self._maxes, key)
        if at == len(self._maxes):
            at -= 1
        chunk = self._chunks[at]
        insort(chunk, key)
        self._maxes[at] = chunk[-1]
        if len(chunk) > 2 * self._CHUNK:
            self._chunks[at : at + 1] = [chunk[: self._CHUNK], chunk[self._CHUNK :]]
            self._maxes[at : at + 1] = [chunk[self._CHUNK - 1], chunk[-1]]

    def remove(self, key: Key) -> None:
        """Remove ``key``, which must be present."""
        at = bisect_left(self._maxes, key)
        if at == len(self._maxes):
            raise KeyError(key)
        chunk = self._chunks[at]
        position = bisect_left(chunk, key)
        if chunk[position] != key:
            raise KeyError(key)
        del chunk[position]
        self._size -= 1
        if chunk:
            self._maxes[at] = chunk[-1]
        else:
            del self._chunks[at]
            del self._maxes[at]

    def first(self) -> Key | None:
        """The smallest key, or ``None`` when empty."""
        return self._chunks[0][0] if self._chunks else None

    def ordered(self, *, descending: bool = False) -> Iterator[Key]:
        """Every key, smallest first (largest first if ``descending``)."""
        if descending:
            for chunk in reversed(self._chunks):
                yield from reversed(chunk)
        else:
            for chunk in self._chunks:
                yield from chunk


@dataclass(frozen=True, slots=True)
class Entry:
    """What :class:`JobIndex` needs to know about a job to place it."""

    seq: int
    queue: str
    worker: str
    state: TaskState
    priority: int
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None
    completed_at: datetime | None
    claimed_by: str | None
    job_id: str

    def listing_keys(self) -> dict[str, Key]:
        """The key of this job in each listing order."""
        return {
            "inserted_at": (0, micros(self.inserted_at), self.seq),
            "scheduled_at": (0, micros(self.scheduled_at), self.seq),
            "priority": (0, self.priority, self.seq),
            "attempted_at": _nullable(self.attempted_at, self.seq),
            "completed_at": _nullable(self.completed_at, self.seq),
        }


#: The orders :meth:`JobIndex.ordered` can merge partitions in.
ORDERS = ("inserted_at", "scheduled_at", "priority", "attempted_at", "completed_at")


class Listing:
    """The jobs of one (queue, state, worker) partition, in every listing order."""

    __slots__ = ("orders",)

    def __init__(self) -> None:
        self.orders = {order: SortedKeys() for order in ORDERS}

    def __len__(self) -> int:
        return len(self.orders["inserted_at"])

    def add(self, entry: Entry) -> None:
        """Place ``entry`` in every order."""
        for order, key in entry.listing_keys().items():
            self.orders[order].add(key)

    def remove(self, entry: Entry) -> None:
        """Take ``entry`` out of every order."""
        for order, key in entry.listing_keys().items():
            self.orders[order].remove(key)


class JobIndex:
    """Every index of the in-memory store; callers hold the store's lock."""

    def __init__(self) -> None:
        self.ready: dict[str, SortedKeys] = {}
        self.due = SortedKeys()
        self.claims: dict[str, set[str]] = {}
        self.listings: dict[ListingKey, Listing] = {}
        self.counts: dict[str, dict[TaskState, int]] = {}

    def add(self, entry: Entry) -> None:
        """Index a job in its current state."""
        self._count(entry, 1)
        if entry.state is TaskState.PENDING:
            ready = self.ready.get(entry.queue)
            if ready is None:
                ready = self.ready[entry.queue] = SortedKeys()
            ready.add(_ready_key(entry))
        elif entry.state in (TaskState.SCHEDULED, TaskState.RETRYABLE):
            self.due.add(_due_key(entry))
        elif entry.state is TaskState.RUNNING and entry.claimed_by is not None:
            self.claims.setdefault(entry.claimed_by, set()).add(entry.job_id)
        partition = _listing_key(entry)
        listing = self.listings.get(partition)
        if listing is None:
            listing = self.listings[partition] = Listing()
        listing.add(entry)

    def remove(self, entry: Entry) -> None:
        """Forget a job as it was indexed by :meth:`add`."""
        self._count(entry, -1)
        if entry.state is TaskState.PENDING:
            self.ready[entry.queue].remove(_ready_key(entry))
        elif entry.state in (TaskState.SCHEDULED, TaskState.RETRYABLE):
            self.due.remove(_due_key(entry))
        elif entry.state is TaskState.RUNNING and entry.claimed_by is not None:
            claims = self.claims[entry.claimed_by]
            claims.discard(entry.job_id)
            if not claims:
                del self.claims[entry.claimed_by]
        partition = _listing_key(entry)
        listing = self.listings[partition]
        listing.remove(entry)
        if not listing:
            del self.listings[partition]

    def _count(self, entry: Entry, delta: int) -> None:
        per_state = self.counts.get(entry.queue)
        if per_state is None:
            per_state = self.counts[entry.queue] = dict.fromkeys(TaskState, 0)
        per_state[entry.state] += delta

    def partitions(
        self, states: Iterable[TaskState] | None, queue: str | None, worker: str | None
    ) -> list[ListingKey]:
        """The listing partitions matching a filter."""
        wanted = None if states is None else frozenset(states)
        return [
            key
            for key in self.listings
            if (queue is None or key[0] == queue)
            and (wanted is None or key[1] in wanted)
            and (worker is None or key[2] == worker)
        ]

    def total(self, partitions: Iterable[ListingKey]) -> int:
        """How many jobs the given partitions hold."""
        return sum(len(self.listings[key]) for key in partitions)

    def ordered(
        self, partitions: Iterable[ListingKey], order: str, *, descending: bool = False
    ) -> Iterator[Key]:
        """The keys of the given partitions merged in one listing order."""
        streams = [
            self.listings[key].orders[order].ordered(descending=descending) for key in partitions
        ]
        return heapq.merge(*streams, reverse=descending)

    def page(
        self, partitions: list[ListingKey], order: str, offset: int, limit: int, *, descending: bool
    ) -> list[int]:
        """The sequence numbers of one page of the given partitions (empty past the end)."""
        # Bounded by the total first: islice refuses offsets beyond sys.maxsize.
        stop = min(offset + max(limit, 0), self.total(partitions))
        if offset >= stop:
            return []
        keys = self.ordered(partitions, order, descending=descending)
        return [key[-1] for key in islice(keys, offset, stop)]

    def finished_before(self, states: frozenset[TaskState], before: datetime) -> Iterator[int]:
        """Sequence numbers of finished jobs in ``states`` completed before ``before``."""
        partitions = self.partitions(states & FINISHED_STATES, None, None)
        cut = micros(before)
        for null, completed, seq in self.ordered(partitions, "completed_at"):
            if null == NULL_LAST or completed >= cut:
                return
            yield seq


def _ready_key(entry: Entry) -> Key:
    return (entry.priority, micros(entry.scheduled_at), entry.seq)


def _due_key(entry: Entry) -> Key:
    return (micros(entry.scheduled_at), entry.seq)


def _listing_key(entry: Entry) -> ListingKey:
    return (entry.queue, entry.state, entry.worker)
