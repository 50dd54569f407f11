"""Inspection commands: ``status``, ``list``, ``stats``, ``dlq`` and ``cron list``.

They read the store through :func:`burro.connect`, which runs no queue, so they are safe
to use on the data directory of a live runtime.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from collections.abc import Callable

import click
from rich.live import Live
from rich.table import Table

from burro._cli_render import (
    dead_letter_table,
    page_document,
    recurring_document,
    recurring_table,
    statistics_table,
    task_detail,
    task_document,
    tasks_table,
)
from burro._cli_support import (
    CliError,
    StoreOptions,
    emit_json,
    open_store,
    stdout_console,
    store_options,
    to_json,
)
from burro.facade.manager import BackgroundTaskManager
from burro.facade.results import Pagination, TaskStatus
from burro.states import TaskState

__all__ = ["cron_list", "dlq", "list_tasks", "stats", "status"]

_STATE_NAMES = [state.value for state in TaskState]
_SORT_FIELDS = ("inserted_at", "scheduled_at", "priority", "attempted_at", "completed_at")
_PAGE_OPTION = click.option("--page", type=click.IntRange(min=1), default=1, show_default=True)
_PER_PAGE_OPTION = click.option(
    "--per-page", type=click.IntRange(1, 1000), default=50, show_default=True
)


@click.command()
@click.argument("task_id")
@store_options
def status(task_id: str, *, store: StoreOptions) -> None:
    """Show one task: its state, attempts, times and error history."""
    with open_store(store) as manager:
        task = manager.get_task_status(task_id)
    if store.json:
        emit_json(task_document(task))
    else:
        stdout_console().print(task_detail(task))


def parse_states(values: tuple[str, ...]) -> list[str] | None:
    """``--status`` values (repeated or comma-separated) checked against the state names."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in _STATE_NAMES]
    if unknown:
        raise CliError(f"unknown status {unknown[0]!r}; expected one of: {', '.join(_STATE_NAMES)}")
    return names or None


@click.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    metavar="STATE[,STATE]",
    help=f"Only tasks in these states ({', '.join(_STATE_NAMES)}); repeatable.",
)
@click.option("--queue", default=None, help="Only tasks of this queue.")
@click.option("--worker", default=None, help="Only tasks of this worker ('pkg.mod[:Class]').")
@_PAGE_OPTION
@_PER_PAGE_OPTION
@click.option(
    "--sort-by", type=click.Choice(_SORT_FIELDS), default="inserted_at", show_default=True
)
@click.option("--desc", "descending", is_flag=True, help="Newest (largest) first.")
@store_options
def list_tasks(
    statuses: tuple[str, ...],
    queue: str | None,
    worker: str | None,
    page: int,
    per_page: int,
    sort_by: str,
    descending: bool,
    *,
    store: StoreOptions,
) -> None:
    """List tasks by state, queue and worker, a page at a time."""
    states = parse_states(statuses)
    with open_store(store) as manager:
        tasks, pagination = manager.list_tasks(
            status=states,
            queue=queue,
            worker=worker,
            page=page,
            per_page=per_page,
            sort_by=sort_by,
            descending=descending,
        )
    _print_page(tasks, pagination, store, tasks_table, "no task matches")


def _print_page(
    tasks: list[TaskStatus],
    pagination: Pagination,
    store: StoreOptions,
    table: Callable[[list[TaskStatus]], Table],
    empty: str,
) -> None:
    if store.json:
        emit_json(page_document(tasks, pagination))
        return
    console = stdout_console()
    if not pagination.total_entries:
        console.print(empty)
        return
    console.print(table(tasks))
    console.print(
        f"page {pagination.page_number}/{max(pagination.total_pages, 1)}"
        f" · {pagination.total_entries} task(s)"
    )


@click.command()
@click.option("--queue", default=None, help="Only dead letters of this queue.")
@_PAGE_OPTION
@_PER_PAGE_OPTION
@store_options
def dlq(queue: str | None, page: int, per_page: int, *, store: StoreOptions) -> None:
    """List the dead-letter queue with the last errors."""
    with open_store(store) as manager:
        tasks, pagination = manager.list_tasks(
            status=TaskState.DISCARDED,
            queue=queue,
            page=page,
            per_page=per_page,
            sort_by="completed_at",
            descending=True,
        )
    _print_page(tasks, pagination, store, dead_letter_table, "the dead-letter queue is empty")


@click.command()
@click.option("--watch", is_flag=True, help="Refresh until Ctrl-C.")
@click.option(
    "--interval",
    type=click.FloatRange(min=0.1),
    default=1.0,
    show_default=True,
    help="Seconds between refreshes with --watch.",
)
@click.option(
    "--count",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch, stop after this many refreshes.",
)
@store_options
def stats(watch: bool, interval: float, count: int | None, *, store: StoreOptions) -> None:
    """Show the number of tasks per queue and state."""
    if count is not None and not watch:
        raise CliError("--count goes with --watch")
    with open_store(store) as manager:
        if watch:
            _watch_statistics(manager, store, interval, count)
            return
        statistics = manager.get_statistics()
    if store.json:
        emit_json(statistics)
    else:
        stdout_console().print(statistics_table(statistics))


def _watch_statistics(
    manager: BackgroundTaskManager, store: StoreOptions, interval: float, count: int | None
) -> None:
    """Redraw the table (or print a JSON line) every ``interval`` until Ctrl-C or ``count``."""
    pause = threading.Event()
    refreshes = itertools.count(1)
    try:
        with contextlib.ExitStack() as stack:
            live = None
            if not store.json:
                live = stack.enter_context(Live(console=stdout_console(), auto_refresh=False))
            for refresh in refreshes:
                statistics = manager.get_statistics()
                if live is None:
                    click.echo(to_json(statistics, compact=True))
                else:
                    live.update(statistics_table(statistics), refresh=True)
                if count is not None and refresh >= count:
                    return
                pause.wait(interval)
    except KeyboardInterrupt:
        return


@click.command("list")
@store_options
def cron_list(*, store: StoreOptions) -> None:
    """List the recurring tasks and when each fires next."""
    with open_store(store) as manager:
        recurring = manager.list_recurring_tasks()
    if store.json:
        emit_json({"recurring_tasks": [recurring_document(task) for task in recurring]})
    elif not recurring:
        click.echo("no recurring tasks")
    else:
        stdout_console().print(recurring_table(recurring))
