"""The base of burro's actors: supervised, daemon threads, and a fault-injection point."""

from __future__ import annotations

from typing import Any

from burro.supervision import SupervisedActor

__all__ = ["CRASH", "BurroActor", "InjectedCrash"]


class InjectedCrash(RuntimeError):
    """The failure ``burro.testing.crash_actor`` makes an actor raise in its own thread."""


class _Crash:
    __slots__ = ()


CRASH = _Crash()


class BurroActor(SupervisedActor):
    """A supervised actor whose thread never keeps the interpreter alive.

    ``request_crash`` makes the actor raise at its next crash point: at once when idle,
    or at the next point its work defines (a worker: after the job's code returned and
    before its outcome is committed), as a bug there would.
    """

    use_daemon_thread = True

    def __init__(self) -> None:
        super().__init__()
        # A flag, not an Event: a worker checks it once per job, and Event.is_set is a
        # Python call. Set from another thread; reads and writes of it are atomic.
        self._crash_requested = False

    def request_crash(self) -> None:
        """Make this actor fail inside its own thread (tests and fault drills)."""
        self._crash_requested = True
        self.actor_ref.tell(CRASH)

    def crash_point(self) -> None:
        """Raise :class:`InjectedCrash` if a crash was requested."""
        if self._crash_requested:
            self._crash_requested = False
            raise InjectedCrash(f"{self.actor_ref} crashed on request")

    def on_receive(self, message: Any) -> Any:
        """Dispatch: crash requests here, everything else to :meth:`handle`."""
        if message is CRASH:
            self.crash_point()
            return None
        return self.handle(message)

    def handle(self, message: Any) -> Any:
        """Handle one message sent with ``tell``; subclasses override."""
        return super().on_receive(message)
