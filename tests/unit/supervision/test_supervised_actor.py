"""SupervisedActor: synchronous start, and every exit observed with its reason."""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections.abc import Callable
from typing import Any

import pykka
import pytest

from burro.supervision import SupervisedActor, Supervisor, inject_failure
from burro.supervision._lifeline import Exit, lifeline_of
from tests.unit.supervision.support import (
    STOP_YOURSELF,
    Journal,
    Recorder,
    Script,
    wait_exited,
)


class FailingStop(SupervisedActor):
    def on_stop(self) -> None:
        raise OSError("cannot flush")


class FailingStart(SupervisedActor):
    def __init__(self, started: list[pykka.ActorRef[Any]]) -> None:
        super().__init__()
        started.append(self.actor_ref)

    def on_start(self) -> None:
        raise LookupError("no such table")


class SlowStart(SupervisedActor):
    start_timeout = 0.05

    def __init__(self, release: threading.Event) -> None:
        super().__init__()
        self.release = release

    def on_start(self) -> None:
        self.release.wait(30)


class Plain(pykka.ThreadingActor):
    pass


def _exit_of(ref: pykka.ActorRef[Any]) -> Exit:
    wait_exited(ref)
    lifeline = lifeline_of(ref)
    assert lifeline is not None and lifeline.exit is not None
    return lifeline.exit


def test_start_returns_once_on_start_has_run() -> None:
    journal = Journal()
    Recorder.start("x", journal)
    assert journal.entries() == ["start:x"]


def test_start_raises_what_on_start_raised() -> None:
    script = Script()
    script.fail_next_starts("x")
    with pytest.raises(RuntimeError, match="x failed in on_start"):
        Recorder.start("x", Journal(), script)


def test_start_gives_up_on_an_on_start_that_never_returns() -> None:
    release = threading.Event()
    with pytest.raises(TimeoutError, match=r"did not finish on_start within 0\.05 s"):
        SlowStart.start(release)
    [ref] = pykka.ActorRegistry.get_by_class(SlowStart)
    release.set()
    wait_exited(ref)  # the stop sent on timeout is handled once on_start returns


EXITS: dict[str, tuple[Callable[[pykka.ActorRef[Any]], None], bool, str]] = {
    "stop() from outside": (lambda ref: ref.stop(), True, "normal"),
    "stop() by itself": (lambda ref: ref.tell(STOP_YOURSELF), True, "normal"),
    "injected default failure": (inject_failure, False, "RuntimeError: failure injected into"),
    "injected given failure": (
        lambda ref: inject_failure(ref, ValueError("bad input")),
        False,
        "ValueError: bad input",
    ),
}


@pytest.mark.parametrize("cause", EXITS)
def test_every_exit_is_observed_with_its_reason(cause: str) -> None:
    trigger, normal, reason = EXITS[cause]
    ref = Recorder.start("x", Journal())
    trigger(ref)
    exit_ = _exit_of(ref)
    assert exit_.normal is normal
    assert exit_.reason.startswith(reason)


def test_a_failing_on_stop_makes_the_exit_abnormal() -> None:
    ref = FailingStop.start()
    ref.stop()
    exit_ = _exit_of(ref)
    assert (exit_.normal, exit_.reason) == (False, "OSError: cannot flush")


def test_an_exception_in_on_start_is_an_abnormal_exit() -> None:
    started: list[pykka.ActorRef[Any]] = []
    with pytest.raises(LookupError):
        FailingStart.start(started)
    exit_ = _exit_of(started[0])
    assert (exit_.normal, exit_.reason) == (False, "LookupError: no such table")


def test_watchers_run_after_the_actor_is_done_with_its_last_message() -> None:
    journal = Journal()
    ref = Recorder.start("x", journal)
    lifeline = lifeline_of(ref)
    assert lifeline is not None
    lifeline.watch(lambda exit_: journal.append(f"exited:{exit_.normal}"))
    inject_failure(ref)
    wait_exited(ref)
    assert journal.entries() == ["start:x", "crash:x", "exited:False"]
    with pytest.raises(pykka.ActorDeadError):
        ref.tell("too late")


def test_watching_an_actor_that_already_exited_reports_at_once() -> None:
    ref = Recorder.start("x", Journal())
    ref.stop()
    wait_exited(ref)
    seen: list[Exit] = []
    lifeline = lifeline_of(ref)
    assert lifeline is not None
    lifeline.watch(seen.append)
    assert [e.reason for e in seen] == ["normal"]


def test_a_failing_watcher_does_not_keep_the_others_uninformed() -> None:
    ref = Recorder.start("x", Journal())
    lifeline = lifeline_of(ref)
    assert lifeline is not None
    seen: list[Exit] = []
    lifeline.watch(lambda _exit: 1 / 0)  # type: ignore[func-returns-value]
    lifeline.watch(seen.append)
    ref.stop()
    wait_exited(ref)
    assert len(seen) == 1


def test_inject_failure_refuses_an_actor_it_cannot_observe() -> None:
    ref = Plain.start()
    with pytest.raises(TypeError, match="needs a SupervisedActor"):
        inject_failure(ref)


def test_inject_failure_into_a_dead_actor_raises() -> None:
    ref = Recorder.start("x", Journal())
    ref.stop()
    with pytest.raises(pykka.ActorDeadError):
        inject_failure(ref)


def test_supervised_actors_run_on_daemon_threads() -> None:
    ref = Recorder.start("x", Journal())
    names = {t.name: t.daemon for t in threading.enumerate()}
    assert any(name.startswith("Recorder-") and daemon for name, daemon in names.items())
    ref.stop()


def test_nothing_outlives_an_actor_once_its_ref_is_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Captured log records would keep the crash's traceback, and its frames, alive.
    monkeypatch.setattr(logging.getLogger("pykka"), "propagate", False)
    lifelines = []
    for _ in range(3):
        crashed = Recorder.start("x", Journal())
        inject_failure(crashed, ValueError("bad row"))
        stopped = Supervisor.start(name="sup", children=[])
        stopped.stop()
        for ref in (crashed, stopped):
            wait_exited(ref)
            lifelines.append(weakref.ref(lifeline_of(ref)))  # type: ignore[arg-type]
    del crashed, stopped, ref
    gc.collect()
    assert [lifeline() for lifeline in lifelines] == [None] * 6
