"""Crashed actors are restarted and the jobs they held are rescued, never lost or doubled."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import burro
from burro.actors._hub import QueueHub
from burro.states import TaskState
from burro.testing import crash_actor, drain
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import Factory, wait_until


def _node(tree: dict[str, Any], name: str) -> dict[str, Any]:
    if tree["name"] == name:
        return tree
    for child in tree["children"]:
        try:
            return _node(child, name)
        except LookupError:
            continue
    raise LookupError(name)


def test_crashed_worker_mid_job_is_restarted_and_its_job_runs_again(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    task_id = manager.enqueue_task(workers.blocks, args=["held"])
    assert recorder.started.wait(10)
    crash_actor(manager, "WorkerActor:default:0")
    recorder.gate.set()  # the job's code returns; the worker fails before committing it
    recorder.wait_for(lambda: recorder.runs["held"] == 2)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is TaskState.COMPLETED
    assert status.attempts == 2  # the interrupted attempt counts
    assert recorder.max_active == 1  # never ran twice at the same time
    wait_until(lambda: _node(manager.supervision_tree(), "WorkerActor:default:0")["restarts"] == 1)
    assert _node(manager.supervision_tree(), "WorkerActor:default:0")["alive"] is True


def test_crashed_idle_worker_comes_back_and_takes_jobs(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    crash_actor(manager, "WorkerActor:default:0")
    manager.enqueue_task(workers.record, args=["after crash"])
    recorder.wait_for(lambda: recorder.runs["after crash"] == 1)


def test_crashed_queue_actor_rescues_claims_it_never_dispatched(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    manager.pause_queue("default")
    task_id = manager.enqueue_task(workers.record, args=["stranded"])
    # A claim the QueueActor made and then died before handing to a worker:
    (claimed,) = manager._storage.claim("default", 1, manager.runtime_id, manager.clock.now())
    assert claimed.id == task_id
    crash_actor(manager, "QueueActor:default")
    manager.resume_queue("default")
    recorder.wait_for(lambda: recorder.runs["stranded"] == 1)
    drain(manager)
    status = manager.get_task_status(task_id)
    assert status.status is TaskState.COMPLETED
    assert (status.attempts, status.errors) == (1, ())  # the claim never started: no attempt lost
    # The restart is counted once the new incarnation's on_start (which rescued) returned.
    wait_until(lambda: _node(manager.supervision_tree(), "QueueActor:default")["restarts"] == 1)


def test_crashed_queue_actor_leaves_running_jobs_alone(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 2}})
    running = manager.enqueue_task(workers.blocks, args=["keeps running"])
    assert recorder.started.wait(10)
    crash_actor(manager, "QueueActor:default")
    manager.enqueue_task(workers.record, args=["new work"])
    recorder.wait_for(lambda: recorder.runs["new work"] == 1)
    recorder.gate.set()
    drain(manager)
    assert manager.get_task_status(running).status is TaskState.COMPLETED
    assert recorder.runs["keeps running"] == 1


def test_crashed_scheduler_is_restarted_and_keeps_promoting(
    start_manager: Factory, recorder: workers.Recorder
) -> None:
    manager = start_manager()
    crash_actor(manager, "SchedulerActor")
    manager.schedule_task(workers.record, "record", ["scheduled"], 0.05)
    recorder.wait_for(lambda: recorder.runs["scheduled"] == 1)
    wait_until(lambda: _node(manager.supervision_tree(), "SchedulerActor")["restarts"] == 1)


def test_restart_is_reported_as_an_event(
    manager: burro.BackgroundTaskManager, recorder: workers.Recorder
) -> None:
    got = workers.Recorder()
    manager.events.subscribe(
        "actor.restarted", lambda _name, payload: got.record("e", payload["actor"])
    )
    crash_actor(manager, "CleanupActor")
    got.wait_for(lambda: got.runs["CleanupActor"] == 1)
    assert manager.health()["status"] == "ok"


def two_jobs_behind_one_paused_worker(
    start_manager: Factory,
) -> tuple[burro.BackgroundTaskManager, str, str]:
    """One worker, no polling, and two jobs waiting until the queue is resumed."""
    manager = start_manager(poll_interval_seconds=3600, queues={"default": {"concurrency": 1}})
    manager.pause_queue("default")
    first = manager.enqueue_task(workers.record, args=["first"])
    second = manager.enqueue_task(workers.record, args=["second"])
    return manager, first, second


def run_both(manager: burro.BackgroundTaskManager, recorder: workers.Recorder) -> None:
    """Resume the queue; wait until the second job ran and nothing is left."""
    manager.resume_queue("default")
    recorder.wait_for(lambda: recorder.runs["second"] >= 1)
    drain(manager, timeout=10)


def test_a_queue_actor_restarting_while_a_worker_claims_its_next_job_leaves_that_job_alone(
    start_manager: Factory, recorder: workers.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker has committed the claim of its next job but not yet recorded it in the
    slot table when the QueueActor restarts and looks for claims nobody holds: that job
    is held, not stranded, and must run once, not be put back and run again."""
    manager, first, second = two_jobs_behind_one_paused_worker(start_manager)
    restarted = threading.Event()
    real_replace = QueueHub.replace

    def replace_after_a_queue_actor_restart(
        hub: QueueHub, index: int, finished: str, claimed: str
    ) -> bool:
        if not restarted.is_set():
            crash_actor(manager, "QueueActor:default")
            wait_until(
                lambda: _node(manager.supervision_tree(), "QueueActor:default")["restarts"] == 1
            )
            restarted.set()
        return real_replace(hub, index, finished, claimed)

    monkeypatch.setattr(QueueHub, "replace", replace_after_a_queue_actor_restart)
    run_both(manager, recorder)
    assert restarted.is_set()
    assert (recorder.runs["first"], recorder.runs["second"]) == (1, 1)
    assert [manager.get_task_status(t).attempts for t in (first, second)] == [1, 1]


def test_a_worker_dying_after_claiming_its_next_job_gives_that_job_back_unstarted(
    start_manager: Factory, recorder: workers.Recorder, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim of the slot's next job is committed, then the worker dies before taking
    it over: its next incarnation puts the job back, its attempt given back (it never
    started), and the job runs once."""
    manager, first, second = two_jobs_behind_one_paused_worker(start_manager)
    died = threading.Event()
    real_replace = QueueHub.replace

    def die_once(hub: QueueHub, index: int, finished: str, claimed: str) -> bool:
        if not died.is_set():
            died.set()
            raise RuntimeError("the worker dies holding a claim it has not taken over")
        return real_replace(hub, index, finished, claimed)

    monkeypatch.setattr(QueueHub, "replace", die_once)
    run_both(manager, recorder)
    assert died.is_set()
    assert (recorder.runs["first"], recorder.runs["second"]) == (1, 1)
    statuses = [manager.get_task_status(t) for t in (first, second)]
    assert [s.status for s in statuses] == [TaskState.COMPLETED, TaskState.COMPLETED]
    assert [s.attempts for s in statuses] == [1, 1]


def test_crash_actor_on_a_stopped_runtime_says_there_is_no_such_live_actor(
    manager: burro.BackgroundTaskManager,
) -> None:
    manager.stop(timeout=5)
    with pytest.raises(LookupError, match="no live actor 'SchedulerActor'"):
        crash_actor(manager, "SchedulerActor")


def test_crash_actor_takes_a_name(manager: burro.BackgroundTaskManager) -> None:
    with pytest.raises(TypeError, match="an actor's name"):
        crash_actor(manager, None)  # type: ignore[arg-type]
