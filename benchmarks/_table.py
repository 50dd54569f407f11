"""Result rows, the DESIGN.md targets they are checked against, and their rendering."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from rich.console import Console
from rich.table import Table

from benchmarks._measure import Stats

__all__ = ["Row", "Target", "markdown", "render"]

TargetKind = Literal["at_least", "at_most", "times_huey"]


@dataclass(frozen=True, slots=True)
class Target:
    """A DESIGN.md section 5 target, checked against burro's median (or worst) value."""

    kind: TargetKind
    threshold: float
    label: str
    #: Check the worst repeat rather than the median ("none over 100 ms").
    worst: bool = False

    def met(self, row: Row) -> bool | None:
        """Whether ``row`` meets the target (``None`` when it cannot be told)."""
        if row.burro is None:
            return None
        if self.kind == "at_least":
            value = row.burro.min if self.worst else row.burro.median
            return value >= self.threshold
        if self.kind == "at_most":
            value = row.burro.max if self.worst else row.burro.median
            return value <= self.threshold
        ratio = row.ratio
        return None if ratio is None else ratio >= self.threshold


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table: one metric of one case of one scenario."""

    scenario: str
    case: str
    metric: str
    unit: str
    burro: Stats | None
    huey: Stats | None = None
    higher_is_better: bool = True
    targets: tuple[Target, ...] = ()
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """How many times better burro is than Huey (above 1: burro is better)."""
        if self.burro is None or self.huey is None:
            return None
        ours, theirs = self.burro.median, self.huey.median
        if self.higher_is_better:
            return ours / theirs if theirs else None
        return theirs / ours if ours else None


_HEADERS = ("scenario", "case", "metric", "burro min / med / max", "Huey min / med / max")
_TAIL = ("burro vs Huey", "target (DESIGN.md 5)")


def number(value: float) -> str:
    """A value with as many digits as it deserves."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def spread(stats: Stats | None, unit: str) -> str:
    """``min / median / max unit``, or n/a."""
    if stats is None:
        return "n/a"
    return f"{number(stats.min)} / {number(stats.median)} / {number(stats.max)} {unit}"


def ratio_text(row: Row) -> str:
    """burro's advantage as ``N.Nx`` (above 1: better), or n/a."""
    ratio = row.ratio
    return "n/a" if ratio is None else f"{ratio:.2f}x"


def target_text(row: Row, *, plain: bool = False) -> str:
    """Each target with a mark: met, missed, or unknown."""
    marks = {True: "met", False: "MISSED", None: "n/a"} if plain else _RICH_MARKS
    parts = [f"{target.label}: {marks[target.met(row)]}" for target in row.targets]
    if row.note:
        parts.append(row.note)
    return "; ".join(parts)


_RICH_MARKS = {True: "[green]met[/green]", False: "[red]MISSED[/red]", None: "n/a"}


def cells(row: Row, *, plain: bool = False) -> tuple[str, ...]:
    """The text of one row, column by column."""
    return (
        row.scenario,
        row.case,
        row.metric,
        spread(row.burro, row.unit),
        spread(row.huey, row.unit),
        ratio_text(row),
        target_text(row, plain=plain),
    )


def render(rows: Sequence[Row], console: Console, title: str, caption: str = "") -> None:
    """Print the results as a rich table."""
    table = Table(title=title, caption=caption or None)
    for header in (*_HEADERS, *_TAIL):
        table.add_column(header, overflow="fold")
    previous = ""
    for row in rows:
        if previous and row.scenario != previous:
            table.add_section()
        previous = row.scenario
        table.add_row(*cells(row))
    console.print(table)


def markdown(rows: Sequence[Row]) -> str:
    """The results as a GitHub-flavoured Markdown table."""
    headers = (*_HEADERS, *_TAIL)
    lines = [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
    ]
    lines.extend("| " + " | ".join(cells(row, plain=True)) + " |" for row in rows)
    return "\n".join(lines) + "\n"
