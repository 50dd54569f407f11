"""What a supervisor is told about its children, and what it tells about restarts."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, get_args

import pykka

__all__ = ["RESTART_TYPES", "STRATEGIES", "ChildSpec", "RestartEvent", "RestartType", "Strategy"]

RestartType = Literal["permanent", "transient", "temporary"]
Strategy = Literal["one_for_one", "one_for_all", "rest_for_one"]

RESTART_TYPES: tuple[RestartType, ...] = get_args(RestartType)
STRATEGIES: tuple[Strategy, ...] = get_args(Strategy)


@dataclass(frozen=True)
class ChildSpec:
    """How to start one child of a supervisor, and when to start it again.

    Attributes:
        id: Unique among the supervisor's children; names the child in logs and trees.
        start: Starts the child and returns its ref. The child must be a
            ``SupervisedActor`` (a ``Supervisor`` too: that nests a subtree).
        restart: ``permanent`` children are always restarted, ``transient`` ones only
            after an abnormal exit, ``temporary`` ones never (and are then forgotten).
        shutdown_timeout: Seconds a stop may take before the child is abandoned.
    """

    id: str
    start: Callable[[], pykka.ActorRef[Any]]
    restart: RestartType = "permanent"
    shutdown_timeout: float = 5.0

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("ChildSpec.id must be a non-empty string")
        if self.restart not in RESTART_TYPES:
            raise ValueError(
                f"ChildSpec.restart must be one of {RESTART_TYPES}, not {self.restart!r}"
            )
        if self.shutdown_timeout < 0:
            raise ValueError(
                f"ChildSpec.shutdown_timeout must be >= 0, not {self.shutdown_timeout}"
            )

    def restarts_after(self, *, normal: bool) -> bool:
        """Whether an exit (``normal`` or not) of this child calls for a restart."""
        if self.restart == "permanent":
            return True
        return self.restart == "transient" and not normal


@dataclass(frozen=True)
class RestartEvent:
    """One automatic restart of a child, as logged and passed to ``on_restart``.

    Attributes:
        supervisor: The name of the supervisor that restarted the child.
        child_id: The restarted child's id.
        reason: Why: the exit reason of the child that failed.
        count: How many times the supervisor has restarted this child so far.
    """

    supervisor: str
    child_id: str
    reason: str
    count: int
