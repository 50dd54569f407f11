"""Test actors that write what happens to them into a journal, and ways to wait for it."""

from __future__ import annotations

import collections
import threading
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import pykka

from burro.supervision import ChildSpec, RestartType, SupervisedActor, Supervisor
from burro.supervision._lifeline import lifeline_of

WAIT = 5.0  # seconds; generous, since every wait ends on an event well before


class Journal:
    """What the test actors did, in order, e.g. ``["start:a", "crash:b"]``."""

    def __init__(self) -> None:
        self._entries: list[str] = []
        self._changed = threading.Condition()

    def append(self, entry: str) -> None:
        with self._changed:
            self._entries.append(entry)
            self._changed.notify_all()

    def entries(self) -> list[str]:
        with self._changed:
            return list(self._entries)

    def clear(self) -> None:
        with self._changed:
            self._entries.clear()

    def wait_for_length(self, length: int) -> list[str]:
        """Block until at least ``length`` entries were written; return them all."""
        with self._changed:
            reached = self._changed.wait_for(lambda: len(self._entries) >= length, WAIT)
            assert reached, f"journal stuck at {self._entries}, expected {length} entries"
            return list(self._entries)


class Script:
    """Faults planned ahead: how many of a child's next starts fail in ``on_start``."""

    def __init__(self) -> None:
        self._start_failures: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def fail_next_starts(self, child_id: str, times: int = 1) -> None:
        with self._lock:
            self._start_failures[child_id] += times

    def take_start_failure(self, child_id: str) -> bool:
        with self._lock:
            if self._start_failures[child_id] <= 0:
                return False
            self._start_failures[child_id] -= 1
            return True


STOP_YOURSELF = "stop yourself"


@dataclass(frozen=True)
class Block:
    """Keep the actor's thread busy until ``release`` is set (as stuck user code would)."""

    release: threading.Event
    entered: threading.Event


class Recorder(SupervisedActor):
    """A child that journals ``start``, ``fail`` (in on_start), ``stop`` and ``crash``."""

    def __init__(self, child_id: str, journal: Journal, script: Script | None = None) -> None:
        super().__init__()
        self.child_id = child_id
        self.journal = journal
        self.script = script or Script()

    def on_start(self) -> None:
        if self.script.take_start_failure(self.child_id):
            self.journal.append(f"fail:{self.child_id}")
            raise RuntimeError(f"{self.child_id} failed in on_start")
        self.journal.append(f"start:{self.child_id}")

    def on_stop(self) -> None:
        self.journal.append(f"stop:{self.child_id}")

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.journal.append(f"crash:{self.child_id}")

    def on_receive(self, message: Any) -> Any:
        if message == STOP_YOURSELF:
            self.stop()
        elif isinstance(message, Block):
            message.entered.set()
            message.release.wait(30)
        return message


def recorder_spec(
    child_id: str,
    journal: Journal,
    script: Script | None = None,
    *,
    restart: RestartType = "permanent",
    shutdown_timeout: float = WAIT,
) -> ChildSpec:
    """The spec of a :class:`Recorder` child."""
    return ChildSpec(
        id=child_id,
        start=lambda: Recorder.start(child_id, journal, script),
        restart=restart,
        shutdown_timeout=shutdown_timeout,
    )


def child_of(supervisor: pykka.ActorRef[Any], child_id: str) -> pykka.ActorRef[Any]:
    """The running incarnation of a child (fails the test if there is none)."""
    ref = supervisor.proxy().child_ref(child_id).get(timeout=WAIT)
    assert ref is not None, f"child {child_id!r} is not running"
    return ref


def wait_exited(ref: pykka.ActorRef[Any]) -> None:
    """Block until a supervised actor's thread is done (its supervisor has been told)."""
    lifeline = lifeline_of(ref)
    assert lifeline is not None
    assert lifeline.wait_exited(WAIT), f"{ref} did not exit"


def settle(supervisor: pykka.ActorRef[Any]) -> list[tuple[str, Any, str]]:
    """Wait until the supervisor handled everything sent to it so far; its children."""
    children: list[tuple[str, Any, str]] = supervisor.proxy().which_children().get(timeout=WAIT)
    return children


class Signal:
    """A callback that remembers its arguments and sets an event, for ``on_failure`` etc."""

    def __init__(self) -> None:
        self.calls: list[Any] = []
        self.called = threading.Event()

    def __call__(self, argument: Any) -> None:
        self.calls.append(argument)
        self.called.set()

    def wait(self) -> Any:
        assert self.called.wait(WAIT), "callback never called"
        return self.calls[-1]


def start_supervisor(*specs: ChildSpec, **options: Any) -> pykka.ActorRef[Supervisor]:
    """Start a supervisor named ``sup`` over ``specs``."""
    options.setdefault("name", "sup")
    return Supervisor.start(children=list(specs), **options)
