"""burro and Huey behind one small interface, so that both run the very same workload.

Durability classes:

* ``"fsync"``: burro ``durability="fsync"``; ``SqliteHuey`` with its defaults (WAL
  journal, SQLite's default ``synchronous=FULL``: every commit is fsync'd).
* ``"process"``: burro ``durability="process"``; ``SqliteHuey(fsync=False)``, which sets
  ``PRAGMA synchronous=OFF`` (a commit survives a process crash, not power loss).

Huey's consumer runs in this process with thread workers, started and stopped the way
Huey documents for embedding (``huey.create_consumer(...)``, ``consumer.start()``,
``consumer.stop(graceful=True)``); the periodic-task scheduler is off.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from huey import SqliteHuey  # type: ignore[import-untyped]
from huey.consumer import Consumer  # type: ignore[import-untyped]

import burro
from benchmarks import workers
from burro.testing import drain

__all__ = [
    "BurroSystem",
    "Durability",
    "HueySystem",
    "System",
    "burro_system",
    "huey_system",
    "make_huey",
]

Durability = Literal["process", "fsync"]
Job = Callable[..., None]
QUEUE = "default"
_JOBS: tuple[Job, ...] = (workers.noop, workers.stamped)
_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class System(Protocol):
    """What a scenario needs from a task runtime."""

    name: str

    def enqueue(self, job: Job, *args: Any) -> None:
        """Store one job."""

    def enqueue_many(self, job: Job, arg_lists: Sequence[Sequence[Any]]) -> None:
        """Store many jobs, as fast as the system allows."""

    def settle(self, timeout: float) -> None:
        """Wait until every job that ran is recorded as finished."""


class BurroSystem:
    """A burro runtime (or a producer-only facade) on one data directory."""

    name = "burro"

    def __init__(self, manager: burro.BackgroundTaskManager) -> None:
        self.manager = manager

    def enqueue(self, job: Job, *args: Any) -> None:
        """``enqueue_task``: one transaction per job."""
        self.manager.enqueue_task(job, args=args)

    def enqueue_many(self, job: Job, arg_lists: Sequence[Sequence[Any]]) -> None:
        """``enqueue_many``: one transaction for the whole list."""
        self.manager.enqueue_many([{"worker": job, "args": args} for args in arg_lists])

    def settle(self, timeout: float) -> None:
        """Wait until the default queue has nothing pending or running."""
        drain(self.manager, queue=QUEUE, timeout=timeout)


class HueySystem:
    """A ``SqliteHuey`` instance, with or without its consumer running."""

    name = "huey"

    def __init__(self, huey: SqliteHuey) -> None:
        self.huey = huey
        self._tasks = {job: huey.task(name=job.__name__)(job) for job in _JOBS}

    def enqueue(self, job: Job, *args: Any) -> None:
        """Call the task wrapper: one transaction per job."""
        self._tasks[job](*args)

    def enqueue_many(self, job: Job, arg_lists: Sequence[Sequence[Any]]) -> None:
        """Huey has no bulk insert: one enqueue per job."""
        task = self._tasks[job]
        for args in arg_lists:
            task(*args)

    def settle(self, timeout: float) -> None:
        """Nothing to wait for: Huey keeps no record of a finished no-op task."""

    def serialized(self, job: Job, *args: Any) -> bytes:
        """The bytes Huey would store for ``job(*args)`` (for seeding big queues)."""
        data: bytes = self.huey.serialize_task(self._tasks[job].s(*args))
        return data


def make_huey(directory: Path, durability: Durability, queue: str = QUEUE) -> SqliteHuey:
    """A ``SqliteHuey`` in ``directory`` configured for the durability class."""
    options: dict[str, Any] = {} if durability == "fsync" else {"fsync": False}
    directory.mkdir(parents=True, exist_ok=True)
    return SqliteHuey(name=queue, filename=str(directory / "huey.db"), **options)


@contextlib.contextmanager
def burro_system(
    directory: Path,
    durability: Durability,
    concurrency: int = 4,
    *,
    run_queues: bool = True,
    **options: Any,
) -> Iterator[BurroSystem]:
    """A started burro runtime (without ``run_queues``: a producer-only facade).

    ``options`` go to ``burro.start``/``burro.connect`` as they are.
    """
    opener = burro.start if run_queues else burro.connect
    manager = opener(
        data_dir=directory,
        durability=durability,
        queues={QUEUE: {"concurrency": concurrency}},
        **options,
    )
    try:
        yield BurroSystem(manager)
    finally:
        manager.stop()


@contextlib.contextmanager
def huey_system(
    directory: Path, durability: Durability, workers: int = 4, *, consume: bool = True
) -> Iterator[HueySystem]:
    """A ``SqliteHuey`` with (or without) an in-process thread consumer."""
    huey = make_huey(directory, durability)
    system = HueySystem(huey)
    consumer = _start_consumer(huey, workers) if consume else None
    try:
        yield system
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)
        huey.storage.close()


def _start_consumer(huey: SqliteHuey, workers: int) -> Consumer:
    # consumer.start() installs signal handlers for a stand-alone consumer; keep ours.
    saved = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    consumer: Consumer = huey.create_consumer(workers=workers, worker_type="thread", periodic=False)
    try:
        consumer.start()
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
    return consumer
