"""Start order, reverse stop order, failed starts, and children that will not stop."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest

from burro.supervision import ChildSpec, RestartEvent, inject_failure
from tests.unit.supervision.support import (
    WAIT,
    Block,
    Journal,
    Script,
    Signal,
    child_of,
    recorder_spec,
    settle,
    start_supervisor,
    wait_exited,
)


def test_children_start_in_order_and_stop_in_reverse_order() -> None:
    journal = Journal()

    def nested() -> pykka.ActorRef[Any]:
        return start_supervisor(
            recorder_spec("l1", journal), recorder_spec("l2", journal), name="mid"
        )

    root = start_supervisor(
        recorder_spec("a", journal), ChildSpec("mid", nested), recorder_spec("c", journal)
    )
    root.stop()
    assert journal.entries() == [
        *("start:a", "start:l1", "start:l2", "start:c"),
        *("stop:c", "stop:l2", "stop:l1", "stop:a"),
    ]
    assert pykka.ActorRegistry.get_all() == []


def test_a_child_failing_in_on_start_fails_the_supervisor_start() -> None:
    journal, script, on_failure = Journal(), Script(), Signal()
    script.fail_next_starts("b")
    with pytest.raises(RuntimeError, match="b failed in on_start") as failure:
        start_supervisor(
            recorder_spec("a", journal, script),
            recorder_spec("b", journal, script),
            recorder_spec("c", journal, script),
            on_failure=on_failure,
        )
    assert journal.entries() == ["start:a", "fail:b", "stop:a"]
    assert "while supervisor 'sup' started child 'b'" in (failure.value.__notes__ or [])
    assert pykka.ActorRegistry.get_all() == []
    assert not on_failure.called.is_set()  # the caller was told by the exception


def test_a_start_function_that_raises_fails_the_supervisor_start() -> None:
    journal = Journal()

    def unreachable() -> pykka.ActorRef[Any]:
        raise ConnectionError("store unreachable")

    with pytest.raises(ConnectionError, match="store unreachable"):
        start_supervisor(recorder_spec("a", journal), ChildSpec("b", unreachable))
    assert journal.entries() == ["start:a", "stop:a"]


def test_a_nested_start_failure_fails_every_level() -> None:
    journal, script = Journal(), Script()
    script.fail_next_starts("leaf")

    def nested() -> pykka.ActorRef[Any]:
        return start_supervisor(recorder_spec("leaf", journal, script), name="mid")

    with pytest.raises(RuntimeError, match="leaf failed in on_start") as failure:
        start_supervisor(recorder_spec("a", journal), ChildSpec("mid", nested), name="root")
    assert journal.entries() == ["start:a", "fail:leaf", "stop:a"]
    assert failure.value.__notes__ == [
        "while supervisor 'mid' started child 'leaf'",
        "while supervisor 'root' started child 'mid'",
    ]


def _block(ref: pykka.ActorRef[Any], release: threading.Event) -> None:
    entered = threading.Event()
    ref.tell(Block(release, entered))
    assert entered.wait(WAIT)


def test_a_child_that_does_not_stop_in_time_is_abandoned(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal, release = Journal(), threading.Event()
    supervisor = start_supervisor(
        recorder_spec("a", journal),
        recorder_spec("stuck", journal, shutdown_timeout=0.05),
        recorder_spec("c", journal),
    )
    stuck = child_of(supervisor, "stuck")
    _block(stuck, release)

    supervisor.stop(timeout=WAIT)

    assert journal.entries()[3:] == ["stop:c", "stop:a"]
    assert "supervisor 'sup': child 'stuck' did not stop within 0.05 s; abandoned" in [
        r.getMessage() for r in caplog.records if r.levelno == logging.WARNING
    ]
    release.set()
    wait_exited(stuck)  # once free, it still handles the stop it was sent
    assert journal.entries()[-1] == "stop:stuck"


def test_a_stuck_sibling_is_abandoned_by_a_restart_and_its_late_exit_ignored() -> None:
    journal, release, restarts = Journal(), threading.Event(), list[RestartEvent]()
    supervisor = start_supervisor(
        recorder_spec("a", journal),
        recorder_spec("stuck", journal, shutdown_timeout=0.05),
        strategy="one_for_all",
        on_restart=restarts.append,
    )
    old_stuck = child_of(supervisor, "stuck")
    _block(old_stuck, release)

    inject_failure(child_of(supervisor, "a"))
    journal.wait_for_length(5)  # start a, start stuck, crash a, start a, start stuck
    release.set()
    wait_exited(old_stuck)
    children = {child_id: ref for child_id, ref, _ in settle(supervisor)}

    assert [e.child_id for e in restarts] == ["a", "stuck"]
    assert children["stuck"] is not old_stuck and children["stuck"].is_alive()
    assert journal.entries()[2:] == ["crash:a", "start:a", "start:stuck", "stop:stuck"]
