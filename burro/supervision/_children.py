"""A supervisor's children: their specs in start order and their current incarnations."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

import pykka

from burro.supervision._lifeline import Lifeline
from burro.supervision._spec import ChildSpec

__all__ = ["ChildKind", "ChildRecord", "ChildTable", "ChildView"]

ChildKind = Literal["supervisor", "worker"]


@dataclass(eq=False)
class ChildRecord:
    """One child: its spec and, while it runs, its current incarnation."""

    spec: ChildSpec
    ref: pykka.ActorRef[Any] | None = None
    lifeline: Lifeline | None = None
    kind: ChildKind = "worker"
    restarts: int = 0

    @property
    def id(self) -> str:
        """The child's id, from its spec."""
        return self.spec.id


class ChildView(NamedTuple):
    """An immutable copy of a child record, for readers on other threads."""

    id: str
    ref: pykka.ActorRef[Any] | None
    lifeline: Lifeline | None
    kind: ChildKind
    restarts: int


class ChildTable:
    """The children of one supervisor, in start order.

    Only the supervisor's thread changes the table; any thread may read a snapshot
    (a parent supervisor building its tree, say), so every access takes the lock,
    which is never held while waiting for anything.
    """

    def __init__(self, specs: Iterable[ChildSpec]) -> None:
        self._lock = threading.Lock()
        self._records: dict[str, ChildRecord] = {}
        self._total_restarts = 0
        for spec in specs:
            self.add(spec)

    def add(self, spec: ChildSpec) -> ChildRecord:
        """Append a child; its id must be new."""
        with self._lock:
            if spec.id in self._records:
                raise ValueError(f"a child with id {spec.id!r} already exists")
            record = self._records[spec.id] = ChildRecord(spec)
            return record

    def remove(self, child_id: str) -> None:
        """Forget a child and its spec."""
        with self._lock:
            self._records.pop(child_id, None)

    def get(self, child_id: str) -> ChildRecord | None:
        """The record of ``child_id``, if any."""
        with self._lock:
            return self._records.get(child_id)

    def current(self, child_id: str, actor_urn: str) -> ChildRecord | None:
        """The record of ``child_id`` if ``actor_urn`` is its running incarnation."""
        with self._lock:
            record = self._records.get(child_id)
            if record is None or record.ref is None or record.ref.actor_urn != actor_urn:
                return None
            return record

    def in_start_order(self) -> list[ChildRecord]:
        """Every record, first started first."""
        with self._lock:
            return list(self._records.values())

    def ids(self) -> list[str]:
        """Every child id, in start order."""
        with self._lock:
            return list(self._records)

    def set_running(
        self, record: ChildRecord, ref: pykka.ActorRef[Any], lifeline: Lifeline, kind: ChildKind
    ) -> None:
        """Make ``ref`` the child's current incarnation."""
        with self._lock:
            record.ref, record.lifeline, record.kind = ref, lifeline, kind

    def set_stopped(
        self, record: ChildRecord
    ) -> tuple[pykka.ActorRef[Any] | None, Lifeline | None]:
        """Detach the current incarnation (if any) and return it."""
        with self._lock:
            detached = record.ref, record.lifeline
            record.ref, record.lifeline = None, None
            return detached

    def count_restart(self, record: ChildRecord) -> int:
        """Count one more restart of ``record``; return its count so far."""
        with self._lock:
            record.restarts += 1
            self._total_restarts += 1
            return record.restarts

    def total_restarts(self) -> int:
        """Restarts of all children so far."""
        with self._lock:
            return self._total_restarts

    def views(self) -> list[ChildView]:
        """A consistent snapshot of every child, in start order."""
        with self._lock:
            return [
                ChildView(r.id, r.ref, r.lifeline, r.kind, r.restarts)
                for r in self._records.values()
            ]
