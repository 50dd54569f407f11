"""The jobs the integration examples run: a greeting that works, a charge that never does."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import burro
from burro.states import FINISHED_STATES


@burro.worker(queue="default")
def greet(name: str) -> str:
    """Succeeds at once."""
    return f"hello, {name}"


@burro.worker(queue="default", max_attempts=2, retry_delay_seconds=0.05)
def charge_card(order_id: str) -> None:
    """Always declined: retried once, then discarded (the dead-letter queue)."""
    raise RuntimeError(f"card declined for order {order_id}")


def run_sample(manager: burro.BackgroundTaskManager, timeout: float = 30.0) -> list[str]:
    """Enqueue two greetings and a charge that fails, and wait until all have finished."""
    changed = threading.Event()

    def wake(_event: str, _payload: Mapping[str, Any]) -> None:
        changed.set()

    manager.events.subscribe("*", wake)
    try:
        ids = [
            manager.enqueue_task(greet, args=["Ada"]),
            manager.enqueue_task(greet, args=["Grace"]),
            manager.enqueue_task(charge_card, args=["order-42"]),
        ]
        waiting = set(ids)
        while waiting:
            waiting = {
                i for i in waiting if manager.get_task_status(i).status not in FINISHED_STATES
            }
            if waiting and not changed.wait(timeout):
                raise TimeoutError(f"tasks still unfinished after {timeout}s: {sorted(waiting)}")
            changed.clear()
        return ids
    finally:
        manager.events.unsubscribe("*", wake)
