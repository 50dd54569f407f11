"""Runs the demo: start burro on a fresh LMDB store, enqueue the story, watch it settle."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live

from burro._cli_render import dead_letter_table, first_line, statistics_table
from burro.demo.live import EventPrinter, StoryLine, active_jobs, progress_view, story_table
from burro.demo.scenario import (
    CUSTOMERS,
    DEMO_QUEUES,
    REMINDER_DELAY_SECONDS,
    TIDY_OUTBOX,
    TIDY_OUTBOX_CRON,
    DemoJobs,
    DemoPaths,
    enqueue_scenario,
)
from burro.facade.manager import BackgroundTaskManager, start
from burro.facade.results import TaskStatus
from burro.states import TaskState

if TYPE_CHECKING:
    from opentelemetry.trace import TracerProvider

__all__ = ["DemoReport", "run_demo"]

#: The demo gives up waiting after this long (it normally settles in a few seconds).
SETTLE_TIMEOUT_SECONDS = 25.0
_REFRESH_SECONDS = 0.1
#: How many times the recurring clean-up runs before the demo cancels it.
TIDY_RUNS_SHOWN = 2


@dataclass(frozen=True, slots=True)
class DemoReport:
    """How the demo went: where its files are and whether every use case did its part."""

    paths: DemoPaths
    story: list[StoryLine]
    settled: bool

    @property
    def ok(self) -> bool:
        """Every job settled and every use case ended as expected."""
        return self.settled and all(line.ok for line in self.story)


def run_demo(
    console: Console, data_dir: Path | None = None, verbose: bool = False, trace: bool = False
) -> DemoReport:
    """Run the whole demo, drawing on ``console``; returns its report.

    ``trace`` prints the spans of the run once it is over (needs opentelemetry-sdk).
    """
    spans = _printed_spans(console) if trace else nullcontext(None)
    paths = DemoPaths.prepare(data_dir)
    console.print(f"burro demo: data directory [bold]{paths.data_dir}[/bold]")
    with (
        _quiet_burro_logs(),
        spans as tracer_provider,
        _demo_runtime(paths, tracer_provider) as manager,
    ):
        changed = threading.Event()
        manager.events.subscribe("*", lambda _event, _payload: changed.set())
        if verbose:
            manager.events.subscribe("*", EventPrinter(console))
        with Live(console=console, auto_refresh=False, transient=True) as live:
            view = LiveProgress(manager, live, changed)
            jobs = enqueue_scenario(manager, paths)
            # Let the clean-up fire a couple of times, then stop it, then let the rest end.
            fired = view.wait_until(lambda stats: _tidy_runs(stats) >= TIDY_RUNS_SHOWN)
            manager.cancel_recurring_task(TIDY_OUTBOX)
            settled = fired and view.wait_until(lambda stats: not active_jobs(stats))
        story = _story(manager, jobs, paths)
        _print_report(manager, console, story)
    console.print(
        f"\nEmails: [bold]{paths.outbox}[/bold]\n"
        f"Explore: burro list --data-dir {paths.data_dir}   "
        f"burro dlq --data-dir {paths.data_dir}"
    )
    return DemoReport(paths, story, settled)


def _printed_spans(console: Console) -> AbstractContextManager[TracerProvider | None]:
    from burro.observability.console import printed_spans  # needs opentelemetry-sdk

    return printed_spans(console.file)


@contextmanager
def _demo_runtime(
    paths: DemoPaths, tracer_provider: TracerProvider | None = None
) -> Iterator[BackgroundTaskManager]:
    manager = start(
        # The demo is about the embedded store, whatever BURRO_BACKEND/BURRO_ENABLED say.
        backend="lmdb",
        enabled=True,
        data_dir=paths.data_dir,
        queues=DEMO_QUEUES,
        default_queue_name="emails",
        tracer_provider=tracer_provider,
    )
    try:
        yield manager
    finally:
        manager.stop(timeout=5)


@contextmanager
def _quiet_burro_logs() -> Iterator[None]:
    """Keep retry warnings off the live view: the table and --verbose show them."""
    logger = logging.getLogger("burro")
    quiet = logging.NullHandler()
    propagate = logger.propagate
    logger.addHandler(quiet)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(quiet)
        logger.propagate = propagate


class LiveProgress:
    """The live per-queue table, redrawn on lifecycle events and every ``_REFRESH_SECONDS``."""

    def __init__(
        self, manager: BackgroundTaskManager, live: Live, changed: threading.Event
    ) -> None:
        self._manager = manager
        self._live = live
        self._changed = changed
        self._started = time.monotonic()

    def wait_until(self, done: Callable[[Mapping[str, Any]], bool]) -> bool:
        """Redraw until ``done(statistics)``; False if the demo's time runs out first."""
        while True:
            statistics = self._manager.get_statistics()
            elapsed = time.monotonic() - self._started
            self._live.update(progress_view(statistics, elapsed), refresh=True)
            if done(statistics):
                return True
            if elapsed > SETTLE_TIMEOUT_SECONDS:
                return False
            self._changed.wait(_REFRESH_SECONDS)
            self._changed.clear()


def _tidy_runs(statistics: Mapping[str, Any]) -> int:
    counts: Mapping[str, int] = statistics["queues"].get("maintenance", {})
    return counts.get("completed", 0)


def _print_report(manager: BackgroundTaskManager, console: Console, story: list[StoryLine]) -> None:
    console.print(statistics_table(manager.get_statistics()))
    dead, _ = manager.list_tasks(status=TaskState.DISCARDED, sort_by="completed_at")
    console.print(dead_letter_table(dead, title="Dead letters (burro dlq)"))
    console.print(story_table(story))


def _story(manager: BackgroundTaskManager, jobs: DemoJobs, paths: DemoPaths) -> list[StoryLine]:
    status = manager.get_task_status
    return [
        _welcome_line([status(i) for i in jobs.welcome_emails], paths),
        _video_line([status(i) for i in jobs.videos]),
        _flaky_line(status(jobs.crm_syncs[0])),
        _hopeless_line(status(jobs.invoice)),
        _scheduled_line(status(jobs.reminder)),
        _cancelled_line(status(jobs.cancelled_reminder)),
        _recurring_line(manager),
    ]


def _count(tasks: list[TaskStatus], state: TaskState) -> int:
    return sum(1 for task in tasks if task.status is state)


def _welcome_line(tasks: list[TaskStatus], paths: DemoPaths) -> StoryLine:
    done = _count(tasks, TaskState.COMPLETED)
    files = sum(1 for task in tasks if task.result and Path(str(task.result)).is_file())
    return StoryLine(
        "welcome emails",
        f"{len(CUSTOMERS)} .eml files in the outbox",
        f"{done}/{len(tasks)} completed, {files} .eml file(s) in {paths.outbox.name}/",
        done == len(tasks) == files,
    )


def _video_line(tasks: list[TaskStatus]) -> StoryLine:
    done = _count(tasks, TaskState.COMPLETED)
    frames = sum(_result_field(task.result, "frames") for task in tasks)
    renditions = max((_result_field(task.result, "renditions") for task in tasks), default=0)
    return StoryLine(
        "video processing",
        "each upload encoded (CPU-bound)",
        f"{done}/{len(tasks)} completed, {frames} frames x {renditions} renditions",
        done == len(tasks),
    )


def _result_field(result: Any, key: str) -> int:
    """A number from a video manifest (the length of a collection), 0 if absent."""
    value = result.get(key, 0) if isinstance(result, Mapping) else 0
    return len(value) if isinstance(value, Mapping | list) else int(value)


def _flaky_line(task: TaskStatus) -> StoryLine:
    errors = ", ".join(
        f"#{e['attempt']} {first_line(e['error']).split(':')[0]}" for e in task.errors
    )
    return StoryLine(
        "flaky CRM sync",
        "fails twice, then succeeds",
        f"{task.status.value} after {task.attempts} attempts ({errors})",
        task.status is TaskState.COMPLETED and task.attempts == 3,
    )


def _hopeless_line(task: TaskStatus) -> StoryLine:
    return StoryLine(
        "invoice export",
        "hopeless: ends in the dead-letter queue",
        f"{task.status.value} after {task.attempts}/{task.max_attempts} attempts",
        task.status is TaskState.DISCARDED,
    )


def _scheduled_line(task: TaskStatus) -> StoryLine:
    late = "-"
    if task.completed_at is not None and task.attempted_at is not None:
        late = f"{(task.attempted_at - task.inserted_at).total_seconds():.1f}s after enqueue"
    return StoryLine(
        "scheduled reminder",
        f"runs {REMINDER_DELAY_SECONDS:g}s after enqueue",
        f"{task.status.value}, started {late}",
        task.status is TaskState.COMPLETED,
    )


def _cancelled_line(task: TaskStatus) -> StoryLine:
    return StoryLine(
        "cancelled reminder",
        "cancelled before it runs",
        f"{task.status.value}, {task.attempts} attempts",
        task.status is TaskState.CANCELLED and task.attempts == 0,
    )


def _recurring_line(manager: BackgroundTaskManager) -> StoryLine:
    runs, _ = manager.list_tasks(queue="maintenance", status=TaskState.COMPLETED)
    ours = [task for task in runs if task.meta.get("recurring") == TIDY_OUTBOX]
    removed = sum(task.result for task in ours if isinstance(task.result, int))
    still_listed = any(task.name == TIDY_OUTBOX for task in manager.list_recurring_tasks())
    return StoryLine(
        "recurring clean-up",
        f"'{TIDY_OUTBOX_CRON}' (every second), then cancelled",
        f"ran {len(ours)} times, removed {removed} stale file(s), "
        + ("still scheduled" if still_listed else "cancelled"),
        len(ours) >= TIDY_RUNS_SHOWN and removed == 1 and not still_listed,
    )
