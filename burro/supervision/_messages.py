"""The messages a supervisor receives from its children and from itself."""

from __future__ import annotations

from dataclasses import dataclass

from burro.supervision._lifeline import Exit

__all__ = ["ChildExited", "RetryRestart"]


@dataclass(frozen=True)
class ChildExited:
    """Incarnation ``actor_urn`` of child ``child_id`` exited."""

    child_id: str
    actor_urn: str
    exit: Exit


@dataclass(frozen=True)
class RetryRestart:
    """Try again to restart ``child_id``, whose last restart failed to start it."""

    child_id: str
    reason: str
