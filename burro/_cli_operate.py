"""Operation commands: ``enqueue``, ``cancel``, ``retry``, ``cleanup`` and ``cron cancel``.

They act through :func:`burro.connect` (no queue runs here); a runtime sharing the data
directory picks up new or replayed work within its ``poll_interval_seconds``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import click

from burro._cli_render import task_document
from burro._cli_support import (
    CliError,
    StoreOptions,
    add_working_directory,
    emit_json,
    open_store,
    store_options,
)
from burro.actors.cleanup import retention_cut
from burro.facade._validate import retention_days
from burro.facade.manager import BackgroundTaskManager
from burro.facade.results import TaskStatus
from burro.states import TaskState

__all__ = ["cancel", "cleanup", "cron_cancel", "enqueue", "retry"]

_REPLAYABLE = frozenset({TaskState.DISCARDED, TaskState.CANCELLED})
_PAGE = 1_000


def parse_args_json(text: str) -> list[Any]:
    """The ARGS argument: a JSON array."""
    try:
        args = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CliError(
            f"ARGS is not valid JSON ({exc}); expected an array like '[42, \"a\"]'"
        ) from None
    if not isinstance(args, list):
        raise CliError(f"ARGS must be a JSON array like '[42, \"a\"]', not {text!r}")
    return args


@click.command()
@click.argument("worker")
@click.argument("function")
@click.argument("args", required=False, default="[]")
@click.option("--queue", default=None, help="The queue (default: the worker's, or the default).")
@click.option("--priority", type=int, default=None, help="0 runs first.")
@click.option("--max-attempts", type=int, default=None, help="Attempts before the DLQ.")
@click.option(
    "--scheduled-in", type=float, default=None, metavar="SECONDS", help="Run this much later."
)
@store_options
def enqueue(
    worker: str,
    function: str,
    args: str,
    queue: str | None,
    priority: int | None,
    max_attempts: int | None,
    scheduled_in: float | None,
    *,
    store: StoreOptions,
) -> None:
    """Enqueue WORKER's FUNCTION with ARGS (a JSON array).

    WORKER is an import path, 'pkg.mod' or 'pkg.mod:Class', resolved from the current
    directory; only functions and classes marked with @burro.worker are accepted.
    """
    arguments = parse_args_json(args)
    add_working_directory()
    options = {"queue": queue, "priority": priority, "max_attempts": max_attempts}
    given: dict[str, Any] = {k: v for k, v in options.items() if v is not None}
    with open_store(store, may_create=True) as manager:
        if scheduled_in is None:
            task_id = manager.enqueue_task(worker, function, arguments, **given)
        else:
            task_id = manager.schedule_task(worker, function, arguments, scheduled_in, **given)
        task = manager.get_task_status(task_id)
    if store.json:
        emit_json(task_document(task))
    else:
        click.echo(f"enqueued {task.id} on {task.queue} ({task.status.value})")


@click.command()
@click.argument("task_id")
@click.option("--reason", default=None, help="Why; kept in the task's history.")
@store_options
def cancel(task_id: str, reason: str | None, *, store: StoreOptions) -> None:
    """Cancel a task; a running one is asked to stop.

    A task that has not started never runs. A running one sees the request through
    ``burro.current_task().cancelled`` and ends ``cancelled`` once it stops.
    """
    with open_store(store) as manager:
        before = manager.get_task_status(task_id).status  # for the message only
        # What this call changed, decided in its transaction: of racing cancels, one reports.
        left_in = manager._cancel_task(task_id, reason)
        task = manager.get_task_status(task_id)
    if store.json:
        emit_json({"id": task.id, "status": task.status.value})
    elif left_in is None and task.status is TaskState.RUNNING:
        click.echo(f"cancel already requested for {task.id}: it stops at its next check")
    elif left_in is None:
        click.echo(f"task {task.id} is already {task.status.value}: nothing to cancel")
    elif left_in is TaskState.RUNNING:
        click.echo(f"cancel requested for {task.id}: it stops at its next cancellation check")
    else:
        click.echo(f"cancelled {task.id} (it was {before.value})")


@click.command()
@click.argument("task_id", required=False)
@click.option("--all-discarded", is_flag=True, help="Replay the whole dead-letter queue.")
@click.option("--queue", default=None, help="With --all-discarded: only this queue.")
@store_options
def retry(
    task_id: str | None, all_discarded: bool, queue: str | None, *, store: StoreOptions
) -> None:
    """Replay a discarded or cancelled task, or the whole DLQ.

    The tasks go back to ``pending`` with fresh attempts; a runtime sharing the data
    directory runs them again.
    """
    if (task_id is None) == (not all_discarded):
        raise CliError("give either TASK_ID or --all-discarded (not both)")
    if queue is not None and not all_discarded:
        raise CliError("--queue goes with --all-discarded")
    with open_store(store) as manager:
        if task_id is not None:
            retried = [_retry_one(manager, task_id)]
        else:
            retried = _retry_discarded(manager, queue)
    if store.json:
        emit_json({"retried": retried, "count": len(retried)})
    else:
        click.echo(f"retried {len(retried)} task(s)" + "".join(f"\n  {i}" for i in retried))


def _retry_one(manager: BackgroundTaskManager, task_id: str) -> str:
    state = manager.get_task_status(task_id).status
    if state not in _REPLAYABLE:
        raise CliError(f"task {task_id} is {state.value}: only discarded or cancelled tasks retry")
    manager.retry_task(task_id)
    return task_id


def _retry_discarded(manager: BackgroundTaskManager, queue: str | None) -> list[str]:
    # Collect first: replayed tasks may fail again and come back while we page.
    ids = [
        task.id
        for task in _all_tasks(manager, frozenset({TaskState.DISCARDED}), queue, "inserted_at")
    ]
    for task_id in ids:
        manager.retry_task(task_id)
    return ids


def _all_tasks(
    manager: BackgroundTaskManager, states: frozenset[TaskState], queue: str | None, sort_by: str
) -> Iterator[TaskStatus]:
    page = 1
    while True:
        tasks, pagination = manager.list_tasks(
            status=list(states), queue=queue, page=page, per_page=_PAGE, sort_by=sort_by
        )
        yield from tasks
        if page >= pagination.total_pages:
            return
        page += 1


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option(
    "--retention-days-completed", type=float, default=None, help="Default: from the config."
)
@click.option("--retention-days-failed", type=float, default=None, help="Default: from the config.")
@store_options
def cleanup(
    dry_run: bool,
    retention_days_completed: float | None,
    retention_days_failed: float | None,
    *,
    store: StoreOptions,
) -> None:
    """Delete finished tasks older than their retention.

    Completed tasks older than ``retention_days_completed`` and discarded or cancelled
    ones older than ``retention_days_failed`` (from the config, unless given here).
    """
    with open_store(store) as manager:
        retention = manager.config.cleanup
        # An InvalidTaskError is bad input: the command group prints it on one line, exit 2.
        completed_days = retention_days(
            "--retention-days-completed",
            retention_days_completed,
            retention.retention_days_completed,
        )
        failed_days = retention_days(
            "--retention-days-failed", retention_days_failed, retention.retention_days_failed
        )
        now = datetime.now(UTC)
        completed_before = retention_cut(now, completed_days)
        failed_before = retention_cut(now, failed_days)
        if dry_run:
            count = _count_finished_before(
                manager, frozenset({TaskState.COMPLETED}), completed_before
            ) + _count_finished_before(manager, _REPLAYABLE, failed_before)
        else:
            count = manager.cleanup_old_tasks(
                retention_days_completed=completed_days, retention_days_failed=failed_days
            )
    if store.json:
        emit_json(
            {
                "dry_run": dry_run,
                "tasks": count,
                "completed_before": completed_before,
                "failed_before": failed_before,
            }
        )
    else:
        verb = "would delete" if dry_run else "deleted"
        click.echo(
            f"{verb} {count} task(s): completed before {_moment(completed_before)}, "
            f"discarded/cancelled before {_moment(failed_before)}"
        )


def _moment(cut: datetime | None) -> str:
    return "the first year (none)" if cut is None else f"{cut:%Y-%m-%d %H:%M}Z"


def _count_finished_before(
    manager: BackgroundTaskManager, states: frozenset[TaskState], before: datetime | None
) -> int:
    """How many tasks in ``states`` finished before ``before`` (what cleanup would delete)."""
    count = 0
    if before is None:
        return count
    for task in _all_tasks(manager, states, None, "completed_at"):
        if task.completed_at is None:
            continue
        if task.completed_at >= before:
            break  # sorted by completion time: the rest are younger
        count += 1
    return count


@click.command("cancel")
@click.argument("name")
@store_options
def cron_cancel(name: str, *, store: StoreOptions) -> None:
    """Remove the recurring task NAME; jobs it already enqueued are left alone."""
    with open_store(store) as manager:
        manager.cancel_recurring_task(name)
    if store.json:
        emit_json({"name": name, "cancelled": True})
    else:
        click.echo(f"removed recurring task {name}")
