"""What bounds end-to-end speed: each side alone, both together, and both on one CPU.

Scenario 1 runs a producer and its workers in one process. This breaks its no-op rate
down, for burro and Huey alike, each measurement in a fresh interpreter:

* producer alone: ``enqueue_task`` (Huey: the task call) with nothing consuming;
* workers alone: the same number of jobs stored first, then run;
* end to end: both at once, as in scenario 1;
* end to end, one CPU: the same, with the whole process pinned to one CPU.

If both at once were only the sum of both alone, the end-to-end rate would be
``1 / (1/producer + 1/workers)``; the table prints that too. On a multi-core machine
the threads of one Python process hand the GIL to each other, and each hand-off moves
the interpreter's working set between CPU caches: pinning shows how much that costs.

A second table splits each measurement's CPU time per job between the thread that
enqueues (the main thread) and every other thread (the workers and their actors), with
the voluntary context switches per job: where a side alone costs less than the same
side beside the other, the difference is what running both at once adds.

Run it (it is not one of the ``python -m benchmarks`` scenarios)::

    python -m benchmarks.bounds [--jobs 20000] [--concurrency 1] [--markdown bounds.md]
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple

from rich.console import Console
from rich.table import Table

from benchmarks._measure import progress, rate, run_child, scratch
from benchmarks._systems import System, burro_system, huey_system
from benchmarks._workloads import noop_throughput, wait_for_tally
from benchmarks.workers import TALLY, noop

__all__ = ["CpuMeter", "CpuUse", "measure", "producer_alone", "workers_alone"]

_TIMEOUT = 600.0
_MEASURES = ("producer alone", "workers alone", "end to end", "end to end, one CPU")


class CpuUse(NamedTuple):
    """CPU seconds of the calling thread and of the whole process; voluntary switches."""

    caller: float
    process: float
    switches: int

    @classmethod
    def now(cls) -> CpuUse:
        """The totals so far (Linux: per-thread usage)."""
        own = resource.getrusage(resource.RUSAGE_THREAD)
        every = resource.getrusage(resource.RUSAGE_SELF)
        return cls(own.ru_utime + own.ru_stime, every.ru_utime + every.ru_stime, every.ru_nvcsw)

    def since(self, start: CpuUse) -> CpuUse:
        """What was used between ``start`` and these totals."""
        return CpuUse(
            self.caller - start.caller, self.process - start.process, self.switches - start.switches
        )


class CpuMeter:
    """Measures the CPU time and context switches of a ``with`` block."""

    def __init__(self) -> None:
        self._start = CpuUse(0.0, 0.0, 0)
        self.used = CpuUse(0.0, 0.0, 0)

    def __enter__(self) -> CpuMeter:
        self._start = CpuUse.now()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.used = CpuUse.now().since(self._start)

    def per_job(self, jobs: int) -> dict[str, float]:
        """µs of CPU per job on the calling thread and on the others; switches per job."""
        used = self.used
        return {
            "producer µs/job": 1e6 * used.caller / jobs,
            # Read a moment after the caller's own time: never below zero.
            "others µs/job": max(0.0, 1e6 * (used.process - used.caller) / jobs),
            "switches/job": used.switches / jobs,
        }


def producer_alone(system: System, jobs: int) -> float:
    """Jobs stored per second by one thread, with nothing consuming them."""
    started = time.perf_counter()
    for index in range(jobs):
        system.enqueue(noop, index)
    return rate(jobs, time.perf_counter() - started)


def workers_alone(
    name: str, directory: Path, jobs: int, concurrency: int, meter: CpuMeter | None = None
) -> float:
    """Jobs run per second from a store holding ``jobs`` of them, by fresh workers.

    ``meter`` measures the run, not the storing of the jobs before it.
    """
    if name == "burro":
        with burro_system(directory, "process", run_queues=False) as producer:
            for first in range(0, jobs, 1000):
                producer.enqueue_many(noop, [(n,) for n in range(first, min(jobs, first + 1000))])
    else:
        with huey_system(directory, "process", consume=False) as producer:
            producer_alone(producer, jobs)
    TALLY.arm(jobs)
    with meter or CpuMeter():
        started = time.perf_counter()
        opener = burro_system if name == "burro" else huey_system
        with opener(directory, "process", concurrency) as system:
            wait_for_tally(_TIMEOUT)
            system.settle(_TIMEOUT)
            return rate(jobs, time.perf_counter() - started)


def measure(name: str, what: str, jobs: int, concurrency: int) -> dict[str, Any]:
    """One measurement, run in a child process by :func:`main` (``_child`` calls it)."""
    if what == "end to end, one CPU":
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    meter = CpuMeter()
    with scratch("bounds") as directory:
        if what == "producer alone":
            opener = burro_system if name == "burro" else huey_system
            options = {"run_queues": False} if name == "burro" else {"consume": False}
            with opener(directory, "process", **options) as system, meter:
                value = producer_alone(system, jobs)
        elif what == "workers alone":
            value = workers_alone(name, directory, jobs, concurrency, meter)
        else:
            opener = burro_system if name == "burro" else huey_system
            with opener(directory, "process", concurrency) as system, meter:
                value = noop_throughput(system, jobs, _TIMEOUT)
    return {"jobs/s": value, **meter.per_job(jobs)}


def table(results: dict[tuple[str, str], float], jobs: int, concurrency: int) -> Table:
    """The rates, and what the sum of both sides alone would give."""
    out = Table(title=f"{jobs:,} no-op jobs, durability process, concurrency {concurrency}")
    out.add_column("measure")
    for name in ("burro", "huey"):
        out.add_column(f"{name} jobs/s", justify="right")
    for what in _MEASURES:
        out.add_row(what, *(f"{results[name, what]:,.0f}" for name in ("burro", "huey")))
    serial = [
        1 / (1 / results[name, "producer alone"] + 1 / results[name, "workers alone"])
        for name in ("burro", "huey")
    ]
    out.add_row("(both alone, one after the other)", *(f"{value:,.0f}" for value in serial))
    return out


def cpu_table(usage: dict[tuple[str, str], dict[str, float]]) -> Table:
    """CPU per job of the producer's thread and of the others, and switches per job."""
    out = Table(title="CPU per job: producer thread + other threads; voluntary switches per job")
    out.add_column("measure")
    for name in ("burro", "huey"):
        out.add_column(f"{name} CPU µs", justify="right")
        out.add_column(f"{name} switches", justify="right")
    for what in _MEASURES:
        cells = []
        for name in ("burro", "huey"):
            found = usage[name, what]
            producer, others = found["producer µs/job"], found["others µs/job"]
            cells.append(f"{producer:.1f} + {others:.1f} = {producer + others:.1f}")
            cells.append(f"{found['switches/job']:.2f}")
        out.add_row(what, *cells)
    return out


def main() -> None:
    """Measure every row for burro and Huey; print the tables."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bounds", description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    results: dict[tuple[str, str], float] = {}
    usage: dict[tuple[str, str], dict[str, float]] = {}
    for what in _MEASURES:
        for name in ("burro", "huey"):
            progress(f"bounds: {name}, {what}")
            found = run_child(
                "benchmarks.bounds:measure",
                name=name,
                what=what,
                jobs=options.jobs,
                concurrency=options.concurrency,
            )
            results[name, what] = found.pop("jobs/s")
            usage[name, what] = found
    console = Console(record=options.markdown is not None)
    console.width = max(console.width, 100)  # the CPU table's cells on one line
    console.print(table(results, options.jobs, options.concurrency))
    console.print(cpu_table(usage))
    if options.markdown is not None:
        options.markdown.write_text(console.export_text())


if __name__ == "__main__":
    main()
