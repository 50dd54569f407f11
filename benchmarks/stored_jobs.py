"""Scenario 5: throughput and resident memory with a small and a large store.

The stored jobs are pending in a queue that no worker runs (``parked``), so they sit in
the store, in every index, while fresh no-op jobs run on the ``default`` queue
(``durability="process"``, concurrency 4). Each measurement runs in a fresh process on a
fresh copy of the seeded store; memory is the peak resident set (``VmHWM``), which
counts the pages of the store that the process touched.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks import _seed
from benchmarks._measure import Stats, copy_store, resident_mb, run_child, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import burro_system, huey_system
from benchmarks._table import Row, Target
from benchmarks._workloads import Measure, noop_throughput, side_by_side

__all__ = ["SCENARIO", "probe"]

_PARKED = "parked"
_SYSTEMS = ("burro", "huey")
_SCENARIO = "5 stored jobs"


def probe(system: str, directory: str, jobs: int, timeout: float) -> dict[str, float]:
    """In a fresh process: run ``jobs`` fresh no-op jobs; their rate and the peak RSS."""
    path = Path(directory)
    opened = (
        burro_system(path, "process", 4) if system == "burro" else huey_system(path, "process", 4)
    )
    with opened as running:
        value = noop_throughput(running, jobs, timeout)
        peak = resident_mb("VmHWM")
    return {"jobs/s": value, "MB": peak}


def seed(base: Path, size: int) -> dict[str, Path]:
    """Seeded stores of ``size`` parked jobs, one per system."""
    templates = {name: base / f"{name}-{size}" for name in _SYSTEMS}
    _seed.burro_pending(templates["burro"], size, _PARKED)
    _seed.huey_pending(templates["huey"], size, _PARKED)
    return templates


def _measure(system: str, template: Path, settings: Settings) -> Measure:
    def once() -> dict[str, float]:
        with scratch("stored-run") as run_dir:
            store = copy_store(template, run_dir / "store")
            return run_child(
                "benchmarks.stored_jobs:probe",
                system=system,
                directory=str(store),
                jobs=settings.stored_probe_jobs,
                timeout=settings.timeout,
            )

    return once


def size_stats(base: Path, size: int, settings: Settings) -> dict[str, dict[str, Stats]]:
    """Rate and memory of both systems with ``size`` stored jobs."""
    templates = seed(base, size)
    return side_by_side(
        f"stored_jobs {size:,} stored ({settings.stored_probe_jobs} fresh jobs)",
        settings.repeats,
        {name: _measure(name, template, settings) for name, template in templates.items()},
    )


def size_rows(size: int, stats: dict[str, dict[str, Stats]], large: bool) -> list[Row]:
    """The throughput and memory rows of one store size."""
    case = f"{size:,} stored, process, concurrency 4"
    memory_target = (Target("at_most", 150, "≤ 150 MB"),) if large else ()
    burro, huey = stats["burro"], stats["huey"]
    return [
        Row(_SCENARIO, case, "no-op jobs/s", "/s", burro["jobs/s"], huey["jobs/s"]),
        Row(
            _SCENARIO,
            case,
            "peak resident memory",
            "MB",
            burro["MB"],
            huey["MB"],
            higher_is_better=False,
            targets=memory_target,
        ),
    ]


def retention(small: dict[str, Stats], large: dict[str, Stats]) -> Stats:
    """Throughput with the large store as a fraction of that with the small, per repeat."""
    pairs = zip(small["jobs/s"].values, large["jobs/s"].values, strict=True)
    return Stats.of([big / little for little, big in pairs])


def run(settings: Settings) -> list[Row]:
    """The small store, the large store, and how much speed the large one keeps."""
    small, large = settings.stored_small, settings.stored_large
    with scratch("stored-seed") as base:
        by_size = {size: size_stats(base, size, settings) for size in (small, large)}
    rows = [
        row
        for size, stats in by_size.items()
        for row in size_rows(size, stats, large=size == large)
    ]
    kept = {name: retention(by_size[small][name], by_size[large][name]) for name in _SYSTEMS}
    rows.append(
        Row(
            _SCENARIO,
            f"{large:,} vs {small:,} stored",
            "throughput kept (large ÷ small)",
            "",
            kept["burro"],
            kept["huey"],
            targets=(Target("at_least", 0.8, "within 20 %"),),
        )
    )
    return rows


SCENARIO = Scenario("stored_jobs", "throughput and memory with many stored jobs", run)
