"""What the demo shows: live per-queue progress, event lines, and the final report."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from burro._cli_render import first_line, statistics_table
from burro.states import ACTIVE_STATES

__all__ = ["EventPrinter", "StoryLine", "active_jobs", "progress_view", "story_table"]


def active_jobs(statistics: Mapping[str, Any]) -> int:
    """Jobs that may still run: scheduled, pending, running or retryable."""
    return sum(
        counts.get(state.value, 0)
        for counts in statistics["queues"].values()
        for state in ACTIVE_STATES
    )


def progress_view(statistics: Mapping[str, Any], elapsed: float) -> RenderableType:
    """The live table: per-queue counts and how long the demo has been running."""
    active = active_jobs(statistics)
    status = Text(f"{elapsed:4.1f}s · {active} job(s) still to settle", style="bold")
    return Group(statistics_table(statistics, title="burro demo: queues (live)"), status)


class EventPrinter:
    """A lifecycle-event subscriber that prints one line per event (``--verbose``)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._started = time.monotonic()

    def __call__(self, event: str, payload: Mapping[str, Any]) -> None:
        """Print ``+elapsed event queue task worker attempt error``."""
        elapsed = time.monotonic() - self._started
        parts = [
            f"+{elapsed:6.3f}s",
            f"{event:<14}",
            f"{payload.get('queue', '-'):<7}",
            str(payload.get("task_id", payload.get("actor", "-"))),
            str(payload.get("worker", "")),
        ]
        if payload.get("attempt"):
            parts.append(f"attempt {payload['attempt']}")
        if payload.get("error"):
            parts.append(first_line(str(payload["error"])))
        self._console.print(" ".join(parts), markup=False, highlight=False, soft_wrap=True)


@dataclass(frozen=True, slots=True)
class StoryLine:
    """One use case of the demo and how it ended."""

    use_case: str
    expected: str
    outcome: str
    ok: bool


def story_table(lines: list[StoryLine]) -> Table:
    """What each use case was meant to show, and whether it did."""
    table = Table(title="What happened", title_justify="left")
    table.add_column("")
    table.add_column("use case", no_wrap=True)
    table.add_column("expected")
    table.add_column("outcome", overflow="fold")
    for line in lines:
        mark = Text("✓", style="green") if line.ok else Text("✗", style="bold red")
        table.add_row(mark, line.use_case, line.expected, line.outcome)
    return table
