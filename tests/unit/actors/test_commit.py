"""The workers' group commit: outcomes merged into one write, bad ones isolated."""

from __future__ import annotations

import contextlib
import threading
from typing import Any, cast

import pytest

from burro._group_commit import Ticket
from burro.actors._commit import SettlementBatcher, _Finished, shares_commits
from burro.actors._hub import QueueHub
from burro.clock import ManualClock
from burro.states import TaskState
from burro.storage import Complete, NewJob, open_storage
from burro.storage.base import Job, Storage
from tests.unit.test_group_commit import wait_for_queued


def _claimed(inserted: int, claimed: int) -> tuple[ManualClock, Storage, list[Job]]:
    """A memory store with ``inserted`` jobs on queue default, the first ``claimed`` claimed."""
    clock = ManualClock()
    storage = open_storage("memory", "")
    for n in range(inserted):
        storage.insert(NewJob(queue="default", worker="w", function="f", args=(n,)), clock.now())
    return clock, storage, storage.claim("default", claimed, "rt", clock.now())


def test_merged_outcomes_claim_next_jobs_and_a_bad_result_fails_alone() -> None:
    clock, storage, (first, second) = _claimed(4, 2)
    try:
        hubs = {"default": QueueHub("default", 2, threading.Condition())}
        batcher = SettlementBatcher(storage, "rt", clock, contextlib.nullcontext(), hubs)
        good = Ticket(_Finished(Complete(first.id, "rt", 1, result="fine"), "default"))
        bad = Ticket(_Finished(Complete(second.id, "rt", 1, result=object()), "default"))
        batcher._commit([good, bad])
        settled, claimed = good.result
        assert settled.state is TaskState.COMPLETED
        assert claimed is not None and claimed.state is TaskState.RUNNING
        assert claimed.id in hubs["default"].held_jobs()  # recorded before the lock is let go
        assert bad.error is not None  # its neighbour was committed regardless
        assert storage.get(second.id).state is TaskState.RUNNING  # still held, not lost
    finally:
        storage.close()


def _finish_both_ways(next_from: str | None) -> list[tuple[object, ...]]:
    """What a lone finish (the fast path) and a batch of one (the general path) did."""
    seen = []
    for fast in (True, False):
        clock, storage, (first,) = _claimed(3, 1)
        try:
            hubs = {"default": QueueHub("default", 2, threading.Condition())}
            batcher = SettlementBatcher(storage, "rt", clock, contextlib.nullcontext(), hubs)
            settlement = Complete(first.id, "rt", 1, result="fine")
            if fast:
                settled, claimed = batcher.finish(settlement, next_from, 1)
            else:
                ticket = Ticket(_Finished(settlement, next_from, 1))
                batcher._commit([ticket])
                settled, claimed = ticket.result
            assert settled is not None
            seen.append(
                (
                    settled.state,
                    settled.result,
                    None if claimed is None else (claimed.state, claimed.args),
                    {slot: storage.get(job).args for slot, job in hubs["default"]._claimed.items()},
                    storage.counts(),
                )
            )
        finally:
            storage.close()
    return seen


def test_a_lone_finish_settles_and_claims_as_a_batch_of_one_does() -> None:
    fast, general = _finish_both_ways("default")
    assert fast == general
    assert fast[2] == (TaskState.RUNNING, (1,)) and fast[3] == {1: (1,)}
    fast, general = _finish_both_ways(None)  # a slot that may not go on claims nothing
    assert fast == general
    assert fast[2] is None and fast[3] == {}


class HeldStore:
    """A store whose first ``settle_and_claim`` waits for :attr:`release`.

    Records how many settlements each call carried, and when each call came in.
    """

    def __init__(self, storage: Storage) -> None:
        self.storage = storage
        self.sizes: list[int] = []
        self.release = threading.Event()
        self.arrived = threading.Condition()

    def settle_and_claim(self, settlements: Any, *args: Any) -> Any:
        with self.arrived:
            self.sizes.append(len(settlements))
            first = len(self.sizes) == 1
            self.arrived.notify_all()
        if first:
            assert self.release.wait(10)
        return self.storage.settle_and_claim(settlements, *args)

    def wait_for_calls(self, count: int) -> bool:
        with self.arrived:
            return self.arrived.wait_for(lambda: len(self.sizes) >= count, timeout=10)


def _finish_three_while_the_first_commits(grouped: bool) -> HeldStore:
    """Three workers finish; the second and third while the first one's commit runs."""
    clock, storage, jobs = _claimed(3, 3)
    try:
        store = HeldStore(storage)
        hubs = {"default": QueueHub("default", 3, threading.Condition())}
        batcher = SettlementBatcher(
            cast(Storage, store), "rt", clock, contextlib.nullcontext(), hubs, grouped=grouped
        )

        def finish(job: Job) -> None:
            batcher.finish(Complete(job.id, "rt", 1, result=None), None)

        first = threading.Thread(target=finish, args=(jobs[0],))
        first.start()
        assert store.wait_for_calls(1)
        others = [threading.Thread(target=finish, args=(job,)) for job in jobs[1:]]
        for thread in others:
            thread.start()
        if grouped:
            assert batcher._group is not None
            wait_for_queued(batcher._group, 2)
        else:
            # Nothing to queue behind: both reach the store while the first still commits.
            assert store.wait_for_calls(3)
        store.release.set()
        for thread in [first, *others]:
            thread.join(10)
        assert storage.counts()["default"][TaskState.COMPLETED] == 3
        return store
    finally:
        storage.close()


def test_grouped_outcomes_arriving_during_a_commit_share_the_next_one() -> None:
    assert _finish_three_while_the_first_commits(grouped=True).sizes == [1, 2]


def test_ungrouped_outcomes_are_committed_each_on_its_own() -> None:
    assert _finish_three_while_the_first_commits(grouped=False).sizes == [1, 1, 1]


@pytest.mark.parametrize(
    ("backend", "durability", "shared"),
    [("lmdb", "fsync", True), ("lmdb", "process", False), ("memory", "fsync", False)],
)
def test_only_commits_that_wait_for_the_disk_are_shared(
    backend: str, durability: str, shared: bool
) -> None:
    assert shares_commits(backend, durability) is shared
