"""How big each scenario runs (full and ``--quick``), and what a scenario is."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from benchmarks._table import Row

__all__ = ["FULL", "QUICK", "Scenario", "Settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    """Workload sizes shared by every scenario of one run."""

    quick: bool
    repeats: int
    #: Scenario 1: jobs per run, by durability, and the concurrencies tried.
    e2e_jobs_process: int
    e2e_jobs_fsync: int
    concurrencies: tuple[int, ...]
    #: Scenario 2: jobs per run, by durability, and jobs per ``enqueue_many`` call.
    bulk_jobs_process: int
    bulk_jobs_fsync: int
    bulk_batch: int
    #: Scenario 3: producer threads, and jobs they enqueue in all.
    producer_threads: int
    producer_jobs: int
    #: Scenario 4: the paced producer's rate and how long it runs.
    latency_rate: float
    latency_seconds: float
    #: Scenario 5: the small and the large store, and fresh jobs run on each.
    stored_small: int
    stored_large: int
    stored_probe_jobs: int
    #: Scenario 6: jobs stored, claims left by a killed runtime, jobs waited for.
    cold_stored: int
    cold_orphans: int
    cold_sample: int
    #: Scenario 7: old completed jobs deleted while a queue runs, and how long the
    #: queue runs before the clean-up (the gaps of that window are the baseline).
    cleanup_old: int
    cleanup_baseline: float
    #: Scenario 8: no-op jobs run with and without the SDK.
    otel_jobs: int
    #: Longest wait for any one run before it is declared stuck (seconds).
    timeout: float = 600.0

    def with_repeats(self, repeats: int | None) -> Settings:
        """A copy with ``repeats`` changed (``None``: unchanged)."""
        return self if repeats is None else dataclasses.replace(self, repeats=repeats)


FULL = Settings(
    quick=False,
    repeats=3,
    e2e_jobs_process=20_000,
    e2e_jobs_fsync=2_000,
    concurrencies=(1, 4, 16),
    bulk_jobs_process=100_000,
    bulk_jobs_fsync=10_000,
    bulk_batch=1_000,
    producer_threads=16,
    producer_jobs=3_200,
    latency_rate=200.0,
    latency_seconds=5.0,
    stored_small=10_000,
    stored_large=1_000_000,
    stored_probe_jobs=10_000,
    cold_stored=1_000_000,
    cold_orphans=16,
    cold_sample=1_000,
    cleanup_old=200_000,
    cleanup_baseline=2.0,
    otel_jobs=10_000,
)

QUICK = Settings(
    quick=True,
    repeats=1,
    e2e_jobs_process=200,
    e2e_jobs_fsync=20,
    concurrencies=(1, 4, 16),
    bulk_jobs_process=500,
    bulk_jobs_fsync=100,
    bulk_batch=100,
    producer_threads=4,
    producer_jobs=40,
    latency_rate=200.0,
    latency_seconds=0.25,
    stored_small=1_000,
    stored_large=10_000,
    stored_probe_jobs=200,
    cold_stored=10_000,
    cold_orphans=4,
    cold_sample=100,
    cleanup_old=2_000,
    cleanup_baseline=0.3,
    otel_jobs=200,
    timeout=60.0,
)


@dataclass(frozen=True, slots=True)
class Scenario:
    """A named benchmark: ``run(settings)`` returns its rows of the table."""

    name: str
    title: str
    run: Callable[[Settings], list[Row]]
