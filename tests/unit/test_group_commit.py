"""Group commit: writers arriving together share one commit; failures stay their own."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from burro._group_commit import GroupCommitter, Ticket

Batches = list[list[Any]]


def committer_holding_first_batch(batches: Batches, release: threading.Event) -> GroupCommitter:
    """A committer whose first batch waits for ``release`` (so others queue behind it)."""

    def commit(batch: list[Ticket]) -> None:
        if not batches:
            assert release.wait(10)
        batches.append([t.item for t in batch])
        for ticket in batch:
            if ticket.item == "bad":
                ticket.fail(ValueError("bad item"))
            else:
                ticket.succeed(f"done {ticket.item}")

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
