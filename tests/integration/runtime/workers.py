"""Workers the runtime tests enqueue; they report what happened through ``Recorder``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import burro

GATE_TIMEOUT = 20.0


class Recorder:
    """What the test workers did, observable from tests without sleeping."""

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.calls: list[tuple[str, Any]] = []
        self.runs: Counter[Any] = Counter()
        self.active = 0
        self.max_active = 0
        self.gate = threading.Event()
        self.gates: dict[Any, threading.Event] = {}
        self.started = threading.Event()

    def record(self, name: str, value: Any) -> None:
        with self.lock:
            self.calls.append((name, value))
            self.runs[value] += 1
            self.lock.notify_all()

    def gate_of(self, value: Any) -> threading.Event:
        """The gate of the ``blocks_alone`` job run with ``value`` (open once all are)."""
        with self.lock:
            gate = self.gates.setdefault(value, threading.Event())
            if self.gate.is_set():
                gate.set()
            return gate

    def open_gates(self) -> None:
        """Open the shared gate and every job's own gate."""
        with self.lock:
            self.gate.set()
            for gate in self.gates.values():
                gate.set()

    def wait_for(self, predicate: Any, timeout: float = 10.0) -> None:
        with self.lock:
            assert self.lock.wait_for(predicate, timeout), "condition not reached in time"


recorder = Recorder()


def reset() -> Recorder:
    global recorder
    recorder = Recorder()
    return recorder


@burro.worker
def add(a: int, b: int) -> int:
    recorder.record("add", (a, b))
    return a + b


@burro.worker
def record(value: Any) -> None:
    recorder.record("record", value)


@burro.worker(max_attempts=3, retry_delay_seconds=10)
def always_fails(value: Any) -> None:
    recorder.record("always_fails", value)
    raise ValueError(f"hopeless {value}")


@burro.worker(unique_for_seconds=60)
def sync_once(value: Any) -> None:
    """Unique by default: enqueued twice within a minute, it runs once."""
    recorder.record("sync_once", value)


@burro.worker
def fails_then_succeeds(value: Any, failures: int) -> str:
    recorder.record("flaky", value)
    if recorder.runs[value] <= failures:
        raise ConnectionError(f"flaky {value}")
    return "synced"


@burro.worker
def returns_failure(value: Any) -> burro.Failure:
    recorder.record("returns_failure", value)
    return burro.Failure("not today")


@burro.worker
def returns_error_tuple(value: Any) -> tuple[str, str]:
    recorder.record("returns_error_tuple", value)
    return ("error", "nope")


@burro.worker
def blocks(value: Any) -> str:
    """Runs until the test opens the gate."""
    return _run_until_open("blocks", value, recorder.gate)


@burro.worker
def blocks_alone(value: Any) -> str:
    """Runs until the test opens this job's own gate, ``recorder.gate_of(value)``."""
    return _run_until_open("blocks_alone", value, recorder.gate_of(value))


def _run_until_open(name: str, value: Any, gate: threading.Event) -> str:
    with recorder.lock:
        recorder.active += 1
        recorder.max_active = max(recorder.max_active, recorder.active)
        recorder.lock.notify_all()
    recorder.record(name, value)
    recorder.started.set()
    try:
        gate.wait(GATE_TIMEOUT)
    finally:
        with recorder.lock:
            recorder.active -= 1
            recorder.lock.notify_all()
    return "released"


@burro.worker
def cooperative(value: Any) -> str:
    """Loops until cancelled (or the gate opens)."""
    task = burro.current_task()
    assert task is not None
    recorder.record("cooperative", value)
    recorder.started.set()
    while not recorder.gate.wait(0.01):
        task.check_cancelled()
    return "finished"


@burro.worker
def unencodable_result() -> object:
    recorder.record("unencodable_result", None)
    return object()


@burro.worker
class Videos:
    def transcode(self, video_id: int) -> str:
        recorder.record("transcode", video_id)
        return f"video-{video_id}.mp4"

    def _private(self) -> None:  # never runnable
        raise AssertionError


def not_marked(value: Any) -> None:
    recorder.record("not_marked", value)


#: The runtime ``enqueues_another`` enqueues into (set by the test).
chained: dict[str, burro.BackgroundTaskManager] = {}


@burro.worker
def enqueues_another(value: Any) -> None:
    recorder.record("enqueues_another", value)
    chained["manager"].enqueue_task(record, args=[f"{value} follow-up"])


#: What ``raises`` raises, by name.
RAISABLE: dict[str, type[BaseException]] = {
    "KeyboardInterrupt": KeyboardInterrupt,
    "GeneratorExit": GeneratorExit,
    "SystemExit": SystemExit,
}


@burro.worker(max_attempts=1)
def raises(kind: str) -> None:
    """Raises the BaseException named ``kind``."""
    recorder.record("raises", kind)
    raise RAISABLE[kind](f"raised by {kind} job")


class Unprintable(Exception):
    """An exception whose message cannot be rendered."""

    def __str__(self) -> str:
        raise RuntimeError("no message")


class UnprintableReason:
    """A failure reason whose repr raises."""

    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@burro.worker(max_attempts=1)
def raises_unprintable() -> None:
    recorder.record("raises_unprintable", None)
    raise Unprintable


@burro.worker(max_attempts=1)
def fails_unprintably() -> burro.Failure:
    recorder.record("fails_unprintably", None)
    return burro.Failure(UnprintableReason())


class Incomparable:
    """A value that refuses to be compared."""

    def __eq__(self, other: object) -> bool:
        raise RuntimeError("not comparable")

    __hash__ = object.__hash__


@burro.worker(max_attempts=1)
def returns_incomparable_pair() -> tuple[Incomparable, str]:
    recorder.record("returns_incomparable_pair", None)
    return (Incomparable(), "x")


@burro.worker
def returns(value: Any) -> Any:
    """Returns ``value`` (or, for the names in ``UNSTORABLE``, a value msgpack refuses)."""
    recorder.record("returns", value)
    return UNSTORABLE.get(value, value)


#: Plain-looking return values msgpack cannot encode.
UNSTORABLE: dict[str, Any] = {"huge int": 2**64, "lone surrogate": "\ud800"}
