"""Group commit: writers arriving together share one commit; failures stay their own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from burro._group_commit import GroupCommitter, Ticket

Batches = list[list[Any]]


def settle(batch: list[Ticket]) -> None:
    """Succeed every ticket but those of the item "bad", which fail."""
    for ticket in batch:
        if ticket.item == "bad":
            ticket.fail(ValueError("bad item"))
        else:
            ticket.succeed(f"done {ticket.item}")


def committer_holding_first_batch(batches: Batches, release: threading.Event) -> GroupCommitter:
    """A committer whose first batch waits for ``release`` (so others queue behind it)."""

    def commit(batch: list[Ticket]) -> None:
        if not batches:
            assert release.wait(10)
        batches.append([t.item for t in batch])
        settle(batch)

    return GroupCommitter(commit)


def run_in_threads(action: Callable[[str], Any], items: list[str]) -> dict[str, Any]:
    results: dict[str, Any] = {}

    def run(item: str) -> None:
        try:
            results[item] = action(item)
        except Exception as error:
            results[item] = error

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    return results


def wait_for_queued(committer: GroupCommitter, count: int) -> None:
    pause = threading.Event()
    for _ in range(1000):
        with committer._lock:
            if len(committer._queued) >= count:
                return
        pause.wait(0.01)
    raise AssertionError("writers did not queue")


def test_writers_arriving_during_a_commit_share_the_next_one() -> None:
    batches: Batches = []
    release = threading.Event()
    committer = committer_holding_first_batch(batches, release)
    first = threading.Thread(target=committer.run, args=("first",))
    first.start()
    outcome: dict[str, Any] = {}
    others = threading.Thread(
        target=lambda: outcome.update(run_in_threads(committer.run, ["a", "b", "c"]))
    )
    others.start()
    wait_for_queued(committer, 3)
    release.set()
    first.join(10)
    others.join(10)
    assert batches[0] == ["first"]
    assert sorted(batches[1]) == ["a", "b", "c"]  # one commit for the three
    assert outcome == {"a": "done a", "b": "done b", "c": "done c"}


def test_a_failed_item_raises_in_its_own_writer_only() -> None:
    batches: Batches = []
    release = threading.Event()
    committer = committer_holding_first_batch(batches, release)
    first = threading.Thread(target=committer.run, args=("first",))
    first.start()
    outcome: dict[str, Any] = {}
    others = threading.Thread(
        target=lambda: outcome.update(run_in_threads(committer.run, ["good", "bad"]))
    )
    others.start()
    wait_for_queued(committer, 2)
    release.set()
    first.join(10)
    others.join(10)
    assert outcome["good"] == "done good"
    assert isinstance(outcome["bad"], ValueError)


def test_a_commit_that_raises_fails_its_whole_batch_and_the_next_still_works() -> None:
    def commit(batch: list[Ticket]) -> None:
        if any(t.item == "boom" for t in batch):
            raise OSError("disk on fire")
        for ticket in batch:
            ticket.succeed(ticket.item)

    committer = GroupCommitter(commit)
    with pytest.raises(OSError, match="disk on fire"):
        committer.run("boom")
    assert committer.run("fine") == "fine"


def test_many_writers_all_get_their_own_results() -> None:
    def commit(batch: list[Ticket]) -> None:
        for ticket in batch:
            ticket.succeed(ticket.item * 2)

    committer = GroupCommitter(commit)
    items = [str(i) for i in range(200)]
    results = run_in_threads(committer.run, items)
    assert results == {item: item * 2 for item in items}


def test_commit_one_commits_a_lone_writer_as_a_batch_of_one_would() -> None:
    batches: Batches = []
    singles: list[str] = []

    def commit(batch: list[Ticket]) -> None:
        batches.append([t.item for t in batch])
        settle(batch)

    def commit_one(item: str) -> str:
        singles.append(item)
        if item == "bad":
            raise ValueError("bad item")
        return f"done {item}"

    general, fast = GroupCommitter(commit), GroupCommitter(commit, commit_one=commit_one)
    for committer in (general, fast):
        assert committer.run("a") == "done a"
        with pytest.raises(ValueError, match="bad item"):
            committer.run("bad")
        assert committer.run("b") == "done b"  # leadership was let go after the failure
    assert singles == ["a", "bad", "b"]
    assert batches == [["a"], ["bad"], ["b"]]  # the general path's only


def test_a_writer_queued_behind_commit_one_is_handed_the_lead() -> None:
    batches: Batches = []
    release, leading = threading.Event(), threading.Event()

    def commit(batch: list[Ticket]) -> None:
        batches.append([t.item for t in batch])
        for ticket in batch:
            ticket.succeed(f"done {ticket.item}")

    def commit_one(item: str) -> str:
        leading.set()  # this writer leads now: a later writer queues behind it
        assert release.wait(10)
        return f"alone {item}"

    committer = GroupCommitter(commit, commit_one=commit_one)
    outcome: dict[str, Any] = {}
    first = threading.Thread(target=lambda: outcome.update(first=committer.run("first")))
    first.start()
    assert leading.wait(10)
    others = threading.Thread(target=lambda: outcome.update(run_in_threads(committer.run, ["x"])))
    others.start()
    wait_for_queued(committer, 1)
    release.set()
    first.join(10)
    others.join(10)
    assert outcome == {"first": "alone first", "x": "done x"}
    assert batches == [["x"]]
    assert not committer._leading


# -- durable stores: pipelined acknowledgements and gathered batches --------------------
class DurableLog:
    """A fake durable store: records its commits and flushes, in order."""

    def __init__(self, *, flushes: bool = True, commit_seconds: float = 0.0) -> None:
        self.events: list[str] = []
        self.flushes = flushes
        self.commit_seconds = commit_seconds
        self.hold_first = threading.Event()
        self.first_entered = threading.Event()
        self.returned: dict[str, threading.Event] = {}
        #: Each item's ticket: ``done`` says whether its writer has been told.
        self.tickets: dict[str, Ticket] = {}
        #: What each writer started by :meth:`start` was told: its result or its error.
        self.outcomes: dict[str, Any] = {}

    def commit(self, batch: list[Ticket]) -> bool:
        if not self.events:
            self.first_entered.set()
            assert self.hold_first.wait(10)
        threading.Event().wait(self.commit_seconds)  # a slow disk
        self.tickets.update((ticket.item, ticket) for ticket in batch)
        self.events.append("commit " + ",".join(sorted(t.item for t in batch)))
        for ticket in batch:
            if ticket.item.startswith("bad"):
                ticket.fail(ValueError(ticket.item))
            else:
                ticket.succeed(ticket.item)
        return self.flushes

    def make_durable(self) -> None:
        self.events.append("durable")

    def start(self, committer: GroupCommitter, item: str) -> threading.Thread:
        """Run ``item`` in a thread; ``returned[item]`` is set once its writer is told."""
        returned = self.returned[item] = threading.Event()

        def run() -> None:
            try:
                self.outcomes[item] = committer.run(item)
            except Exception as error:
                self.outcomes[item] = error
            returned.set()

        thread = threading.Thread(target=run)
        thread.start()
        return thread

    def a_then_b(self, committer: GroupCommitter) -> None:
        """Commit "a", with "b" queued behind it, and wait for both writers."""
        first = self.start(committer, "a")
        assert self.first_entered.wait(10)
        second = self.start(committer, "b")
        wait_for_queued(committer, 1)
        self.hold_first.set()
        first.join(10)
        second.join(10)


def test_a_lone_durable_commit_is_acknowledged_only_after_it_is_made_durable() -> None:
    log = DurableLog()
    log.hold_first.set()
    committer = GroupCommitter(log.commit, log.make_durable)
    assert committer.run("a") == "a"
    assert log.events == ["commit a", "durable"]  # as the writer was told


def test_the_next_commit_makes_the_previous_durable_without_an_extra_flush() -> None:
    log = DurableLog()
    seen_at_flush: list[bool] = []

    def make_durable() -> None:
        # The writer of "a" was told before this flush: "b"'s commit carried "a" to disk.
        seen_at_flush.append(log.returned["a"].wait(10))
        log.make_durable()

    told_before_next_commit: list[bool] = []

    def commit(batch: list[Ticket]) -> bool:
        if log.events:  # "b": "a" is committed, not yet durable, so its writer still waits
            told_before_next_commit.append(log.tickets["a"].done)
        return log.commit(batch)

    committer = GroupCommitter(commit, make_durable)
    log.a_then_b(committer)
    assert log.events == ["commit a", "commit b", "durable"]  # one flush for two commits
    assert told_before_next_commit == [False]
    assert seen_at_flush == [True]
    assert log.returned["b"].is_set()


def test_a_commit_that_did_not_flush_leaves_the_held_batch_to_be_made_durable() -> None:
    log = DurableLog(flushes=False)
    told_before_flush: list[bool] = []

    def make_durable() -> None:
        told_before_flush.append(log.tickets["a"].done)
        log.make_durable()

    committer = GroupCommitter(log.commit, make_durable)
    log.a_then_b(committer)
    assert log.events == ["commit a", "commit b", "durable"]
    assert told_before_flush == [False]  # "b"'s commit flushed nothing: "a" waited for this
    assert log.returned["a"].is_set() and log.returned["b"].is_set()


def test_a_failed_flush_fails_the_writers_it_held_and_a_failed_item_fails_at_once() -> None:
    flushes: list[str] = []

    def fail_to_flush() -> None:
        flushes.append("tried")
        raise OSError("flush failed")

    log = DurableLog()
    log.hold_first.set()
    committer = GroupCommitter(log.commit, fail_to_flush)
    with pytest.raises(OSError, match="flush failed"):
        committer.run("a")
    # A writer whose own item failed is told at once: nothing of it waits for a flush.
    with pytest.raises(ValueError, match="bad"):
        committer.run("bad")
    assert flushes == ["tried"]


def test_a_commit_that_raises_fails_the_writers_held_for_its_flush() -> None:
    log = DurableLog()

    def commit(batch: list[Ticket]) -> bool:
        if log.events:  # "b", whose flush was to carry "a" (committed, held) to disk
            raise OSError("flush failed")
        return log.commit(batch)

    committer = GroupCommitter(commit, log.make_durable)
    log.a_then_b(committer)
    # Whether "a" reached the disk is unknown: no later flush may vouch for it.
    assert isinstance(log.outcomes["a"], OSError)
    assert isinstance(log.outcomes["b"], OSError)
    assert log.events == ["commit a"]


def test_writers_that_shared_a_commit_are_gathered_into_the_next_one() -> None:
    # Commits take 20 ms; a gathering leader waits up to 50 times that (1 s).
    log = DurableLog(commit_seconds=0.02)
    committer = GroupCommitter(log.commit, log.make_durable, gather_share=50)
    first = log.start(committer, "first")
    assert log.first_entered.wait(10)
    pair = [log.start(committer, "a1"), log.start(committer, "b1")]
    wait_for_queued(committer, 2)
    log.hold_first.set()
    for thread in [first, *pair]:
        thread.join(10)
    assert "commit a1,b1" in log.events
    # "a2" arrives first; its leader waits for "b2" rather than commit without it.
    gathering = threading.Event()
    gather = committer._gather

    def watched_gather(wanted: int, longest: float) -> None:
        gathering.set()
        gather(wanted, longest)

    committer._gather = watched_gather  # type: ignore[method-assign]
    second = log.start(committer, "a2")
    assert gathering.wait(10), "the leader of a2 should gather the writers of its last commit"
    assert log.events[-1] != "commit a2"
    assert committer.run("b2") == "b2"  # within the window (a second)
    second.join(10)
    assert log.events[-2:] == ["commit a2,b2", "durable"]
