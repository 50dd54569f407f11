"""Scenario 2: bulk insert with ``enqueue_many``.

Producer-only (``burro.connect``; Huey without its consumer), so that only inserting is
measured. Huey has no bulk API: its side of the comparison is one enqueue per job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path

from benchmarks._measure import rate, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import Durability, System, burro_system, huey_system
from benchmarks._table import Row, Target
from benchmarks._workloads import Measure, side_by_side
from benchmarks.workers import noop

__all__ = ["SCENARIO", "insert_rate"]

Opener = Callable[[Path, Durability], AbstractContextManager[System]]
_OPENERS: dict[str, Opener] = {
    "burro": partial(burro_system, run_queues=False),
    "huey": partial(huey_system, consume=False),
}
_TARGET = (Target("at_least", 150_000, "≥ 150,000/s"),)


def batches(jobs: int, size: int) -> list[list[tuple[int]]]:
    """The argument lists of ``jobs`` jobs, ``size`` per call."""
    return [[(i,) for i in range(start, min(start + size, jobs))] for start in range(0, jobs, size)]


def insert_rate(open_system: Opener, durability: Durability, jobs: int, size: int) -> float:
    """Jobs per second stored by ``enqueue_many`` calls of ``size`` jobs."""
    calls = batches(jobs, size)
    with scratch("bulk") as directory, open_system(directory, durability) as system:
        started = time.perf_counter()
        for arg_lists in calls:
            system.enqueue_many(noop, arg_lists)
        return rate(jobs, time.perf_counter() - started)


def _measure(name: str, durability: Durability, jobs: int, size: int) -> Measure:
    return lambda: {"jobs/s": insert_rate(_OPENERS[name], durability, jobs, size)}


def case_row(settings: Settings, durability: Durability) -> Row:
    """One durability class, burro and Huey side by side."""
    jobs = settings.bulk_jobs_process if durability == "process" else settings.bulk_jobs_fsync
    size = settings.bulk_batch
    stats = side_by_side(
        f"bulk_insert {durability} ({jobs} jobs, {size} per call)",
        settings.repeats,
        {name: _measure(name, durability, jobs, size) for name in _OPENERS},
    )
    return Row(
        scenario="2 bulk insert",
        case=f"{durability}, {size:,} jobs per call",
        metric="jobs stored/s",
        unit="/s",
        burro=stats["burro"]["jobs/s"],
        huey=stats["huey"]["jobs/s"],
        targets=_TARGET,
        note="Huey: one enqueue per job (no bulk API)",
    )


def run(settings: Settings) -> list[Row]:
    """Both durability classes."""
    return [case_row(settings, durability) for durability in ("process", "fsync")]


SCENARIO = Scenario("bulk_insert", "enqueue_many bulk insert", run)
