"""The observable life of a supervised actor: it starts once and exits once."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import pykka

__all__ = ["Exit", "Lifeline", "LifelineRef", "lifeline_of"]

logger = logging.getLogger("burro.supervision")

ExitWatcher = Callable[["Exit"], None]


@dataclass(frozen=True)
class Exit:
    """How an actor's life ended: ``normal`` (it was stopped) or not (it failed)."""

    reason: str
    normal: bool
    error: BaseException | None = None

    @classmethod
    def failure(cls, error: BaseException) -> Exit:
        """The abnormal exit caused by ``error``."""
        message = str(error)
        reason = f"{type(error).__name__}: {message}" if message else type(error).__name__
        return cls(reason, normal=False, error=error)


NORMAL_EXIT = Exit("normal", normal=True)
# Only reachable when something escaped Pykka's own handlers (a BaseException in on_start).
_UNRECORDED_EXIT = Exit("exited without a recorded reason", normal=False)


class Lifeline:
    """Start and exit of one actor incarnation, observable from any thread.

    The actor records why it is exiting (the first failure wins over a normal stop),
    then closes the lifeline as the last thing its thread does: watchers run once,
    after the actor can no longer handle any message.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = threading.Event()
        self._exited = threading.Event()
        self._start_succeeded = False
        self._exit: Exit | None = None
        self._watchers: list[ExitWatcher] | None = []
        # A supervisor sets this so that its parent can read its subtree without asking it.
        self.subtree: Callable[[], dict[str, Any]] | None = None

    @property
    def exit(self) -> Exit | None:
        """The recorded exit (final once the actor's thread is done with its code)."""
        return self._exit

    def record(self, exit_: Exit) -> None:
        """Remember why the actor exits; a failure replaces a normal stop, never another failure."""
        with self._lock:
            if self._exit is None or (self._exit.normal and not exit_.normal):
                self._exit = exit_

    def mark_started(self, *, succeeded: bool) -> None:
        """Record that ``on_start`` returned (``succeeded``) or raised."""
        self._start_succeeded = succeeded
        self._started.set()

    def close(self) -> None:
        """Declare the actor gone and run each watcher once."""
        with self._lock:
            self._exit = self._exit or _UNRECORDED_EXIT
            watchers, self._watchers = self._watchers or [], None
        self.subtree = None  # it points back at the actor, which is done
        self._started.set()
        for watcher in watchers:
            self._notify(watcher, self._exit)
        self._exited.set()

    def watch(self, watcher: ExitWatcher) -> None:
        """Call ``watcher(exit)`` when the actor exits, at once if it already has."""
        with self._lock:
            if self._watchers is not None:
                self._watchers.append(watcher)
                return
        assert self._exit is not None
        self._notify(watcher, self._exit)

    def wait_exited(self, timeout: float | None) -> bool:
        """Block until the actor exited or ``timeout`` passed; True if it exited."""
        return self._exited.wait(timeout)

    def await_start(self, actor: str, timeout: float | None) -> None:
        """Block until ``on_start`` finished; raise what it raised, or TimeoutError."""
        if not self._started.wait(timeout):
            raise TimeoutError(f"{actor} did not finish on_start within {timeout} s")
        if self._start_succeeded:
            return
        failure = self._exit
        if failure is not None and failure.error is not None:
            raise failure.error
        raise RuntimeError(f"{actor} exited during on_start: {failure.reason if failure else '?'}")

    @staticmethod
    def _notify(watcher: ExitWatcher, exit_: Exit) -> None:
        try:
            watcher(exit_)
        except Exception:
            # A watcher is someone else's code; it must not keep the others uninformed.
            logger.exception("exit watcher %r failed", watcher)


A = TypeVar("A", bound=pykka.Actor)


class LifelineRef(pykka.ActorRef[A]):
    """The ref of a supervised actor: an ``ActorRef`` that also carries its lifeline.

    Carried by the ref itself rather than kept in a global map, so that whoever holds
    a child's ref can always reach its lifeline, and both are freed with the ref.
    """

    def __init__(self, actor: A, lifeline: Lifeline) -> None:
        super().__init__(actor)
        self.lifeline = lifeline


def lifeline_of(ref: pykka.ActorRef[Any]) -> Lifeline | None:
    """The lifeline of a supervised actor's ref, or None for any other actor."""
    return ref.lifeline if isinstance(ref, LifelineRef) else None
