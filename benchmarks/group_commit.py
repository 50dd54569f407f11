"""Scenario 3: many producer threads enqueuing at once, ``durability="fsync"``.

With group commit, concurrent enqueues share fsyncs, so many threads store far more
jobs per second than one. Producer-only (``burro.connect``; Huey without its consumer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

from benchmarks._measure import Stats, rate, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import Durability, System, burro_system, huey_system
from benchmarks._table import Row
from benchmarks._workloads import Measure, side_by_side
from benchmarks.workers import noop

__all__ = ["SCENARIO", "producers_rate"]

Opener = Callable[[Path, Durability], AbstractContextManager[System]]
_OPENERS: dict[str, Opener] = {
    "burro": partial(burro_system, run_queues=False),
    "huey": partial(huey_system, consume=False),
}


def _produce(system: System, barrier: threading.Barrier, jobs: int) -> None:
    barrier.wait()
    for index in range(jobs):
        system.enqueue(noop, index)


def producers_rate(open_system: Opener, threads: int, jobs: int) -> float:
    """Jobs per second stored by ``threads`` threads, ``jobs // threads`` each, all at once."""
    per_thread = jobs // threads
    barrier = threading.Barrier(threads + 1)
    with (
        scratch("producers") as directory,
        open_system(directory, "fsync") as system,
        ThreadPoolExecutor(threads) as pool,
    ):
        futures = [pool.submit(_produce, system, barrier, per_thread) for _ in range(threads)]
        barrier.wait()
        started = time.perf_counter()
        for future in futures:
            future.result()
        return rate(per_thread * threads, time.perf_counter() - started)


def _measure(name: str, threads: int, jobs: int) -> Measure:
    return lambda: {"jobs/s": producers_rate(_OPENERS[name], threads, jobs)}


def case_stats(settings: Settings, threads: int) -> dict[str, Stats]:
    """burro's and Huey's rates with ``threads`` producers."""
    jobs = settings.producer_jobs
    stats = side_by_side(
        f"group_commit fsync, {threads} thread(s) ({jobs} jobs)",
        settings.repeats,
        {name: _measure(name, threads, jobs) for name in _OPENERS},
    )
    return {name: metrics["jobs/s"] for name, metrics in stats.items()}


def run(settings: Settings) -> list[Row]:
    """One producer thread, then many."""
    many = settings.producer_threads
    single, multi = case_stats(settings, 1), case_stats(settings, many)
    gain = multi["burro"].median / single["burro"].median
    return [
        Row(
            "3 group commit",
            "fsync, 1 producer thread",
            "jobs stored/s",
            "/s",
            burro=single["burro"],
            huey=single["huey"],
        ),
        Row(
            "3 group commit",
            f"fsync, {many} producer threads",
            "jobs stored/s",
            "/s",
            burro=multi["burro"],
            huey=multi["huey"],
            note=f"burro: {gain:.1f}x its 1-thread rate",
        ),
    ]


SCENARIO = Scenario("group_commit", "many producer threads enqueuing with fsync", run)
