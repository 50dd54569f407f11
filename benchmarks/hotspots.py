"""Summarise a py-spy ``raw`` profile: where the samples went, by function and by thread.

Record scenario 1 (process, concurrency 4) and summarise it::

    py-spy record --threads -r 250 -f raw -o e2e.txt -- \\
        python -m benchmarks.end_to_end --durability process --concurrency 4 --jobs 20000
    python -m benchmarks.hotspots e2e.txt --top 25

Only samples of running (non-idle) threads are recorded unless py-spy gets ``--idle``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table

__all__ = ["Profile", "function_of", "read_profile", "stacks", "thread_kind"]

_LINE_NUMBER = re.compile(r":\d+\)$")
_THREAD = re.compile(r"^thread \([^)]*\): ?(.*)$")
_DIGITS = re.compile(r"\d+")


def function_of(frame: str) -> str:
    """``func (file.py:12)`` -> ``func (file.py)``: one entry per function."""
    return _LINE_NUMBER.sub(")", frame)


def thread_kind(frame: str) -> str:
    """A thread frame's name with its numbers and actor URNs dropped."""
    match = _THREAD.match(frame)
    name = match.group(1) if match else frame
    return _DIGITS.sub("N", name.split(" (urn:")[0]) or "?"


@dataclass
class Profile:
    """Sample counts per function (own and total) and per kind of thread."""

    samples: int = 0
    own: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    threads: Counter[str] = field(default_factory=Counter)

    def add(self, frames: list[str], count: int) -> None:
        """Count one stack (its first frame names the thread when py-spy had --threads)."""
        self.samples += count
        if frames and frames[0].startswith("thread ("):
            self.threads[thread_kind(frames[0])] += count
            frames = frames[1:]
        functions = [function_of(frame) for frame in frames]
        if functions:
            self.own[functions[-1]] += count
        for function in set(functions):
            self.total[function] += count


def stacks(lines: Iterable[str]) -> Iterator[tuple[list[str], int]]:
    """``(frames, count)`` for each line of a raw (collapsed) profile."""
    for line in lines:
        stack, _, count = line.rstrip("\n").rpartition(" ")
        if stack and count.isdigit():
            yield stack.split(";"), int(count)


def read_profile(path: Path) -> Profile:
    """Tally a py-spy raw profile file."""
    profile = Profile()
    with path.open(encoding="utf-8") as lines:
        for frames, count in stacks(lines):
            profile.add(frames, count)
    return profile


def _table(title: str, counts: Counter[str], samples: int, top: int) -> Table:
    table = Table(title=title)
    table.add_column("share", justify="right")
    table.add_column("samples", justify="right")
    table.add_column("where", overflow="fold")
    for name, count in counts.most_common(top):
        table.add_row(f"{100 * count / max(samples, 1):.1f} %", f"{count:,}", name)
    return table


def main() -> None:
    """Print the top functions (own time, total time) and the busiest threads."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hotspots")
    parser.add_argument("profile", type=Path, help="a py-spy record -f raw output file")
    parser.add_argument("--top", type=int, default=25)
    options = parser.parse_args()
    profile = read_profile(options.profile)
    console = Console(width=160)
    console.print(f"{profile.samples:,} samples")
    console.print(_table("by thread", profile.threads, profile.samples, options.top))
    console.print(_table("own time", profile.own, profile.samples, options.top))
    console.print(_table("total time", profile.total, profile.samples, options.top))


if __name__ == "__main__":
    main()
