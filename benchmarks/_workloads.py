"""Workloads shared by several scenarios, and the repeat loop that compares two systems."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from benchmarks._measure import Stats, progress, rate
from benchmarks._systems import System
from benchmarks._table import number
from benchmarks.workers import PROBE, TALLY, noop, stamped

__all__ = ["Measure", "noop_throughput", "run_paced", "side_by_side", "wait_for_tally"]

#: One measurement: metric name -> value.
Measure = Callable[[], dict[str, float]]


def side_by_side(
    label: str, repeats: int, measures: Mapping[str, Measure]
) -> dict[str, dict[str, Stats]]:
    """Run each system's measure ``repeats`` times, interleaved; Stats per system, metric."""
    values: dict[str, dict[str, list[float]]] = {name: {} for name in measures}
    for repeat in range(1, repeats + 1):
        for name, measure in measures.items():
            result = measure()
            shown = ", ".join(f"{key}={number(value)}" for key, value in result.items())
            progress(f"{label} · {name} · repeat {repeat}/{repeats}: {shown}")
            for key, value in result.items():
                values[name].setdefault(key, []).append(value)
    return {
        name: {key: Stats.of(series) for key, series in metrics.items()}
        for name, metrics in values.items()
    }


def wait_for_tally(timeout: float) -> None:
    """Block until the armed number of jobs ran; TimeoutError if they do not."""
    if not TALLY.wait(timeout):
        raise TimeoutError(f"only {TALLY.count} of {TALLY.target} jobs ran in {timeout}s")


def noop_throughput(system: System, jobs: int, timeout: float) -> float:
    """Jobs per second from the first enqueue to the last completion, one producer."""
    TALLY.arm(jobs)
    started = time.perf_counter()
    for index in range(jobs):
        system.enqueue(noop, index)
    wait_for_tally(timeout)
    system.settle(timeout)
    return rate(jobs, time.perf_counter() - started)


def run_paced(system: System, jobs: int, per_second: float, timeout: float) -> None:
    """Enqueue ``stamped`` jobs at a steady rate, then wait until all of them ran."""
    TALLY.arm(jobs)
    PROBE.reset()
    started = time.perf_counter()
    for index in range(jobs):
        delay = started + index / per_second - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        system.enqueue(stamped, time.perf_counter())
    wait_for_tally(timeout)
