"""The runtime's actor tree, built in one place.

```
Supervisor "burro" (one_for_one)
├── Supervisor "QueueSupervisor:<queue>" (one_for_one), one per queue
│   ├── WorkerActor:<queue>:0 … WorkerActor:<queue>:<concurrency-1>
│   └── QueueActor:<queue>          (started last: its workers are there to take jobs)
├── SchedulerActor
└── CleanupActor
```
Children stop in reverse order, so a queue stops claiming before its workers stop.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import pykka

from burro.actors._context import RuntimeContext
from burro.actors.cleanup import CleanupActor
from burro.actors.queue import QueueActor
from burro.actors.scheduler import SchedulerActor
from burro.actors.worker import WorkerActor
from burro.supervision import ChildSpec, RestartEvent, Supervisor

__all__ = ["ROOT_NAME", "build_runtime_tree", "worker_spec"]

ROOT_NAME = "burro"
# Workers are stopped only after stop() waited for their jobs; one stuck in user code is
# abandoned quickly rather than holding up shutdown.
_WORKER_SHUTDOWN_TIMEOUT = 0.5
_ACTOR_SHUTDOWN_TIMEOUT = 5.0


def build_runtime_tree(
    context: RuntimeContext, on_failure: Callable[[str], None]
) -> pykka.ActorRef[Supervisor]:
    """Start the whole tree for ``context`` and return the root supervisor."""
    on_restart = partial(_report_restart, context)
    children = [
        ChildSpec(
            id=f"QueueSupervisor:{queue}",
            start=partial(_start_queue_supervisor, context, queue, on_restart),
            shutdown_timeout=_ACTOR_SHUTDOWN_TIMEOUT + _WORKER_SHUTDOWN_TIMEOUT * 64,
        )
        for queue in context.hubs
    ]
    children.append(ChildSpec("SchedulerActor", partial(SchedulerActor.start, context)))
    children.append(ChildSpec("CleanupActor", partial(CleanupActor.start, context)))
    return Supervisor.start(
        name=ROOT_NAME,
        children=children,
        strategy="one_for_one",
        max_restarts=10,
        max_seconds=5.0,
        on_restart=on_restart,
        on_failure=on_failure,
    )


def worker_spec(context: RuntimeContext, queue: str, index: int) -> ChildSpec:
    """The child spec of one worker slot (also used when scaling a queue up)."""
    return ChildSpec(
        id=f"WorkerActor:{queue}:{index}",
        start=partial(WorkerActor.start, context, queue, index),
        shutdown_timeout=_WORKER_SHUTDOWN_TIMEOUT,
    )


def _start_queue_supervisor(
    context: RuntimeContext, queue: str, on_restart: Callable[[RestartEvent], None]
) -> pykka.ActorRef[Any]:
    concurrency = context.hubs[queue].concurrency
    children = [worker_spec(context, queue, index) for index in range(concurrency)]
    children.append(
        ChildSpec(
            f"QueueActor:{queue}",
            partial(QueueActor.start, context, queue),
            shutdown_timeout=_ACTOR_SHUTDOWN_TIMEOUT,
        )
    )
    return Supervisor.start(
        name=f"QueueSupervisor:{queue}",
        children=children,
        strategy="one_for_one",
        max_restarts=max(10, 2 * concurrency),
        max_seconds=5.0,
        on_restart=on_restart,
    )


def _report_restart(context: RuntimeContext, event: RestartEvent) -> None:
    context.reporter.actor_restarted(event.supervisor, event.child_id, event.reason, event.count)
