"""Whatever a job's code raises or returns, its attempt is judged and the runtime runs on."""

from __future__ import annotations

from pathlib import Path

import pytest

import burro
from burro.testing import drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory


@pytest.mark.parametrize("kind", ["KeyboardInterrupt", "GeneratorExit", "SystemExit"])
def test_a_base_exception_fails_the_attempt_and_leaves_every_runtime_running(
    start_manager: Factory, recorder: workers.Recorder, tmp_path: Path, kind: str
) -> None:
    manager = start_manager()
    neighbour = start_manager(data_dir=tmp_path / "neighbour")
    task_id = manager.enqueue_task(workers.raises, args=[kind])
    drain(manager, timeout=5)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.DISCARDED
    assert status.last_error is not None
    assert status.last_error.startswith(f"{kind}: raised by {kind} job")
    assert manager.supervision_tree()["children"][0]["restarts"] == 0
    # Another runtime of the same process is untouched.
    other = neighbour.enqueue_task(workers.record, args=["neighbour"])
    drain(neighbour, timeout=5)
    assert neighbour.get_task_status(other).status is burro.TaskState.COMPLETED
    assert neighbour.supervision_tree()["alive"] is True


@pytest.mark.parametrize(
    ("worker", "error_type"),
    [(workers.raises_unprintable, "Unprintable"), (workers.fails_unprintably, "Failure")],
)
def test_an_error_that_cannot_be_rendered_still_fails_the_attempt(
    manager: burro.BackgroundTaskManager,
    recorder: workers.Recorder,
    worker: object,
    error_type: str,
) -> None:
    task_id = manager.enqueue_task(worker)
    drain(manager, timeout=5)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.DISCARDED
    assert status.last_error is not None
    assert status.last_error.startswith(f"{error_type}: ")
    assert manager.supervision_tree()["children"][0]["restarts"] == 0  # the worker lived on


def test_a_returned_pair_that_refuses_comparison_completes_the_job(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    task_id = manager.enqueue_task(workers.returns_incomparable_pair)
    drain(manager, timeout=5)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert manager.supervision_tree()["children"][0]["restarts"] == 0


@pytest.mark.parametrize("value", sorted(workers.UNSTORABLE))
def test_an_int_or_str_result_msgpack_cannot_store_completes_with_no_result(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder, value: str
) -> None:
    task_id = manager.enqueue_task(workers.returns, args=[value])
    drain(manager, timeout=5)
    status = manager.get_task_status(task_id)
    assert status.status is burro.TaskState.COMPLETED
    assert status.attempts == 1
    assert status.result is None
    assert recorder.runs[value] == 1
