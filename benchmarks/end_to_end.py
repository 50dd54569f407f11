"""Scenario 1: no-op jobs end to end, one producer thread.

Jobs per second from the first enqueue to the last completion (burro: settled in the
store), for both durability classes and several concurrencies; Huey runs as many
thread workers as burro's queue has slots.

Run on its own for profiling::

    python -m benchmarks.end_to_end --durability process --concurrency 4 --jobs 20000
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from benchmarks._measure import scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import Durability, burro_system, huey_system
from benchmarks._table import Row, Target
from benchmarks._workloads import Measure, noop_throughput, side_by_side

__all__ = ["SCENARIO", "RateFunction", "burro_rate", "huey_rate"]

#: ``(durability, concurrency, jobs, timeout) -> jobs/s``
RateFunction = Callable[[Durability, int, int, float], float]

_DURABILITIES: tuple[Durability, ...] = ("process", "fsync")
_PROCESS_TARGETS = (
    Target("at_least", 20_000, "≥ 20,000/s"),
    Target("times_huey", 10, "≥ 10x Huey"),
)


def burro_rate(durability: Durability, concurrency: int, jobs: int, timeout: float) -> float:
    """End-to-end jobs/s of a fresh burro runtime."""
    with scratch("e2e") as directory, burro_system(directory, durability, concurrency) as system:
        return noop_throughput(system, jobs, timeout)


def huey_rate(durability: Durability, concurrency: int, jobs: int, timeout: float) -> float:
    """End-to-end jobs/s of a fresh SqliteHuey with ``concurrency`` thread workers."""
    with scratch("e2e") as directory, huey_system(directory, durability, concurrency) as system:
        return noop_throughput(system, jobs, timeout)


def _measure(
    rate_of: RateFunction, durability: Durability, concurrency: int, jobs: int, timeout: float
) -> Measure:
    return lambda: {"jobs/s": rate_of(durability, concurrency, jobs, timeout)}


def case_row(settings: Settings, durability: Durability, concurrency: int) -> Row:
    """Measure one durability and concurrency, burro and Huey side by side."""
    jobs = settings.e2e_jobs_process if durability == "process" else settings.e2e_jobs_fsync
    args = (durability, concurrency, jobs, settings.timeout)
    stats = side_by_side(
        f"end_to_end {durability} c={concurrency} ({jobs} jobs)",
        settings.repeats,
        {
            "burro": _measure(burro_rate, *args),
            "huey": _measure(huey_rate, *args),
        },
    )
    return Row(
        scenario="1 end to end",
        case=f"{durability}, concurrency {concurrency}",
        metric="no-op jobs/s",
        unit="/s",
        burro=stats["burro"]["jobs/s"],
        huey=stats["huey"]["jobs/s"],
        targets=_PROCESS_TARGETS if durability == "process" else (),
    )


def run(settings: Settings) -> list[Row]:
    """Every durability x concurrency case."""
    return [
        case_row(settings, durability, concurrency)
        for durability in _DURABILITIES
        for concurrency in settings.concurrencies
    ]


SCENARIO = Scenario("end_to_end", "no-op jobs end to end, one producer", run)


def main() -> None:
    """Run burro alone on one case (for a profiler); print its rate."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.end_to_end")
    parser.add_argument("--durability", choices=_DURABILITIES, default="process")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=20_000)
    options = parser.parse_args()
    value = burro_rate(options.durability, options.concurrency, options.jobs, 600.0)
    print(f"burro {options.durability} concurrency {options.concurrency}: {value:,.0f} jobs/s")


if __name__ == "__main__":
    main()
