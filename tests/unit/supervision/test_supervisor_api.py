"""The Supervisor's proxy API: dynamic children, introspection, callbacks and logs."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pykka
import pytest

from burro.supervision import ChildSpec, RestartEvent, Supervisor, inject_failure
from tests.unit.supervision.support import (
    WAIT,
    Block,
    Journal,
    child_of,
    recorder_spec,
    settle,
    start_supervisor,
    wait_exited,
)


class Plain(pykka.ThreadingActor):
    pass


def test_start_child_appends_a_running_child() -> None:
    journal = Journal()
    supervisor = start_supervisor(recorder_spec("a", journal))
    ref = supervisor.proxy().start_child(recorder_spec("b", journal)).get(timeout=WAIT)
    assert ref.is_alive()
    assert [(i, r, k) for i, r, k in settle(supervisor)][1] == ("b", ref, "worker")
    assert journal.entries() == ["start:a", "start:b"]


def test_start_child_refuses_a_duplicate_id() -> None:
    journal = Journal()
    supervisor = start_supervisor(recorder_spec("a", journal))
    with pytest.raises(ValueError, match="already exists"):
        supervisor.proxy().start_child(recorder_spec("a", journal)).get(timeout=WAIT)


def test_start_child_that_fails_to_start_adds_nothing() -> None:
    def broken() -> pykka.ActorRef[Any]:
        raise OSError("disk gone")

    supervisor = start_supervisor()
    with pytest.raises(OSError, match="disk gone"):
        supervisor.proxy().start_child(ChildSpec("x", broken)).get(timeout=WAIT)
    assert settle(supervisor) == []


def test_a_child_must_be_a_supervised_actor() -> None:
    supervisor = start_supervisor()
    with pytest.raises(TypeError, match="must return the ref of a SupervisedActor"):
        supervisor.proxy().start_child(ChildSpec("plain", Plain.start)).get(timeout=WAIT)
    assert pykka.ActorRegistry.get_by_class(Plain) == []


def test_terminate_restart_and_delete_a_child() -> None:
    journal = Journal()
    supervisor = start_supervisor(recorder_spec("a", journal), recorder_spec("b", journal))
    proxy = supervisor.proxy()
    old = child_of(supervisor, "a")

    proxy.terminate_child("a").get(timeout=WAIT)
    assert not old.is_alive() and proxy.child_ref("a").get(timeout=WAIT) is None
    assert proxy.count_children().get(timeout=WAIT)["active"] == 1

    new = proxy.restart_child("a").get(timeout=WAIT)
    assert new.is_alive() and new is not old
    with pytest.raises(RuntimeError, match="is running"):
        proxy.restart_child("a").get(timeout=WAIT)
    with pytest.raises(RuntimeError, match="is running"):
        proxy.delete_child("a").get(timeout=WAIT)

    proxy.terminate_child("a").get(timeout=WAIT)
    proxy.delete_child("a").get(timeout=WAIT)
    assert [child_id for child_id, _, _ in settle(supervisor)] == ["b"]
    assert journal.entries() == ["start:a", "start:b", "stop:a", "start:a", "stop:a"]


def test_terminating_a_child_is_not_a_restart() -> None:
    restarts: list[RestartEvent] = []
    supervisor = start_supervisor(recorder_spec("a", Journal()), on_restart=restarts.append)
    supervisor.proxy().terminate_child("a").get(timeout=WAIT)
    settle(supervisor)
    assert restarts == []


def test_terminating_a_temporary_child_forgets_it() -> None:
    supervisor = start_supervisor(recorder_spec("t", Journal(), restart="temporary"))
    supervisor.proxy().terminate_child("t").get(timeout=WAIT)
    assert settle(supervisor) == []


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("terminate_child", ()),
        ("restart_child", ()),
        ("delete_child", ()),
        ("child_ref", ()),
    ],
)
def test_an_unknown_child_id_is_a_lookup_error(method: str, args: tuple[Any, ...]) -> None:
    supervisor = start_supervisor()
    with pytest.raises(LookupError, match="has no child 'ghost'"):
        getattr(supervisor.proxy(), method)("ghost", *args).get(timeout=WAIT)


def _nested_spec(journal: Journal) -> ChildSpec:
    def start() -> pykka.ActorRef[Any]:
        return start_supervisor(recorder_spec("leaf", journal), name="mid")

    return ChildSpec("mid", start)


def test_which_and_count_children_tell_supervisors_from_workers() -> None:
    journal = Journal()
    root = start_supervisor(
        recorder_spec("a", journal), _nested_spec(journal), recorder_spec("c", journal)
    )
    kinds = [(child_id, kind) for child_id, _, kind in settle(root)]
    assert kinds == [("a", "worker"), ("mid", "supervisor"), ("c", "worker")]
    root.proxy().terminate_child("c").get(timeout=WAIT)
    counts = root.proxy().count_children().get(timeout=WAIT)
    assert counts == {"specs": 3, "active": 2, "supervisors": 1, "workers": 2}


def test_tree_nests_supervisors_and_counts_restarts() -> None:
    journal = Journal()
    root = start_supervisor(recorder_spec("a", journal), _nested_spec(journal), name="root")
    a = child_of(root, "a")
    inject_failure(a)
    wait_exited(a)
    settle(root)
    root.proxy().terminate_child("a").get(timeout=WAIT)

    assert root.proxy().tree().get(timeout=WAIT) == {
        "name": "root",
        "strategy": "one_for_one",
        "restarts": 1,
        "alive": True,
        "children": [
            {"name": "a", "strategy": None, "restarts": 1, "alive": False, "children": []},
            {
                "name": "mid",
                "strategy": "one_for_one",
                "restarts": 0,
                "alive": True,
                "children": [
                    {"name": "leaf", "strategy": None, "restarts": 0, "alive": True, "children": []}
                ],
            },
        ],
    }


def test_tree_is_answered_while_a_nested_supervisor_is_busy() -> None:
    journal, release, entered = Journal(), threading.Event(), threading.Event()
    root = start_supervisor(_nested_spec(journal), name="root")
    mid = child_of(root, "mid")
    child_of(mid, "leaf").tell(Block(release, entered))
    assert entered.wait(WAIT)
    # mid now waits (up to the leaf's shutdown_timeout) for a leaf stuck in its work.
    stopping = mid.proxy().terminate_child("leaf")
    with pytest.raises(pykka.Timeout):
        mid.proxy().count_children().get(timeout=0.05)

    tree = root.proxy().tree().get(timeout=WAIT)

    assert tree["children"][0]["name"] == "mid"
    assert tree["children"][0]["children"][0]["name"] == "leaf"
    release.set()
    stopping.get(timeout=WAIT)


def test_every_restart_is_logged_and_published(caplog: pytest.LogCaptureFixture) -> None:
    restarts: list[RestartEvent] = []
    supervisor = start_supervisor(
        recorder_spec("a", Journal()), name="root", on_restart=restarts.append, max_restarts=5
    )
    caplog.set_level(logging.WARNING, logger="burro.supervision")
    for _ in range(2):
        a = child_of(supervisor, "a")
        inject_failure(a, ValueError("bad row"))
        wait_exited(a)
        settle(supervisor)

    assert restarts == [
        RestartEvent("root", "a", "ValueError: bad row", 1),
        RestartEvent("root", "a", "ValueError: bad row", 2),
    ]
    logged = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "burro.supervision"
    ]
    assert logged == [  # a crash is a runtime fault: ERROR on the burro logger
        ("ERROR", "supervisor 'root' restarted child 'a' (restart 1): ValueError: bad row"),
        ("ERROR", "supervisor 'root' restarted child 'a' (restart 2): ValueError: bad row"),
    ]


def test_a_sibling_restarted_with_a_crashed_child_is_logged_as_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    journal = Journal()
    supervisor = start_supervisor(
        recorder_spec("a", journal), recorder_spec("b", journal), strategy="one_for_all"
    )
    caplog.set_level(logging.WARNING, logger="burro.supervision")
    a = child_of(supervisor, "a")
    inject_failure(a, ValueError("bad row"))
    wait_exited(a)
    settle(supervisor)
    logged = [
        (r.levelname, r.getMessage()) for r in caplog.records if r.name == "burro.supervision"
    ]
    assert logged == [
        ("ERROR", "supervisor 'sup' restarted child 'a' (restart 1): ValueError: bad row"),
        (
            "WARNING",
            "supervisor 'sup' restarted child 'b' (restart 1): "
            "restarted with 'a' (ValueError: bad row)",
        ),
    ]


def test_a_failing_restart_callback_does_not_stop_restarts() -> None:
    def broken(_event: RestartEvent) -> None:
        raise RuntimeError("subscriber bug")

    journal = Journal()
    supervisor = start_supervisor(recorder_spec("a", journal), on_restart=broken)
    inject_failure(child_of(supervisor, "a"))
    journal.wait_for_length(3)
    assert child_of(supervisor, "a").is_alive()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"strategy": "one_for_some"}, "strategy"),
        ({"max_restarts": -1}, "max_restarts"),
        ({"max_seconds": 0}, "max_seconds"),
    ],
)
def test_supervisor_options_are_validated(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Supervisor.start(name="bad", **options)


def test_duplicate_child_ids_are_refused() -> None:
    journal = Journal()
    with pytest.raises(ValueError, match="already exists"):
        start_supervisor(recorder_spec("a", journal), recorder_spec("a", journal))
