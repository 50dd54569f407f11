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

Run it (it is not one of the ``python -m benchmarks`` scenarios)::

    python -m benchmarks.bounds [--jobs 20000] [--concurrency 1] [--markdown bounds.md]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from benchmarks._measure import progress, rate, run_child, scratch
from benchmarks._systems import System, burro_system, huey_system
from benchmarks._workloads import noop_throughput, wait_for_tally
from benchmarks.workers import TALLY, noop

__all__ = ["measure", "producer_alone", "workers_alone"]

_TIMEOUT = 600.0
_MEASURES = ("producer alone", "workers alone", "end to end", "end to end, one CPU")


def producer_alone(system: System, jobs: int) -> float:
    """Jobs stored per second by one thread, with nothing consuming them."""
    started = time.perf_counter()
    for index in range(jobs):
        system.enqueue(noop, index)
    return rate(jobs, time.perf_counter() - started)


def workers_alone(name: str, directory: Path, jobs: int, concurrency: int) -> float:
    """Jobs run per second from a store holding ``jobs`` of them, by fresh workers."""
    if name == "burro":
        with burro_system(directory, "process", run_queues=False) as producer:
            for first in range(0, jobs, 1000):
                producer.enqueue_many(noop, [(n,) for n in range(first, min(jobs, first + 1000))])
    else:
        with huey_system(directory, "process", consume=False) as producer:
            producer_alone(producer, jobs)
    TALLY.arm(jobs)
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
    with scratch("bounds") as directory:
        if what == "producer alone":
            opener = burro_system if name == "burro" else huey_system
            options = {"run_queues": False} if name == "burro" else {"consume": False}
            with opener(directory, "process", **options) as system:
                value = producer_alone(system, jobs)
        elif what == "workers alone":
            value = workers_alone(name, directory, jobs, concurrency)
        else:
            opener = burro_system if name == "burro" else huey_system
            with opener(directory, "process", concurrency) as system:
                value = noop_throughput(system, jobs, _TIMEOUT)
    return {"jobs/s": value}


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


def main() -> None:
    """Measure every row for burro and Huey; print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bounds", description=__doc__)
    parser.add_argument("--jobs", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    options = parser.parse_args()
    results: dict[tuple[str, str], float] = {}
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
            results[name, what] = found["jobs/s"]
    console = Console(record=options.markdown is not None)
    console.print(table(results, options.jobs, options.concurrency))
    if options.markdown is not None:
        options.markdown.write_text(console.export_text())


if __name__ == "__main__":
    main()
