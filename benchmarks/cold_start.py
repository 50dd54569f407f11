"""Scenario 6: cold start on a big store — rescue and resume.

The store holds ``cold_stored`` pending jobs in the ``default`` queue; a runtime that
then died (it exits without releasing anything, as after ``kill -9``) holds claims on
``cold_orphans`` of them. A fresh process starts burro (``durability="process"``,
concurrency 4) and measures from the call to ``burro.start`` until it returns, until
the first job starts, and until a sample of jobs (the rescued ones first) has run.
Huey gets the same backlog and starts its consumer; it has nothing to rescue (it keeps
no record of tasks in flight). Each repeat runs on a fresh copy of the seeded store.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from benchmarks import _seed
from benchmarks._measure import Stats, copy_store, run_child, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import QUEUE, System, burro_system, huey_system
from benchmarks._table import Row, Target
from benchmarks._workloads import Measure, side_by_side, wait_for_tally
from benchmarks.workers import PROBE, TALLY, stamped

__all__ = ["SCENARIO", "probe"]

_OPENERS: dict[str, Callable[[Path], AbstractContextManager[System]]] = {
    "burro": lambda path: burro_system(path, "process", 4),
    "huey": lambda path: huey_system(path, "process", 4),
}
_TARGET = (Target("at_most", 5.0, "≤ 5 s"),)


def probe(system: str, directory: str, sample: int, timeout: float) -> dict[str, float]:
    """In a fresh process: start on the seeded store and time the way back to work."""
    TALLY.arm(sample)
    PROBE.reset()
    began = time.perf_counter()
    with _OPENERS[system](Path(directory)):
        returned = time.perf_counter()
        wait_for_tally(timeout)
        finished = time.perf_counter()
    return {
        "start": returned - began,
        "first": min(PROBE.starts) - began,
        "sample": finished - began,
    }


def seed(base: Path, settings: Settings) -> dict[str, Path]:
    """One seeded store per system; burro's with the claims of a dead runtime."""
    templates = {"burro": base / "burro", "huey": base / "huey"}
    _seed.burro_pending(templates["burro"], settings.cold_stored, QUEUE, stamped)
    run_child(
        "benchmarks._seed:crash_holding_claims",
        directory=str(templates["burro"]),
        count=settings.cold_orphans,
        queue=QUEUE,
    )
    _seed.huey_pending(templates["huey"], settings.cold_stored, QUEUE, stamped)
    return templates


def _measure(system: str, template: Path, settings: Settings) -> Measure:
    def once() -> dict[str, float]:
        with scratch("cold-run") as run_dir:
            store = copy_store(template, run_dir / "store")
            return run_child(
                "benchmarks.cold_start:probe",
                system=system,
                directory=str(store),
                sample=settings.cold_sample,
                timeout=settings.timeout,
            )

    return once


def rows_of(stats: dict[str, dict[str, Stats]], settings: Settings) -> list[Row]:
    """One row per moment measured."""
    case = f"{settings.cold_stored:,} stored, {settings.cold_orphans} to rescue"
    metrics = (
        ("start", "start call returned", ()),
        ("first", "first job started", _TARGET),
        ("sample", f"{settings.cold_sample:,} jobs run", _TARGET),
    )
    return [
        Row(
            "6 cold start",
            case,
            label,
            "s",
            stats["burro"][key],
            stats["huey"][key],
            higher_is_better=False,
            targets=targets,
        )
        for key, label, targets in metrics
    ]


def run(settings: Settings) -> list[Row]:
    """Seed once, then start each system on fresh copies."""
    with scratch("cold-seed") as base:
        templates = seed(base, settings)
        stats = side_by_side(
            f"cold_start {settings.cold_stored:,} stored",
            settings.repeats,
            {name: _measure(name, template, settings) for name, template in templates.items()},
        )
    return rows_of(stats, settings)


SCENARIO = Scenario("cold_start", "cold start: rescue and resume a big store", run)
