"""Scenario 7: the clean-up pause.

The store holds ``cleanup_old`` jobs completed 30 days ago. A runtime
(``durability="process"``, concurrency 4) runs a steady stream of no-op jobs, fed so
that a backlog is always waiting; after ``cleanup_baseline`` seconds,
``cleanup_old_tasks(retention_days_completed=7)`` deletes the old jobs. The longest gap
between two consecutive job completions during the clean-up is compared with the
longest gap before it. Huey keeps no finished tasks, so it has no counterpart.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks import _seed
from benchmarks._measure import copy_store, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import QUEUE, BurroSystem, burro_system
from benchmarks._table import Row, Target
from benchmarks._workloads import side_by_side
from benchmarks.workers import PROBE, stamped

__all__ = ["SCENARIO", "Feeder", "longest_gap"]

_AGE_DAYS = 30.0
_RETENTION_DAYS = 7.0
_BACKLOG = 2_000
_BATCH = 200


class Feeder(threading.Thread):
    """Keeps about ``backlog`` jobs waiting, with ``enqueue_many`` calls of ``batch``."""

    def __init__(self, system: BurroSystem, backlog: int = _BACKLOG, batch: int = _BATCH) -> None:
        super().__init__(name="benchmark-feeder", daemon=True)
        self._system = system
        self._backlog = backlog
        self._batch = [()] * batch
        self._halt = threading.Event()
        self.enqueued = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        """Top the backlog up until stopped."""
        try:
            while not self._halt.is_set():
                if self.enqueued - len(PROBE.finishes) < self._backlog:
                    self._system.enqueue_many(stamped, self._batch)
                    self.enqueued += len(self._batch)
                else:
                    self._halt.wait(0.002)
        except BaseException as error:
            self.error = error

    def stop(self) -> None:
        """Stop feeding; re-raise what went wrong in the thread, if anything."""
        self._halt.set()
        self.join()
        if self.error is not None:
            raise self.error


def longest_gap(times: Sequence[float], start: float, end: float) -> float:
    """The longest interval in [start, end] without any of ``times`` (window edges count)."""
    inside = sorted(t for t in times if start <= t <= end)
    edges = [start, *inside, end]
    return max(later - earlier for earlier, later in itertools.pairwise(edges))


def pause(template: Path, settings: Settings) -> dict[str, float]:
    """One run on a fresh copy of the seeded store."""
    with scratch("cleanup-run") as run_dir:
        store = copy_store(template, run_dir / "store")
        with burro_system(store, "process", 4) as system:
            PROBE.reset()
            feeder = Feeder(system)
            feeder.start()
            try:
                baseline_from = time.perf_counter()
                time.sleep(settings.cleanup_baseline)
                began = time.perf_counter()
                removed = system.manager.cleanup_old_tasks(retention_days_completed=_RETENTION_DAYS)
                ended = time.perf_counter()
            finally:
                feeder.stop()
    if removed != settings.cleanup_old:
        raise RuntimeError(f"clean-up removed {removed} jobs, not {settings.cleanup_old}")
    return {
        "during": longest_gap(PROBE.finishes, began, ended) * 1000,
        "before": longest_gap(PROBE.finishes, baseline_from, began) * 1000,
        "rate": removed / (ended - began),
    }


def run(settings: Settings) -> list[Row]:
    """Seed once; each repeat cleans a fresh copy."""
    with scratch("cleanup-seed") as base:
        template = base / "burro"
        _seed.burro_completed(template, settings.cleanup_old, QUEUE, _AGE_DAYS)
        stats = side_by_side(
            f"cleanup_pause {settings.cleanup_old:,} old jobs",
            settings.repeats,
            {"burro": lambda: pause(template, settings)},
        )["burro"]
    case = f"delete {settings.cleanup_old:,} old, process, concurrency 4"
    return [
        Row(
            "7 clean-up pause",
            case,
            "longest completion gap during clean-up",
            "ms",
            stats["during"],
            higher_is_better=False,
            targets=(Target("at_most", 100, "none over 100 ms", worst=True),),
        ),
        Row(
            "7 clean-up pause",
            case,
            "longest completion gap before it",
            "ms",
            stats["before"],
            higher_is_better=False,
        ),
        Row("7 clean-up pause", case, "old jobs deleted/s", "/s", stats["rate"]),
    ]


SCENARIO = Scenario("cleanup_pause", "job completions while cleaning up old jobs", run)
