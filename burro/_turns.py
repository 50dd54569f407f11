"""Taking turns through burro's own bookkeeping: one thread of the process at a time.

Only one thread runs Python at a time anyway (the GIL), but every LMDB call releases
the GIL. A producer storing a job and a worker settling one, left to run side by side,
hand the GIL back and forth at each of those calls, and on a multi-core machine every
hand-off moves the interpreter's working set from one CPU's caches to the other's. On
the benchmark machine (2 cores) that halves the throughput of a producer and its
workers. Taking turns for a whole enqueue and a whole settlement avoids the hand-offs;
the work is serial either way.

Only with ``durability="process"`` on LMDB: with ``"fsync"`` a turn would span a disk
flush, which writers arriving meanwhile should share (group commit), not wait for.
"""

from __future__ import annotations

import contextlib
import os
import threading
from contextlib import AbstractContextManager

__all__ = ["turns_for"]


class _Turn:
    """The process's turn. Re-entrant: an enqueue from inside a turn (a hook, a callback)
    must not deadlock."""

    def __init__(self) -> None:
        self.lock = threading.RLock()

    def renew(self) -> None:
        # A thread of the parent may have held the turn at the fork; it does not exist here.
        self.lock = threading.RLock()


_turn = _Turn()
_NO_TURNS = contextlib.nullcontext()


def turns_for(backend: str, durability: str) -> AbstractContextManager[object]:
    """The turn to take around a store's hot writes (a no-op where it does not pay)."""
    if backend == "lmdb" and durability == "process":
        return _turn.lock
    return _NO_TURNS


os.register_at_fork(after_in_child=_turn.renew)
