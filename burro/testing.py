"""Helpers for testing applications that use burro, and for fault drills.

* :func:`drain` blocks until a runtime has nothing left to do, for deterministic tests.
* :func:`crash_actor` makes a named actor fail inside its own thread, as a bug would.
* :class:`ManualClock` moves time only when the test says so (schedules, retries, cron).
"""

from __future__ import annotations

import math
import time
from typing import Any

import pykka

from burro.actors._base import BurroActor
from burro.clock import ManualClock
from burro.errors import InvalidTaskError
from burro.facade.manager import BackgroundTaskManager
from burro.states import TaskState

__all__ = ["ManualClock", "actor_ref", "crash_actor", "drain"]

_POLL_FALLBACK = 0.05


def actor_ref(manager: BackgroundTaskManager, name: str) -> pykka.ActorRef[Any]:
    """The live incarnation of the actor called ``name`` in ``supervision_tree()``."""
    root = manager._root
    if root is None:
        raise LookupError("this runtime has no actors (disabled or noop)")
    path = _path_to(name)
    ref: pykka.ActorRef[Any] = root
    for child_id in path:
        try:
            found = ref.proxy().child_ref(child_id).get(timeout=5)
        except pykka.ActorDeadError:
            found = None  # the supervisor itself is gone (the runtime failed or stopped)
        if found is None:
            raise LookupError(f"no live actor {child_id!r} in the supervision tree")
        ref = found
    return ref


def crash_actor(manager: BackgroundTaskManager, name: str) -> None:
    """Make the actor ``name`` raise inside its own thread.

    Names are as in ``supervision_tree()``: ``"QueueActor:<queue>"``,
    ``"WorkerActor:<queue>:<n>"``, ``"SchedulerActor"``, ``"CleanupActor"``. An idle
    actor fails at once; a busy worker fails right after its job's code returns and
    before the outcome is committed, so the job is rescued and runs again.
    """
    if not isinstance(name, str):
        raise TypeError(f"crash_actor takes an actor's name, not {name!r}")
    # The flag must be set from outside: a busy actor reads its inbox only after its job.
    actor = actor_ref(manager, name)._actor_weakref()
    if not isinstance(actor, BurroActor):
        raise LookupError(f"{name!r} is not one of burro's actors")
    actor.request_crash()


def drain(manager: BackgroundTaskManager, queue: str | None = None, timeout: float = 10.0) -> None:
    """Block until no job is pending, running, or due (scheduled/retryable/recurring) now.

    ``queue=None`` waits for every queue this runtime runs (a manager of
    :func:`burro.connect` runs none: then for every queue of the store); jobs of a queue
    no runtime here runs would never finish. Raises TimeoutError if work remains after
    ``timeout`` seconds of real time, RuntimeNotRunning once the runtime stopped.
    """
    manager._require_running()
    if queue is not None and not isinstance(queue, str):
        raise InvalidTaskError(f"drain: a queue is named by a str, not {queue!r}")
    if (
        isinstance(timeout, bool)
        or not isinstance(timeout, (int, float))
        or not math.isfinite(timeout)
        or timeout < 0
    ):
        raise InvalidTaskError(f"drain: timeout must be a number of seconds >= 0, not {timeout!r}")
    if queue is not None and manager._runs_queues and queue not in manager._ctx.hubs:
        raise LookupError(f"drain: queue {queue!r} is not run by this runtime")
    ctx = manager._ctx
    deadline = time.monotonic() + timeout
    with ctx.activity:
        while not _idle(manager, queue):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"drain: work remains after {timeout}s: {_summary(manager)}")
            # Settling notifies; the short fallback covers claims, which do not.
            ctx.activity.wait(min(remaining, _POLL_FALLBACK))


def _idle(manager: BackgroundTaskManager, queue: str | None) -> bool:
    # Read in the direction jobs move (recurring fire → due → pending → running → slot
    # freed), so a job that moves between two reads is seen by the later one.
    storage = manager._storage
    now = manager.clock.now()
    if any(record.next_fire_at <= now for record in storage.list_recurring()):
        return False
    due = storage.next_due_at()
    if due is not None and due <= now:
        return False
    counts = storage.counts()
    hubs = manager._ctx.hubs
    queues = _drained_queues(manager, queue, counts)
    # A slot is freed just after its job's outcome is committed: wait for that too.
    if any(hubs[name].running_jobs() for name in queues if name in hubs):
        return False
    return not any(
        counts.get(name, {}).get(TaskState.PENDING, 0)
        or counts.get(name, {}).get(TaskState.RUNNING, 0)
        for name in queues
    )


def _drained_queues(
    manager: BackgroundTaskManager, queue: str | None, counts: dict[str, Any]
) -> list[str]:
    """The queues :func:`drain` waits for: ``queue``, this runtime's, or else the store's."""
    if queue is not None:
        return [queue]
    return list(manager._ctx.hubs) if manager._runs_queues else list(counts)


def _summary(manager: BackgroundTaskManager) -> dict[str, dict[str, int]]:
    return {
        q: {s.value: n for s, n in by.items() if n} for q, by in manager._storage.counts().items()
    }


def _path_to(name: str) -> list[str]:
    kind, _, rest = name.partition(":")
    if kind in ("QueueActor", "WorkerActor") and rest:
        queue = rest.split(":")[0]
        return [f"QueueSupervisor:{queue}", name]
    return [name]
