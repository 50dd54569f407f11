"""The OTP semantics of Supervisor: restart types x strategies x exit kinds, and escalation.

The tables below are taken from the Erlang/OTP documentation and checked against it:

* the ``supervisor`` manual page (STDLIB reference, erlang.org/doc/man/supervisor.html):
  "restart defines when a terminated child process must be restarted. A permanent child
  process is always restarted. A temporary child process is never restarted (even when
  the supervisor's restart strategy is rest_for_one or one_for_all and a sibling's death
  causes the temporary process to be terminated). A transient child process is restarted
  only if it terminates abnormally"; and "if more than MaxR restarts occur within MaxT
  seconds, the supervisor terminates all the child processes and then itself";
* the "Supervisor Behaviour" chapter of the OTP Design Principles
  (erlang.org/doc/system/sup_princ.html), "Restart Strategy": one_for_one restarts only
  the terminated child; one_for_all terminates all other children, then restarts all;
  rest_for_one terminates the children started after it, then restarts the terminated
  child and those after it; children start in list order and terminate in reverse order.

A failed restart (on_start raising) is retried through the supervisor's inbox and counts
towards the restart intensity, as ``supervisor.erl``'s ``try_again_restart`` does; the
retry applies the strategy again, so one_for_all stops what the failed attempt started.

One deliberate difference: OTP ends a supervisor that exceeded its intensity with reason
``shutdown``; here its parent sees an abnormal exit, so even a transient parent spec
restarts it (escalation always reaches someone).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pykka
import pytest

from burro.supervision import ChildSpec, RestartEvent, inject_failure
from tests.unit.supervision.support import (
    STOP_YOURSELF,
    Journal,
    Script,
    Signal,
    child_of,
    recorder_spec,
    settle,
    start_supervisor,
    wait_exited,
)

# The manual page's restart types: (restarted after a normal exit, after an abnormal one).
RESTARTED_AFTER = {
    "permanent": (True, True),
    "transient": (False, True),
    "temporary": (False, False),
}

# The design principles' strategies, for children a, b, c started in that order, all
# permanent but b, when b is restarted: who is stopped (reverse order), then started.
STRATEGY_RESTARTS = {
    "one_for_one": ["start:b"],
    "one_for_all": ["stop:c", "stop:a", "start:a", "start:b", "start:c"],
    "rest_for_one": ["stop:c", "start:b", "start:c"],
}

# The same when b's first restart fails in on_start: the strategy is applied again.
STRATEGY_RESTARTS_AFTER_A_FAILED_START = {
    "one_for_one": ["fail:b", "start:b"],
    "one_for_all": [
        *("stop:c", "stop:a", "start:a", "fail:b"),
        *("stop:a", "start:a", "start:b", "start:c"),
    ],
    "rest_for_one": ["stop:c", "fail:b", "start:b", "start:c"],
}


@dataclass(frozen=True)
class ExitKind:
    """One way for child b to end: how to cause it, and what b journals as it ends."""

    normal: bool
    cause: Callable[[pykka.ActorRef[Any], Script], None]
    entry: str
    restart_fails_once: bool = False


def _stop_itself(ref: pykka.ActorRef[Any], _script: Script) -> None:
    ref.tell(STOP_YOURSELF)


def _stop_from_outside(ref: pykka.ActorRef[Any], _script: Script) -> None:
    ref.stop()


def _crash(ref: pykka.ActorRef[Any], _script: Script) -> None:
    inject_failure(ref)


def _crash_then_fail_on_start(ref: pykka.ActorRef[Any], script: Script) -> None:
    script.fail_next_starts("b")
    inject_failure(ref)


EXIT_KINDS = {
    "normal stop by itself": ExitKind(True, _stop_itself, "stop:b"),
    "stop() from outside": ExitKind(True, _stop_from_outside, "stop:b"),
    "exception in on_receive (tell)": ExitKind(False, _crash, "crash:b"),
    "exception in on_start during the restart": ExitKind(
        False, _crash_then_fail_on_start, "crash:b", restart_fails_once=True
    ),
}


def _expected_journal(strategy: str, restart: str, kind: ExitKind) -> list[str]:
    if not RESTARTED_AFTER[restart][0 if kind.normal else 1]:
        return [kind.entry]
    table = STRATEGY_RESTARTS_AFTER_A_FAILED_START if kind.restart_fails_once else STRATEGY_RESTARTS
    return [kind.entry, *table[strategy]]


@pytest.mark.parametrize("exit_kind", EXIT_KINDS)
@pytest.mark.parametrize("restart", RESTARTED_AFTER)
@pytest.mark.parametrize("strategy", STRATEGY_RESTARTS)
def test_which_children_restart_and_in_what_order(
    strategy: str, restart: str, exit_kind: str
) -> None:
    journal, script, kind = Journal(), Script(), EXIT_KINDS[exit_kind]
    supervisor = start_supervisor(
        recorder_spec("a", journal, script),
        recorder_spec("b", journal, script, restart=restart),  # type: ignore[arg-type]
        recorder_spec("c", journal, script),
        strategy=strategy,
        max_restarts=10,
    )
    assert journal.entries() == ["start:a", "start:b", "start:c"]
    journal.clear()
    old_b = child_of(supervisor, "b")

    kind.cause(old_b, script)
    wait_exited(old_b)
    expected = _expected_journal(strategy, restart, kind)
    journal.wait_for_length(len(expected))
    children = {child_id: ref for child_id, ref, _ in settle(supervisor)}

    assert journal.entries() == expected
    assert children["a"].is_alive() and children["c"].is_alive()
    if len(expected) > 1:
        assert children["b"].is_alive() and children["b"] is not old_b
    elif restart == "temporary":
        assert "b" not in children  # a temporary child is forgotten once it exits
    else:
        assert children["b"] is None


def test_a_temporary_sibling_stopped_by_one_for_all_is_not_restarted() -> None:
    journal = Journal()
    supervisor = start_supervisor(
        recorder_spec("a", journal),
        recorder_spec("t", journal, restart="temporary"),
        recorder_spec("c", journal),
        strategy="one_for_all",
    )
    journal.clear()
    inject_failure(child_of(supervisor, "c"))
    journal.wait_for_length(5)
    assert journal.entries() == ["crash:c", "stop:t", "stop:a", "start:a", "start:c"]
    assert [child_id for child_id, _, _ in settle(supervisor)] == ["a", "c"]


def test_one_for_all_also_starts_a_sibling_that_was_not_running() -> None:
    # supervisor.erl restarts every non-temporary child in one_for_all, running or not.
    journal = Journal()
    supervisor = start_supervisor(
        recorder_spec("a", journal),
        recorder_spec("tr", journal, restart="transient"),
        strategy="one_for_all",
    )
    transient = child_of(supervisor, "tr")
    transient.stop()
    wait_exited(transient)
    journal.clear()
    inject_failure(child_of(supervisor, "a"))
    journal.wait_for_length(3)
    assert journal.entries() == ["crash:a", "start:a", "start:tr"]


def test_exceeding_the_intensity_stops_the_children_in_reverse_and_fails_the_root() -> None:
    journal, failure = Journal(), Signal()
    supervisor = start_supervisor(
        recorder_spec("a", journal),
        recorder_spec("b", journal),
        recorder_spec("c", journal),
        max_restarts=1,
        on_failure=failure,
    )
    inject_failure(child_of(supervisor, "b"))
    journal.wait_for_length(5)
    journal.clear()

    inject_failure(child_of(supervisor, "b"))
    reason = failure.wait()
    wait_exited(supervisor)

    assert journal.entries() == ["crash:b", "stop:c", "stop:a"]
    assert reason.startswith("RestartIntensityExceeded: supervisor 'sup': more than 1 restarts")
    assert not supervisor.is_alive()
    assert pykka.ActorRegistry.get_all() == []


def _nested(journal: Journal, **options: Any) -> ChildSpec:
    def start() -> pykka.ActorRef[Any]:
        return start_supervisor(recorder_spec("leaf", journal), name="mid", **options)

    return ChildSpec("mid", start)


def test_a_nested_supervisor_that_gives_up_is_restarted_by_its_parent() -> None:
    journal, restarts, failure = Journal(), list[RestartEvent](), Signal()
    root = start_supervisor(
        _nested(journal, max_restarts=0),
        recorder_spec("other", journal),
        name="root",
        on_restart=restarts.append,
        on_failure=failure,
    )
    mid = child_of(root, "mid")
    journal.clear()

    inject_failure(child_of(mid, "leaf"))
    wait_exited(mid)
    journal.wait_for_length(2)
    settle(root)

    assert journal.entries() == ["crash:leaf", "start:leaf"]
    assert [(e.supervisor, e.child_id, e.count) for e in restarts] == [("root", "mid", 1)]
    assert restarts[0].reason.startswith("RestartIntensityExceeded: supervisor 'mid'")
    assert child_of(root, "mid") is not mid
    assert not failure.called.is_set()


def test_escalation_reaches_the_root_and_its_failure_callback() -> None:
    journal, failure = Journal(), Signal()
    root = start_supervisor(
        _nested(journal, max_restarts=0),
        recorder_spec("other", journal),
        name="root",
        max_restarts=0,
        on_failure=failure,
    )
    mid = child_of(root, "mid")
    journal.clear()

    inject_failure(child_of(mid, "leaf"))
    reason = failure.wait()
    wait_exited(root)

    assert journal.entries() == ["crash:leaf", "stop:other"]
    assert reason.startswith("RestartIntensityExceeded: supervisor 'root'")
    assert "child 'mid'" in reason
    assert not mid.is_alive() and not root.is_alive()


def test_restarts_that_keep_failing_to_start_exhaust_the_intensity() -> None:
    journal, script, failure = Journal(), Script(), Signal()
    supervisor = start_supervisor(
        recorder_spec("a", journal, script),
        recorder_spec("b", journal, script),
        max_restarts=3,
        on_failure=failure,
    )
    journal.clear()
    script.fail_next_starts("b", times=100)

    inject_failure(child_of(supervisor, "b"))
    failure.wait()
    wait_exited(supervisor)

    # One exit, then three restart attempts that each fail; the fourth exceeds the limit.
    assert journal.entries() == ["crash:b", "fail:b", "fail:b", "fail:b", "stop:a"]
