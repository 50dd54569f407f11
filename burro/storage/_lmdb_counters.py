"""Counters a process wrote itself, trusted without reading them back while nobody else wrote.

LMDB numbers write transactions: one that changes something commits under its id, and
the next write transaction, of any process, gets that id plus one. So when this process
begins a write transaction whose id follows its own last commit, no other writer has
committed in between, and the counter values it wrote (job counts per queue and state,
the next insertion sequence number) are still the stored ones. Reading them again would
cost a database call each on every transaction of the hot path.
"""

from __future__ import annotations

__all__ = ["CounterCache"]


class CounterCache:
    """Counter values as of this process's last commit, and those of the open transaction."""

    def __init__(self) -> None:
        #: Values of the open write transaction: read or written in it, or trusted.
        self.current: dict[bytes, int] = {}
        self._committed: dict[bytes, int] = {}
        self._next_id: int | None = None
        self._wrote = False

    def begin(self, txn_id: int) -> None:
        """A write transaction ``txn_id`` begins: trust the cache only if nobody wrote since."""
        self.current = dict(self._committed) if txn_id == self._next_id else {}
        self._wrote = False

    def wrote(self, values: dict[bytes, int]) -> None:
        """The open transaction stored these counter values (by key)."""
        self.current.update(values)
        self._wrote = True

    def committed(self, txn_id: int) -> None:
        """The open transaction ``txn_id`` committed: its values are the stored ones now."""
        self._committed = self.current
        # A transaction that changed nothing does not use up its id.
        self._next_id = txn_id + 1 if self._wrote else txn_id

    def rolled_back(self) -> None:
        """The open transaction was rolled back: trust nothing until the next commit."""
        self.current = {}
        self._committed = {}
        self._next_id = None
