"""Turns through burro's bookkeeping: exclusive and re-entrant where taken, renewed by fork."""

from __future__ import annotations

import os
import threading

import pytest

from burro._turns import turns_for


def taken_elsewhere(turn: object) -> bool:
    """Whether another thread would have to wait for ``turn``."""
    result: list[bool] = []

    def attempt() -> None:
        acquire = getattr(turn, "acquire", None)
        if acquire is None:  # a no-op turn never makes anyone wait
            result.append(False)
            return
        got = acquire(blocking=False)
        if got:
            turn.release()  # type: ignore[attr-defined]
        result.append(not got)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(5)
    return result[0]


def test_lmdb_in_process_durability_takes_one_re_entrant_turn() -> None:
    turn = turns_for("lmdb", "process")
    assert turn is turns_for("lmdb", "process")  # one for the whole process
    with turn, turn:  # re-entrant: an enqueue from inside a turn does not deadlock
        assert taken_elsewhere(turn)
    assert not taken_elsewhere(turn)


@pytest.mark.parametrize(("backend", "durability"), [("lmdb", "fsync"), ("memory", "process")])
def test_other_stores_take_no_turn(backend: str, durability: str) -> None:
    """With fsync, writers waiting for one flush should share it, not queue behind it."""
    turn = turns_for(backend, durability)
    with turn:
        assert not taken_elsewhere(turn)


def test_a_forked_child_gets_a_free_turn_even_if_a_parent_thread_held_it() -> None:
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with turns_for("lmdb", "process"):
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(10)
    try:
        pid = os.fork()
        if pid == 0:  # the child: only this thread exists, the holder does not
            free = turns_for("lmdb", "process").acquire(timeout=5)  # type: ignore[attr-defined]
            os._exit(0 if free else 1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        holder.join(10)
