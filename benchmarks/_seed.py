"""Fill stores with many jobs quickly, through each system's own storage layer.

burro's stores are filled with :func:`burro.storage.open_storage` (``insert_many`` in
large transactions), Huey's with its own connection and its own ``INSERT`` statement
(``executemany``), so that a million jobs take seconds rather than minutes.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from benchmarks._measure import progress
from benchmarks._systems import Durability, HueySystem, make_huey
from benchmarks.workers import noop
from burro.storage import open_storage
from burro.storage.base import Complete, NewJob, RuntimeInfo, Storage

__all__ = ["burro_completed", "burro_pending", "crash_holding_claims", "huey_pending"]

_BATCH = 10_000
_SEED_RUNTIME = "benchmark-seed"
_HUEY_INSERT = "insert into task (queue, data, priority) values (?, ?, ?)"

Job = Callable[..., None]


def _chunks(count: int) -> Iterator[range]:
    for start in range(0, count, _BATCH):
        yield range(start, min(start + _BATCH, count))


def _insert(storage: Storage, count: int, queue: str, job: Job, now: datetime) -> None:
    # Seeded jobs take no arguments: every one is the same call.
    template = NewJob(queue=queue, worker=job.__module__, function=job.__name__)
    for chunk in _chunks(count):
        storage.insert_many([template] * len(chunk), now)
        if (chunk.stop // _BATCH) % 20 == 0:
            progress(f"seeded {chunk.stop:,} of {count:,} burro jobs")


def burro_pending(directory: Path, count: int, queue: str, job: Job = noop) -> None:
    """Store ``count`` pending jobs in ``queue``."""
    storage = open_storage("lmdb", directory, "process")
    try:
        _insert(storage, count, queue, job, datetime.now(UTC))
    finally:
        storage.close()


def burro_completed(directory: Path, count: int, queue: str, age_days: float) -> None:
    """Store ``count`` jobs completed ``age_days`` ago."""
    then = datetime.now(UTC) - timedelta(days=age_days)
    storage = open_storage("lmdb", directory, "process")
    try:
        _insert(storage, count, queue, noop, then)
        for chunk in _chunks(count):
            claimed = storage.claim(queue, len(chunk), _SEED_RUNTIME, then)
            storage.settle([Complete(job.id, _SEED_RUNTIME, job.attempts) for job in claimed], then)
    finally:
        storage.close()


def crash_holding_claims(directory: str, count: int, queue: str) -> None:
    """Claim ``count`` jobs as a registered runtime, then die without releasing them.

    Meant for a child process (``run_child``): it prints its result and exits at once,
    so its liveness lock is dropped by the kernel, as after ``kill -9``.
    """
    storage = open_storage("lmdb", directory, "process")
    now = datetime.now(UTC)
    runtime = RuntimeInfo("benchmark-crashed", os.getpid(), socket.gethostname(), now)
    storage.register_runtime(runtime)
    claimed = storage.claim(queue, count, runtime.id, now)
    print(json.dumps({"claimed": len(claimed)}), flush=True)
    os._exit(0)


def huey_pending(
    directory: Path, count: int, queue: str, job: Job = noop, durability: Durability = "process"
) -> None:
    """Store ``count`` pending tasks in Huey queue ``queue``."""
    huey = make_huey(directory, durability, queue)
    system = HueySystem(huey)
    try:
        for chunk in _chunks(count):
            rows = [(queue, system.serialized(job), 0) for _ in chunk]
            with huey.storage.db(commit=True) as cursor:
                cursor.executemany(_HUEY_INSERT, rows)
            if (chunk.stop // _BATCH) % 20 == 0:
                progress(f"seeded {chunk.stop:,} of {count:,} Huey tasks")
    finally:
        huey.storage.close()
