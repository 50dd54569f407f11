"""How tasks, statistics and recurring tasks look: JSON documents and rich tables.

The JSON documents are the stable, script-facing shape; the tables are for people.
Both the ``burro`` command and the demo draw with these.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from burro.facade.results import Pagination, RecurringTask, TaskStatus
from burro.states import TaskState

__all__ = [
    "STAT_COLUMNS",
    "dead_letter_table",
    "first_line",
    "page_document",
    "recurring_document",
    "recurring_table",
    "statistics_table",
    "task_detail",
    "task_document",
    "tasks_table",
]

#: The per-queue columns of the statistics table, in lifecycle order.
STAT_COLUMNS = (*(state.value for state in TaskState), "failed_today")

_STATE_STYLES = {
    TaskState.SCHEDULED: "cyan",
    TaskState.PENDING: "blue",
    TaskState.RUNNING: "yellow",
    TaskState.RETRYABLE: "magenta",
    TaskState.COMPLETED: "green",
    TaskState.DISCARDED: "red",
    TaskState.CANCELLED: "dim",
}


def first_line(text: str | None) -> str:
    """The first non-empty line of an error (or ``""``)."""
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()
    return ""


def when(moment: datetime | None) -> str:
    """A UTC time for a table cell, to the second."""
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment is not None else "-"


def task_document(task: TaskStatus) -> dict[str, Any]:
    """A task as JSON-ready data; keys are stable, times stay datetimes until encoded."""
    return {
        "id": task.id,
        "status": task.status.value,
        "queue": task.queue,
        "worker": task.worker,
        "function": task.function,
        "args": list(task.args),
        "priority": task.priority,
        "attempts": task.attempts,
        "max_attempts": task.max_attempts,
        "last_error": task.last_error,
        "errors": [dict(entry) for entry in task.errors],
        "result": task.result,
        "meta": dict(task.meta),
        "inserted_at": task.inserted_at,
        "scheduled_at": task.scheduled_at,
        "attempted_at": task.attempted_at,
        "completed_at": task.completed_at,
        "cancel_reason": task.cancel_reason,
    }


def page_document(tasks: Sequence[TaskStatus], pagination: Pagination) -> dict[str, Any]:
    """A page of tasks and where it sits in the whole result."""
    return {
        "tasks": [task_document(task) for task in tasks],
        "pagination": {
            "total_entries": pagination.total_entries,
            "total_pages": pagination.total_pages,
            "page_number": pagination.page_number,
            "page_size": pagination.page_size,
        },
    }


def recurring_document(task: RecurringTask) -> dict[str, Any]:
    """A recurring task definition as JSON-ready data."""
    return {
        "name": task.name,
        "cron_expression": task.cron_expression,
        "timezone": task.timezone,
        "worker": task.worker,
        "function": task.function,
        "args": list(task.args),
        "next_fire_at": task.next_fire_at,
    }


def _state(state: TaskState) -> Text:
    return Text(state.value, style=_STATE_STYLES.get(state, ""))


def tasks_table(tasks: Iterable[TaskStatus], title: str | None = None) -> Table:
    """One row per task: id, state, queue, worker, attempts, times, last error."""
    table = Table(title=title, title_justify="left")
    table.add_column("id", no_wrap=True)
    for name in ("status", "queue", "worker", "attempts", "inserted"):
        table.add_column(name)
    table.add_column("last error", overflow="fold")
    for task in tasks:
        table.add_row(
            task.id,
            _state(task.status),
            Text(task.queue),
            Text(f"{task.worker}.{task.function}"),
            f"{task.attempts}/{task.max_attempts}",
            when(task.inserted_at),
            Text(first_line(task.last_error)),
        )
    return table


def dead_letter_table(tasks: Iterable[TaskStatus], title: str | None = "Dead letters") -> Table:
    """The discarded tasks: id, worker, attempts and the first line of the last error."""
    table = Table(title=title, title_justify="left")
    table.add_column("id", no_wrap=True)
    for name in ("queue", "worker", "attempts", "discarded at"):
        table.add_column(name)
    table.add_column("last error", overflow="fold", style="red")
    for task in tasks:
        table.add_row(
            task.id,
            Text(task.queue),
            Text(f"{task.worker}.{task.function}"),
            str(task.attempts),
            when(task.completed_at),
            Text(first_line(task.last_error)),
        )
    return table


def statistics_table(statistics: Mapping[str, Any], title: str | None = "Queues") -> Table:
    """Per-queue counts by state, as ``get_statistics()`` returns them, with a total row."""
    table = Table(title=title, title_justify="left", show_footer=True)
    queues: Mapping[str, Mapping[str, int]] = statistics.get("queues", {})
    table.add_column("queue", footer="total")
    for column in STAT_COLUMNS:
        total = sum(counts.get(column, 0) for counts in queues.values())
        table.add_column(column.replace("_", " "), justify="right", footer=str(total))
    for name, counts in queues.items():
        table.add_row(Text(name), *(str(counts.get(column, 0)) for column in STAT_COLUMNS))
    return table


def task_detail(task: TaskStatus) -> RenderableType:
    """Every field of one task, then its error history."""
    fields = Table.grid(padding=(0, 2))
    fields.add_column(style="bold")
    fields.add_column(overflow="fold")
    document = task_document(task)
    for key in ("id", "status", "queue", "worker", "function", "args", "priority"):
        fields.add_row(key, _cell(document[key]))
    fields.add_row("attempts", f"{task.attempts}/{task.max_attempts}")
    for key in ("result", "meta", "inserted_at", "scheduled_at", "attempted_at", "completed_at"):
        fields.add_row(key, _cell(document[key]))
    if task.cancel_reason is not None:
        fields.add_row("cancel_reason", _cell(task.cancel_reason))
    if not task.errors:
        return fields
    errors = Table(title="Errors", title_justify="left")
    errors.add_column("attempt", justify="right")
    errors.add_column("at")
    errors.add_column("error", overflow="fold")
    for entry in task.errors:
        errors.add_row(
            str(entry.get("attempt")), when(entry.get("at")), Text(first_line(entry["error"]))
        )
    return Group(fields, Text(""), errors)


def _cell(value: Any) -> Text:
    """A field's value as plain text: rich would read ``[...]`` in stored data as markup."""
    if isinstance(value, datetime):
        return Text(value.isoformat())
    if value is None:
        return Text("-")
    return Text(repr(value) if not isinstance(value, str) else value)


def recurring_table(tasks: Iterable[RecurringTask]) -> Table:
    """One row per recurring task: name, schedule, worker and next fire time."""
    table = Table(title="Recurring tasks", title_justify="left")
    for name in ("name", "cron", "timezone", "worker", "args", "next fire"):
        table.add_column(name, no_wrap=name == "name")
    for task in tasks:
        table.add_row(
            Text(task.name),
            Text(task.cron_expression),
            Text(task.timezone),
            Text(f"{task.worker}.{task.function}"),
            Text(repr(list(task.args))),
            when(task.next_fire_at),
        )
    return table
