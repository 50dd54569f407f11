"""A runtime whose disk fills up, then gets room again: run as root in a private mount.

Usage: ``python -m tests.integration.runtime.full_disk_child DATA_DIR``, where the
parent of DATA_DIR is a small tmpfs the caller mounted; the child remounts it larger.
Prints one JSON line: what happened at each step.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import burro
from burro.testing import drain

JOBS = 20


@burro.worker
def noop(n: int) -> int:
    """A job that does nothing but return its number."""
    return n


@burro.worker
def never_runs(payload: str) -> None:
    """Parked on a paused queue: it only fills the disk."""


def wait_until(predicate: Callable[[], bool], timeout: float = 20.0) -> bool:
    """Whether ``predicate`` came true within ``timeout`` (checked every 10 ms)."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        pause.wait(0.01)
    return True


def fill_the_disk(manager: burro.BackgroundTaskManager) -> str:
    """Enqueue parked jobs, big then small, until not even a small one fits."""
    error = ""
    for size in (100_000, 1_000, 10):
        try:
            while True:
                manager.enqueue_task(never_runs, args=["x" * size], queue="parked")
        except burro.StorageError as full:
            error = str(full)
    return error


def restarts(tree: dict[str, Any]) -> int:
    """Restarts of every actor and supervisor of the tree."""
    return int(tree["restarts"]) + sum(restarts(child) for child in tree["children"])


def main() -> None:
    data_dir = sys.argv[1]
    report: dict[str, Any] = {}
    manager = burro.start(
        data_dir=data_dir,
        durability="process",
        poll_interval_seconds=0.05,
        queues={"default": {"concurrency": 2}, "parked": {"concurrency": 1}},
    )
    manager.pause_queue("parked")
    manager.pause_queue("default")
    ids = [manager.enqueue_task(noop, args=[n]) for n in range(JOBS)]
    report["full"] = fill_the_disk(manager)
    manager.resume_queue("default")  # its claims cannot be stored now
    report["degraded"] = wait_until(lambda: manager.health()["status"] == "degraded")
    report["problems"] = manager.health()["problems"]
    mount_point = str(Path(data_dir).parent)
    subprocess.run(["mount", "-o", "remount,size=64m", mount_point], check=True)
    drain(manager, queue="default", timeout=30)
    report["health"] = manager.health()["status"]
    report["states"] = sorted({manager.get_task_status(i).status.value for i in ids})
    report["restarts"] = restarts(manager.supervision_tree())
    manager.stop(timeout=5)
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
