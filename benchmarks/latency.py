"""Scenario 4: enqueue→start latency at a steady 200 jobs/s.

A paced producer passes ``time.perf_counter()`` taken just before each enqueue call;
the job takes it again when it starts. Concurrency 4 for both systems; Huey's workers
poll with its default ``initial_delay`` of 0.1 s.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

from benchmarks._measure import percentile, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import Durability, System, burro_system, huey_system
from benchmarks._table import Row, Target
from benchmarks._workloads import Measure, run_paced, side_by_side
from benchmarks.workers import PROBE

__all__ = ["SCENARIO", "latencies"]

Opener = Callable[[Path, Durability], AbstractContextManager[System]]
_OPENERS: dict[str, Opener] = {"burro": burro_system, "huey": huey_system}
_WARM_UP_JOBS = 20
_TARGETS = {
    "p50": (Target("at_most", 1.0, "≤ 1 ms"),),
    "p99": (Target("at_most", 10.0, "≤ 10 ms"),),
}


def latencies(open_system: Opener, durability: Durability, settings: Settings) -> dict[str, float]:
    """p50 and p99 enqueue→start latency (ms) of one paced run, after a short warm-up."""
    jobs = round(settings.latency_rate * settings.latency_seconds)
    with scratch("latency") as directory, open_system(directory, durability) as system:
        run_paced(system, _WARM_UP_JOBS, settings.latency_rate, settings.timeout)
        run_paced(system, jobs, settings.latency_rate, settings.timeout)
        waits = list(PROBE.waits)
    return {
        "p50": percentile(waits, 50) * 1000,
        "p99": percentile(waits, 99) * 1000,
    }


def _measure(name: str, durability: Durability, settings: Settings) -> Measure:
    return lambda: latencies(_OPENERS[name], durability, settings)


def case_rows(settings: Settings, durability: Durability) -> list[Row]:
    """p50 and p99 rows of one durability class."""
    jobs = round(settings.latency_rate * settings.latency_seconds)
    stats = side_by_side(
        f"latency {durability} ({jobs} jobs at {settings.latency_rate:.0f}/s)",
        settings.repeats,
        {name: _measure(name, durability, settings) for name in _OPENERS},
    )
    return [
        Row(
            scenario="4 latency",
            case=f"{durability}, {settings.latency_rate:.0f} jobs/s, concurrency 4",
            metric=f"enqueue→start {quantile}",
            unit="ms",
            burro=stats["burro"][quantile],
            huey=stats["huey"][quantile],
            higher_is_better=False,
            targets=_TARGETS[quantile] if durability == "process" else (),
        )
        for quantile in ("p50", "p99")
    ]


def run(settings: Settings) -> list[Row]:
    """Both durability classes."""
    return [row for durability in ("process", "fsync") for row in case_rows(settings, durability)]


SCENARIO = Scenario("latency", "enqueue→start latency at 200 jobs/s", run)
