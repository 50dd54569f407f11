"""The job stored for a worker runs that worker, or nothing: never a look-alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import burro
from burro.storage.base import NewJob
from burro.testing import drain
from tests.integration.runtime import resolution_workers as rw
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory, wait_until

RW = "tests.integration.runtime.resolution_workers"
#: Modules written into the test's own import path, each broken in its own way.
BROKEN_MODULES = {
    "resolution_raises_on_import": 'raise RuntimeError("no database configured")\n',
    "resolution_bad_syntax": "def f(:\n",
}


def restarts(node: dict[str, Any]) -> int:
    """Every restart in a supervision tree."""
    return int(node["restarts"]) + sum(restarts(child) for child in node["children"])


def forge(manager: burro.BackgroundTaskManager, worker: str, function: str) -> str:
    """Store a job the facade would refuse (as another process or version might)."""
    job = NewJob(queue="default", worker=worker, function=function, args=(1,))
    return manager._storage.insert(job, manager.clock.now()).id


def assert_discarded_at_once(
    manager: burro.BackgroundTaskManager, task_id: str, *fragments: str
) -> None:
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.DISCARDED
    assert status.attempts == 1
    error = status.last_error or ""
    assert error.startswith("InvalidTaskError: ")
    for fragment in fragments:
        assert fragment in error


@pytest.fixture
def broken_modules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory on sys.path holding the modules of ``BROKEN_MODULES``."""
    directory = tmp_path / "modules"
    directory.mkdir()
    for name, source in BROKEN_MODULES.items():
        (directory / f"{name}.py").write_text(source)
    monkeypatch.syspath_prepend(str(directory))
    return directory


# -- 1. a function object runs itself, or is refused ------------------------------------
def test_an_unbound_method_runs_as_its_class_method_not_a_module_function_of_that_name(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(rw.Holder.run, args=["method"])
    drain(manager, timeout=10)
    status = manager.get_task_status(task_id)
    assert (status.worker, status.function) == (f"{RW}:Holder", "run")
    assert status.status is burro.TaskState.COMPLETED
    assert recorder.calls == [("Holder()", None), ("Holder.run", "method")]


@pytest.mark.parametrize(
    ("worker", "message"),
    [
        (rw.make_local_worker(), "local function"),
        (burro.worker(lambda value: None), "lambda"),
        (rw.alias, "shadowed or deleted"),
    ],
    ids=["local", "lambda", "deleted name"],
)
def test_a_function_its_path_does_not_name_is_refused_and_nothing_runs(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder, worker: Any, message: str
) -> None:
    with pytest.raises(burro.InvalidTaskError, match=message):
        manager.enqueue_task(worker, args=["x"])
    with pytest.raises(burro.InvalidTaskError, match=message):
        manager.enqueue_many([{"worker": worker, "args": ["x"]}])
    drain(manager, timeout=10)
    assert manager.list_tasks()[1].total_entries == 0
    assert recorder.calls == []


# -- 2. async workers run; generators never "complete" unrun ---------------------------
def test_an_async_worker_runs_to_completion_and_its_return_value_is_the_result(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(rw.async_add, args=[2, 3])
    drain(manager, timeout=10)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert status.result == {"sum": 5, "task": task_id}  # current_task() works inside
    assert recorder.calls == [("async_add", (2, 3))]


def test_an_async_worker_over_its_timeout_is_cancelled_and_fails_the_attempt(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(
        rw.async_stalls, args=["slow"], timeout_seconds=0.2, max_attempts=1
    )
    recorder.wait_for(lambda: ("async_stalls cancelled", "slow") in recorder.calls)
    drain(manager, timeout=10)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.DISCARDED
    assert (status.last_error or "").startswith(
        "TimeoutError: attempt exceeded timeout_seconds=0.2"
    )
    # The coroutine was cancelled, so its thread ended rather than being left running.
    wait_until(lambda: manager.health()["abandoned_threads"] == 0)


def test_cancelling_a_running_async_worker_ends_it_cancelled(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(rw.async_cooperative, args=["c"])
    assert recorder.started.wait(10)
    manager.cancel_task(task_id)
    drain(manager, timeout=10)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.CANCELLED
    assert status.result is None


def test_a_returned_coroutine_is_run_and_a_returned_generator_fails_the_job(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    ran = manager.enqueue_task(rw.returns_coroutine, args=["ab"])
    lazy = manager.enqueue_task(rw.returns_generator, args=["g"], max_attempts=3)
    drain(manager, timeout=10)
    assert manager.get_task_status(ran).status is burro.TaskState.COMPLETED
    assert manager.get_task_status(ran).result == "abab"
    # Hopeless, like any job whose worker cannot run: discarded at once, not retried.
    assert_discarded_at_once(manager, lazy, "returned a generator object")
    assert ("generator body", "g") not in recorder.calls
    assert manager.supervision_tree()["alive"] is True


# -- 3 and 5. broken modules and bad paths: InvalidTaskError, never an actor crash -------
@pytest.mark.parametrize(
    ("module", "cause"),
    [
        ("resolution_raises_on_import", "RuntimeError: no database configured"),
        ("resolution_bad_syntax", "SyntaxError: "),
    ],
)
def test_a_worker_module_that_fails_to_import_is_refused_at_enqueue(
    manager: burro.BackgroundTaskManager, broken_modules: Path, module: str, cause: str
) -> None:
    with pytest.raises(burro.InvalidTaskError, match=f"'{module}' cannot be imported") as info:
        manager.enqueue_task(module, "f", [])
    assert cause in str(info.value)
    assert manager.list_tasks()[1].total_entries == 0


def test_stored_jobs_naming_broken_modules_or_paths_are_discarded_without_crashing(
    start_manager: Factory, broken_modules: Path, recorder: workers.Recorder
) -> None:
    manager = start_manager(allowed_worker_modules=["resolution_*", "*"])
    raising = forge(manager, "resolution_raises_on_import", "f")
    bad_syntax = forge(manager, "resolution_bad_syntax", "f")
    no_module = forge(manager, ":Holder", "run")
    no_class = forge(manager, f"{RW}:", "run")
    drain(manager, timeout=10)
    assert_discarded_at_once(
        manager, raising, "'resolution_raises_on_import'", "RuntimeError: no database configured"
    )
    assert_discarded_at_once(manager, bad_syntax, "'resolution_bad_syntax'", "SyntaxError")
    assert_discarded_at_once(manager, no_module, "':Holder' is not 'pkg.mod' or 'pkg.mod:Class'")
    assert_discarded_at_once(manager, no_class, f"'{RW}:' is not")
    assert restarts(manager.supervision_tree()) == 0
    assert manager.health()["status"] == "ok"


@pytest.mark.parametrize(
    "path",
    [":Holder", ".resolution_workers", f"{RW}:", f"{RW}:Holder:run", f"{RW}..x", "", " os"],
)
def test_an_import_path_that_is_not_absolute_and_canonical_is_refused(
    manager: burro.BackgroundTaskManager, path: str
) -> None:
    with pytest.raises(burro.InvalidTaskError, match=r"is not 'pkg\.mod' or 'pkg\.mod:Class'"):
        manager.enqueue_task(path, "run", [1])
    assert manager.list_tasks()[1].total_entries == 0


# -- 4. only a class marked itself runs ------------------------------------------------
def test_an_unmarked_subclass_of_a_marked_class_never_runs(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    for function in ("extra", "run"):
        with pytest.raises(burro.InvalidTaskError, match=r"not marked with @burro\.worker itself"):
            manager.enqueue_task(rw.Unmarked, function, [1])
    forged = forge(manager, f"{RW}:Unmarked", "extra")
    # What it inherits runs through the marked base's own path.
    inherited = manager.enqueue_task(rw.Unmarked.run, args=["base"])
    drain(manager, timeout=10)
    assert_discarded_at_once(manager, forged, "not marked")
    assert manager.get_task_status(inherited).worker == f"{RW}:Holder"
    assert manager.get_task_status(inherited).status is burro.TaskState.COMPLETED
    assert recorder.calls == [("Holder()", None), ("Holder.run", "base")]


# -- 6. the function name of a function object; static and class methods ---------------
def test_a_function_name_other_than_the_function_objects_own_is_refused(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    with pytest.raises(burro.InvalidTaskError, match="'no_such_function' does not name"):
        manager.enqueue_task(workers.record, "no_such_function", [1])
    with pytest.raises(burro.InvalidTaskError, match="'add' does not name"):
        manager.enqueue_many([{"worker": workers.record, "function": "add", "args": [1, 2]}])
    assert manager.list_tasks()[1].total_entries == 0
    ids = [
        manager.enqueue_task(workers.record, args=["default"]),
        manager.enqueue_task(workers.record, "record", ["own name"]),
        *manager.enqueue_many([{"worker": workers.record, "function": "record", "args": [3]}]),
    ]
    drain(manager, timeout=10)
    assert [manager.get_task_status(i).status for i in ids] == [burro.TaskState.COMPLETED] * 3
    assert set(recorder.runs) == {"default", "own name", 3}


def test_static_and_class_methods_of_a_marked_class_run_without_an_instance(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    ids = {
        "static by name": manager.enqueue_task(rw.Holder, "tally", [1]),
        "class by name": manager.enqueue_task(rw.Holder, "build", [2]),
        "static object": manager.enqueue_task(rw.Holder.tally, args=[3]),
        "class object": manager.enqueue_task(rw.Holder.build, args=[4]),
    }
    drain(manager, timeout=10)
    results = {name: manager.get_task_status(i).result for name, i in ids.items()}
    assert results == {
        "static by name": "static 1",
        "class by name": "Holder 2",
        "static object": "static 3",
        "class object": "Holder 4",
    }
    assert ("Holder()", None) not in recorder.calls  # no instance was made
    assert manager.get_task_status(ids["class object"]).worker == f"{RW}:Holder"
