"""The workers' group commit: outcomes merged into one write, bad ones isolated."""

from __future__ import annotations

import contextlib
import threading

from burro._group_commit import Ticket
from burro.actors._commit import SettlementBatcher, _Finished
from burro.actors._hub import QueueHub
from burro.clock import ManualClock
from burro.states import TaskState
from burro.storage import Complete, NewJob, open_storage


def test_merged_outcomes_claim_next_jobs_and_a_bad_result_fails_alone() -> None:
    clock = ManualClock()
    storage = open_storage("memory", "")
    try:
        for n in range(4):
            storage.insert(
                NewJob(queue="default", worker="w", function="f", args=(n,)), clock.now()
            )
        first, second = storage.claim("default", 2, "rt", clock.now())
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
        clock = ManualClock()
        storage = open_storage("memory", "")
        try:
            for n in range(3):
                storage.insert(
                    NewJob(queue="default", worker="w", function="f", args=(n,)), clock.now()
                )
            (first,) = storage.claim("default", 1, "rt", clock.now())
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
