"""Bad input is refused at the call site with a clear error, and nothing is stored."""

from __future__ import annotations

import math
import os
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

import burro
from burro.testing import drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory

W = "tests.integration.runtime.workers"
#: Midnight of year 1 at UTC+5: the same instant in UTC is before year 1.
BEFORE_YEAR_ONE = datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5)))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda m: m.enqueue_task(workers.not_marked, args=[1]), "not marked"),
        (lambda m: m.enqueue_task(W, "not_marked", [1]), "not marked"),
        (lambda m: m.enqueue_task(W, "no_such_function", [1]), "no public function"),
        (lambda m: m.enqueue_task("no.such.module", "f", []), "cannot be imported"),
        (lambda m: m.enqueue_task("os:system", "run", ["echo pwned"]), "does not name a class"),
        (lambda m: m.enqueue_task("os", "system", ["echo pwned"]), "not marked"),
        (lambda m: m.enqueue_task(os, "system", ["echo pwned"]), "not marked"),
        (lambda m: m.enqueue_task(workers.Videos, "_private", []), "no public method"),
        (lambda m: m.enqueue_task(workers.Videos, "missing", []), "no public method"),
        (lambda m: m.enqueue_task(workers.record, args=[object()]), "args cannot be stored"),
        (lambda m: m.enqueue_task(workers.record, args="abc"), "list or tuple"),
        (lambda m: m.enqueue_task(workers.record, args=[1], priority=-1), "priority"),
        (lambda m: m.enqueue_task(workers.record, args=[1], priority=True), "priority"),
        (lambda m: m.enqueue_task(workers.record, args=[1], max_attempts=0), "max_attempts"),
        (lambda m: m.enqueue_task(workers.record, args=[1], max_attempts=2**64), "max_attempts"),
        (lambda m: m.enqueue_task(workers.record, args=[1], timeout_seconds=-1), "timeout"),
        (lambda m: m.enqueue_task(workers.record, args=[1], timeout_seconds=1e300), "timeout"),
        (
            lambda m: m.enqueue_task(workers.record, args=[1], unique_for_seconds=1e300),
            "unique_for",
        ),
        (lambda m: m.enqueue_task(workers.record, args=[1], retry_delay_seconds=-1), "retry_delay"),
        (lambda m: m.enqueue_task(workers.record, args=[1], unique_for_seconds=0), "unique_for"),
        (lambda m: m.enqueue_task(workers.record, args=[1], meta={1: "x"}), "meta"),
        (lambda m: m.enqueue_task(workers.record, args=[1], meta={"baggage": 7}), "trace context"),
        (
            lambda m: m.enqueue_task(workers.record, args=[1], meta={"traceparent": b"00-"}),
            "trace context",
        ),
        (
            lambda m: m.enqueue_many(
                [
                    {"worker": workers.record, "args": [1]},
                    {"worker": workers.record, "args": [2], "meta": {"tracestate": 3}},
                ]
            ),
            "trace context",
        ),
        (lambda m: m.cancel_task("0000000000000001", reason="x\udcff"), "reason cannot be stored"),
        (lambda m: m.list_tasks(worker="w\udcff"), "worker cannot be stored"),
        (lambda m: m.list_tasks(queue="q\udcff"), "queue cannot be stored"),
        (lambda m: m.list_tasks(descending="no"), "descending"),
        (
            lambda m: m.schedule_recurring_task("n\udcff", workers.record, "record", [1], "@daily"),
            "name cannot be stored",
        ),
        (lambda m: m.cancel_recurring_task("n\udcff"), "name cannot be stored"),
        (lambda m: m.pause_queue(["default"]), "named by a str"),
        (lambda m: m.resume_queue({}), "named by a str"),
        (lambda m: m.scale_queue(["default"], 2), "named by a str"),
        (lambda m: m.events.subscribe(["job.completed"], print), "unknown event"),
        (lambda m: m.events.subscribe("job.completed", 5), "callable"),
        (lambda m: drain(m, queue=["default"]), "named by a str"),
        (lambda m: drain(m, timeout="1"), "timeout"),
        (lambda m: drain(m, timeout=math.nan), "timeout"),
        (lambda m: m.enqueue_task(workers.record, args=[1], colour="red"), "unknown option"),
        (
            lambda m: m.enqueue_task(workers.record, args=[1], queue="nope"),
            "configured queues: default",
        ),
        (lambda m: m.schedule_task(workers.record, "record", [1], datetime(2030, 1, 1)), "naive"),
        (lambda m: m.schedule_task(workers.record, "record", [1], -5), ">= 0"),
        (lambda m: m.schedule_task(workers.record, "record", [1], "tomorrow"), "aware datetime"),
        (lambda m: m.schedule_task(workers.record, "record", [1], 1e300), "out of range"),
        (lambda m: m.schedule_task(workers.record, "record", [1], BEFORE_YEAR_ONE), "out of range"),
        (
            lambda m: m.schedule_task(workers.record, "record", [1], 5, colour="red"),
            "unknown option",
        ),
        (lambda m: m.enqueue_many([{"function": "record"}]), "'worker'"),
        (lambda m: m.enqueue_many(None), "iterable of task mappings, not NoneType"),
        (
            lambda m: m.enqueue_many({"worker": workers.record, "args": [1]}),
            "iterable of task mappings, not dict",
        ),
        (lambda m: m.list_tasks(status="sleeping"), "unknown status"),
        (lambda m: m.list_tasks(status=5), "status"),
        (lambda m: m.list_tasks(sort_by="args"), "sort_by"),
        (lambda m: m.list_tasks(page=0), "page"),
        (lambda m: m.list_tasks(queue=7), "queue"),
        (lambda m: m.list_tasks(worker=workers.record), "worker"),
        (lambda m: m.pause_queue("nope"), "unknown queue"),
        (lambda m: m.scale_queue("default", 0), "concurrency"),
        (lambda m: m.scale_queue("default", 1025), "from 1 to 1024"),
        (lambda m: m.cleanup_old_tasks(retention_days_completed=-1), "retention_days_completed"),
        (lambda m: m.cleanup_old_tasks(retention_days_failed=math.nan), "retention_days_failed"),
        (lambda m: m.cleanup_old_tasks(retention_days_failed=math.inf), "retention_days_failed"),
    ],
)
def test_bad_call_raises_invalid_task_error_and_stores_nothing(
    manager: burro.BackgroundTaskManager, call: Any, message: str
) -> None:
    with pytest.raises(burro.InvalidTaskError, match=message):
        call(manager)
    assert manager.list_tasks()[1].total_entries == 0


def test_invalid_task_error_is_a_value_error() -> None:
    assert issubclass(burro.InvalidTaskError, ValueError)
    assert issubclass(burro.TaskNotFound, LookupError)


def test_calls_after_stop_raise_runtime_not_running(start_manager: Factory) -> None:
    manager = start_manager()
    manager.stop()
    manager.stop()  # idempotent
    with pytest.raises(burro.RuntimeNotRunning):
        manager.enqueue_task(workers.record, args=[1])
    with pytest.raises(burro.RuntimeNotRunning):
        manager.get_task_status("x")
    with pytest.raises(burro.RuntimeNotRunning):
        manager.get_statistics()
    assert manager.health()["status"] == "failed"


def test_unmarked_worker_that_reached_storage_is_discarded_without_running(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    from burro.storage.base import NewJob

    now = manager.clock.now()
    forged = [
        NewJob(queue="default", worker=W, function="not_marked", args=(1,)),
        NewJob(queue="default", worker="os", function="system", args=("echo pwned",)),
        NewJob(queue="default", worker="some.unloaded.module", function="f"),
    ]
    ids = [manager._storage.insert(job, now).id for job in forged]
    manager.resume_queue("default")
    drain(manager)
    for task_id in ids:
        status = manager.get_task_status(task_id)
        assert status.status is burro.TaskState.DISCARDED
        assert status.attempts == 1
        assert "InvalidTaskError" in (status.last_error or "")
    assert recorder.calls == []


def test_a_stored_trace_context_that_cannot_be_read_does_not_stop_the_job(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    """Meta the facade refuses, stored by other means: the job runs, untraced."""
    from burro.storage.base import NewJob

    now = manager.clock.now()
    forged = [
        NewJob(queue="default", worker=W, function="record", args=(n,), meta={key: value})
        for n, (key, value) in enumerate([("baggage", 7), ("traceparent", 5), ("tracestate", [])])
    ]
    ids = [manager._storage.insert(job, now).id for job in forged]
    drain(manager)
    for task_id in ids:
        status = manager.get_task_status(task_id)
        assert (status.status, status.attempts) == (burro.TaskState.COMPLETED, 1)
    assert sorted(recorder.calls) == [("record", 0), ("record", 1), ("record", 2)]
    tree = manager.supervision_tree()
    assert _restarts(tree) == 0


def _restarts(node: dict[str, Any]) -> int:
    return int(node["restarts"]) + sum(_restarts(child) for child in node["children"])


ALLOWED = "tests.integration.runtime.allowed_workers"


def test_allowed_module_runs_its_own_functions_not_the_ones_it_imports(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    from burro.storage.base import NewJob

    manager = start_manager(allowed_worker_modules=[ALLOWED])
    own = manager.enqueue_task(ALLOWED, "tidy", ["own"])
    with pytest.raises(burro.InvalidTaskError, match="not marked"):
        manager.enqueue_task(ALLOWED, "not_marked", ["imported"])
    with pytest.raises(burro.InvalidTaskError, match="not marked"):
        manager.enqueue_task(f"{ALLOWED}:Recorder", "record", ["imported", "class"])
    now = manager.clock.now()
    forged = [
        NewJob(queue="default", worker=ALLOWED, function="not_marked", args=("forged",)),
        NewJob(queue="default", worker=f"{ALLOWED}:Recorder", function="record", args=("f", 1)),
    ]
    forged_ids = [manager._storage.insert(job, now).id for job in forged]
    drain(manager)
    assert manager.get_task_status(own).status is burro.TaskState.COMPLETED
    for task_id in forged_ids:
        assert manager.get_task_status(task_id).status is burro.TaskState.DISCARDED
    assert recorder.calls == [("tidy", "own")]


def test_allowed_module_runs_its_classes_own_methods_not_the_ones_they_inherit(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    from burro.storage.base import NewJob

    manager = start_manager(allowed_worker_modules=[ALLOWED])
    tidier = f"{ALLOWED}:Tidier"
    own = [
        manager.enqueue_task(tidier, "tidy", ["own"]),
        manager.enqueue_task(tidier, "sweep", ["from an allowed base"]),
        manager.enqueue_task(f"{ALLOWED}:MarkedTidier", "record", ["marked", 1]),
    ]
    with pytest.raises(
        burro.InvalidTaskError, match=r"defined in 'tests\.integration\.runtime\.workers'"
    ):
        manager.enqueue_task(tidier, "record", ["inherited", 1])
    forged = NewJob(queue="default", worker=tidier, function="record", args=("forged", 1))
    forged_id = manager._storage.insert(forged, manager.clock.now()).id
    drain(manager)

    for task_id in own:
        assert manager.get_task_status(task_id).status is burro.TaskState.COMPLETED
    status = manager.get_task_status(forged_id)
    assert status.status is burro.TaskState.DISCARDED
    assert "InvalidTaskError" in (status.last_error or "")
    assert "not marked" in (status.last_error or "")
    assert sorted(recorder.calls) == [("Tidier.tidy", "own"), ("sweep", "from an allowed base")]
