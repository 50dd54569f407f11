"""Measuring helpers: statistics over repeats, resident memory, scratch space, child runs."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "ROOT",
    "Stats",
    "copy_store",
    "percentile",
    "progress",
    "rate",
    "resident_mb",
    "run_child",
    "scratch",
]

#: The directory holding the ``benchmarks`` package: children run from here.
ROOT = Path(__file__).resolve().parent.parent
_SCRATCH_PREFIX = "burro-bench-"


@dataclass(frozen=True, slots=True)
class Stats:
    """One measurement taken over several repeats."""

    values: tuple[float, ...]

    @classmethod
    def of(cls, values: Sequence[float]) -> Stats:
        """Stats of ``values`` (at least one)."""
        if not values:
            raise ValueError("no values measured")
        return cls(tuple(values))

    @property
    def min(self) -> float:
        """The smallest value."""
        return min(self.values)

    @property
    def median(self) -> float:
        """The median value."""
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        """The largest value."""
        return max(self.values)


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values``, nearest-rank."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(q / 100 * len(ordered)))) - 1
    return ordered[rank]


def rate(count: int, seconds: float) -> float:
    """Items per second, guarding against a zero duration."""
    return count / max(seconds, 1e-9)


def resident_mb(field: str = "VmRSS") -> float:
    """A memory figure of this process from ``/proc/self/status``, in MB."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    raise LookupError(f"{field} not in /proc/self/status")


def progress(message: str) -> None:
    """Report what is running now (stderr, so a table on stdout stays clean)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def scratch(label: str) -> Iterator[Path]:
    """A fresh directory for one run's stores, removed afterwards."""
    base = os.environ.get("BURRO_BENCH_DIR") or None
    path = Path(tempfile.mkdtemp(prefix=f"{_SCRATCH_PREFIX}{label}-", dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def copy_store(template: Path, target: Path) -> Path:
    """Copy a seeded store so that each repeat starts from the same state."""
    shutil.copytree(template, target)
    return target


def run_child(function: str, **kwargs: Any) -> dict[str, Any]:
    """Run ``module:function(**kwargs)`` in a fresh interpreter and return its result.

    The function returns a JSON-able dict. The child's stderr (its progress) passes
    through; its stdout carries the result only.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks._child", function, json.dumps(kwargs)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{function} failed in its subprocess (exit {completed.returncode})")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result
