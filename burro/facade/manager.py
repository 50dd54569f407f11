"""BackgroundTaskManager: the facade an application talks to.

It validates and encodes every call, then delegates to storage (the source of truth) and
to the actor tree (which runs the work). It mirrors ``Deeper_Hub.Core.BackgroundTaskManager``.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, TypeVar

import pykka

from burro.actors._context import RuntimeContext
from burro.actors._hub import QueueHub
from burro.actors.cleanup import sweep_finished
from burro.clock import Clock, SystemClock
from burro.config import Config, load_config
from burro.config._model import MAX_CONCURRENCY
from burro.errors import (
    ConfigError,
    InvalidTaskError,
    RuntimeNotRunning,
    StorageError,
    TaskNotFound,
)
from burro.facade._validate import (
    JobRequest,
    JobTemplates,
    build_job,
    check_text,
    recurring_record,
    reject_unknown_options,
    retention_days,
    scheduled_time,
    unknown_queue,
)
from burro.facade._worker import WorkerResolver
from burro.facade.results import Pagination, RecurringTask, TaskStatus
from burro.observability.events import EventBus
from burro.observability.reporter import Enqueue, LifecycleReporter
from burro.states import TaskState
from burro.storage import open_storage
from burro.storage.base import JobFilter, NewJob, RuntimeInfo, Storage

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import TracerProvider

__all__ = ["BackgroundTaskManager", "connect", "start"]

#: Kinds of job (worker, function, options) a manager keeps validated for enqueue_task.
_KINDS_KEPT = 256

logger = logging.getLogger("burro")

_SORT_FIELDS = ("inserted_at", "scheduled_at", "priority", "attempted_at", "completed_at")
_MAX_PER_PAGE = 1_000
#: Seconds to wait for an idle worker to stop when a scale-up is rolled back.
_WORKER_STOP_TIMEOUT = 10.0


class _Phase(Enum):
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


def start(
    config: Config | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    clock: Clock | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    **overrides: Any,
) -> BackgroundTaskManager:
    """Load the configuration, open the store and start the actor tree.

    Args:
        config: a :class:`Config`, a mapping shaped like the ``[burro]`` TOML table, or a
            path to a TOML file; ``None`` reads ``BURRO_CONFIG`` or uses the defaults.
        clock: the time source (tests pass a :class:`burro.testing.ManualClock`).
        tracer_provider: OpenTelemetry tracer provider for burro's spans; ``None`` uses
            the global one.
        meter_provider: OpenTelemetry meter provider for burro's metrics; ``None`` uses
            the global one.
        **overrides: :class:`Config` field names, winning over every other source.
    """
    return BackgroundTaskManager(
        load_config(config, **overrides),
        clock=clock,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


def connect(
    config: Config | Mapping[str, Any] | str | os.PathLike[str] | None = None,
    *,
    clock: Clock | None = None,
    tracer_provider: TracerProvider | None = None,
    meter_provider: MeterProvider | None = None,
    **overrides: Any,
) -> BackgroundTaskManager:
    """Open the store and the facade without running any queue (producer-only).

    For processes that enqueue or inspect but do not run jobs: a web app, the ``burro``
    command. Other runtimes sharing the data directory pick the work up within
    ``poll_interval_seconds``. Same arguments as :func:`start`.
    """
    return BackgroundTaskManager(
        load_config(config, **overrides),
        clock=clock,
        run_queues=False,
        tracer_provider=tracer_provider,
        meter_provider=meter_provider,
    )


_P = ParamSpec("_P")
_R = TypeVar("_R")


def _not_after_stop(
    method: Callable[Concatenate[BackgroundTaskManager, _P], _R],
) -> Callable[Concatenate[BackgroundTaskManager, _P], _R]:
    """A facade call that finds the store closed by a concurrent ``stop()`` raises
    :class:`RuntimeNotRunning`, as it would have a moment later, not :class:`StorageError`."""

    @functools.wraps(method)
    def call(self: BackgroundTaskManager, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return method(self, *args, **kwargs)
        except StorageError as error:
            self._require_running_after(error)
            raise

    return call


def _deadline_of(timeout: float | None) -> float:
    """The monotonic time by which :meth:`BackgroundTaskManager.stop` stops waiting."""
    if timeout is None:
        return math.inf
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
        raise ConfigError(f"stop timeout must be seconds >= 0 or None, not {timeout!r}")
    return time.monotonic() + timeout


class BackgroundTaskManager:
    """A running burro runtime. Use :func:`burro.start` to make one."""

    def __init__(
        self,
        config: Config,
        *,
        clock: Clock | None = None,
        run_queues: bool = True,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock or SystemClock()
        self.events = EventBus()
        self.runtime_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._phase = _Phase.RUNNING
        self._phase_lock = threading.Lock()
        self._stop_deadline = 0.0
        self._resolver = WorkerResolver(config.allowed_worker_modules)
        #: The kinds of job ``enqueue_task`` was asked for, each validated once.
        self._kinds = JobTemplates(config, self._resolver, limit=_KINDS_KEPT)
        self._active = config.enabled and config.backend != "noop"
        if not self._active:
            logger.warning(
                "burro is disabled (enabled=false or backend='noop'): jobs are "
                "accepted and dropped, nothing is stored or run"
            )
        backend = config.backend if self._active else "noop"
        self._storage: Storage = open_storage(backend, config.data_dir, config.durability)
        self._ctx = self._make_context(tracer_provider, meter_provider)
        self._root: pykka.ActorRef[Any] | None = None
        self._runs_queues = self._active and run_queues
        if self._runs_queues:
            self._start_runtime()

    # -- lifecycle -----------------------------------------------------------------
    def _make_context(
        self, tracer_provider: TracerProvider | None, meter_provider: MeterProvider | None
    ) -> RuntimeContext:
        ctx = RuntimeContext(
            self.config, self._storage, self.clock, self.runtime_id, self._resolver, self.events
        )
        for name, queue in self.config.queues.items():
            ctx.hubs[name] = QueueHub(name, queue.concurrency, ctx.activity)
        ctx.reporter = LifecycleReporter.for_runtime(
            ctx,
            tracer_provider=tracer_provider,
            meter_provider=meter_provider,
            enabled=self._active,
        )
        return ctx

    def _start_runtime(self) -> None:
        from burro.supervision.runtime_tree import build_runtime_tree

        now = self.clock.now()
        info = RuntimeInfo(self.runtime_id, os.getpid(), socket.gethostname(), now)
        try:
            self._storage.register_runtime(info)
            rescued = self._storage.rescue_orphans(now)
            if rescued:
                logger.warning("rescued %d job(s) left running by runtimes that died", len(rescued))
            self._root = build_runtime_tree(self._ctx, self._on_tree_failure)
        except BaseException:
            self._storage.close()
            raise
        logger.info(
            "burro runtime %s started (%s, queues: %s)",
            self.runtime_id,
            self.config.backend,
            ", ".join(self.config.queues),
        )

    def _on_tree_failure(self, reason: str) -> None:
        logger.error("burro runtime %s failed: %s", self.runtime_id, reason)
        with self._phase_lock:
            if self._phase is _Phase.RUNNING:
                self._phase = _Phase.FAILED
        self._ctx.notify_activity()

    def __enter__(self) -> BackgroundTaskManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Stop claiming, let running jobs finish up to ``timeout`` seconds, release the rest.

        ``timeout=None`` waits for the running jobs however long they take.

        Idempotent. Jobs still running at the deadline go back to ``pending`` (their
        attempt given back) so another runtime, or the next start, runs them. Called
        again while a stop is waiting (a second Ctrl-C), it moves that deadline nearer
        and returns at once.
        """
        deadline = _deadline_of(timeout)
        with self._phase_lock:
            if self._phase is _Phase.STOPPING:
                self._stop_deadline = min(self._stop_deadline, deadline)
                self._ctx.notify_activity()
                return
            if self._phase is _Phase.STOPPED:
                return
            self._phase = _Phase.STOPPING
            self._stop_deadline = deadline
        try:
            if self._root is not None:
                self._stop_runtime()
        finally:
            self._ctx.reporter.close()
            self.events.close()
            self._storage.close()
            with self._phase_lock:
                self._phase = _Phase.STOPPED
            logger.info("burro runtime %s stopped", self.runtime_id)

    def _stop_runtime(self) -> None:
        for hub in self._ctx.hubs.values():
            hub.stopping = True
        try:
            self._wait_for_running_jobs()
        finally:
            self._ctx.outage.halt()  # workers riding out a storage outage give up now
        leftover = [job for hub in self._ctx.hubs.values() for job in hub.running_jobs().values()]
        if leftover:
            logger.warning("stop: releasing %d job(s) still running", len(leftover))
            self._unless_storage_fails(
                "release the jobs still running",
                lambda: self._storage.release(
                    self.runtime_id, leftover, self.clock.now(), rescue=False
                ),
            )
        assert self._root is not None
        try:
            # Idle actors stop in milliseconds; a worker stuck in user code is abandoned
            # by its supervisor after its shutdown timeout.
            self._root.stop(block=True, timeout=30.0)
        except pykka.Timeout:
            logger.error("stop: the actor tree did not stop in time; abandoning it")
        self._unless_storage_fails(
            "unregister this runtime",
            lambda: self._storage.unregister_runtime(self.runtime_id),
        )

    def _unless_storage_fails(self, what: str, write: Callable[[], object]) -> None:
        """Run a write of :meth:`stop`; if storage fails, say so and stop all the same.

        Jobs this runtime still holds are then rescued by the next start in this data
        directory, or by a runtime sharing it, once they see this one is gone.
        """
        try:
            write()
        except StorageError as error:
            logger.error(
                "stop: could not %s (%s); the next start rescues what this runtime holds",
                what,
                error,
            )

    def _wait_for_running_jobs(self) -> None:
        with self._ctx.activity:
            while any(hub.running_jobs() for hub in self._ctx.hubs.values()):
                remaining = self._stop_deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._ctx.activity.wait(min(remaining, 0.1))

    @property
    def running(self) -> bool:
        """True until :meth:`stop` is called or the runtime fails."""
        return self._phase is _Phase.RUNNING

    def _require_running(self) -> None:
        phase = self._phase
        if phase is not _Phase.RUNNING:
            raise RuntimeNotRunning(f"the burro runtime is {phase.value}")

    def _require_running_after(self, error: StorageError) -> None:
        """A call that met ``error`` because :meth:`stop` closed the store under it."""
        phase = self._phase
        if phase is not _Phase.RUNNING:
            raise RuntimeNotRunning(f"the burro runtime is {phase.value}") from error

    # -- enqueueing ----------------------------------------------------------------
    def enqueue_task(
        self,
        worker: object,
        function: str = "perform",
        args: Sequence[Any] = (),
        *,
        queue: str | None = None,
        priority: int | None = None,
        max_attempts: int | None = None,
        retry_delay_seconds: float | None = None,
        timeout_seconds: float | None = None,
        unique_for_seconds: float | None = None,
        meta: Mapping[str, Any] | None = None,
        **unknown: Any,
    ) -> str:
        """Store a job to run as soon as a worker of its queue is free; returns its id."""
        if unknown:  # every known option is a keyword of its own
            reject_unknown_options(unknown)
        task: dict[str, Any] = {"worker": worker, "function": function, "args": args}
        options = (
            ("queue", queue),
            ("priority", priority),
            ("max_attempts", max_attempts),
            ("retry_delay_seconds", retry_delay_seconds),
            ("timeout_seconds", timeout_seconds),
            ("unique_for_seconds", unique_for_seconds),
            ("meta", meta),
        )
        for name, value in options:
            if value is not None:
                task[name] = value
        return self._insert(self._kinds.build, task)

    def schedule_task(
        self,
        worker: object,
        function: str,
        args: Sequence[Any],
        scheduled_at: datetime | float,
        **options: Any,
    ) -> str:
        """Store a job to run at ``scheduled_at`` (aware datetime, or seconds from now)."""
        self._require_running()
        when = scheduled_time(scheduled_at, self.clock.now())
        request = JobRequest(worker, function, args, options, when)
        return self._insert(self._build_request, request)

    @_not_after_stop
    def enqueue_many(self, tasks: Iterable[Mapping[str, Any]]) -> list[str]:
        """Store many jobs in one transaction (all or none); returns their ids in order."""
        self._require_running()
        if isinstance(tasks, (str, bytes, Mapping)) or not isinstance(tasks, Iterable):
            raise InvalidTaskError(
                f"enqueue_many takes an iterable of task mappings, not {type(tasks).__name__}"
            )
        jobs = JobTemplates(self.config, self._resolver).build_all(tasks)
        with self._ctx.reporter.enqueueing(jobs) as enqueue:
            inserted = self._storage.insert_many(enqueue.jobs, self.clock.now())
            enqueue.stored(inserted)
        if self._runs_queues and any(row.created for row in inserted):
            self._after_insert(jobs)
        return [row.id for row in inserted]

    def _build_request(self, request: JobRequest, _index: int) -> NewJob:
        """The job of a :meth:`schedule_task` call (built as :meth:`_insert` builds)."""
        return build_job(request, self.config, self._resolver)

    def _insert(self, build: Callable[[Any, int], NewJob], task: Any) -> str:
        """Store the job ``build(task, 0)`` builds (in the turn, with the insert)."""
        if self._phase is not _Phase.RUNNING:  # checked here: a call fewer per enqueue
            self._require_running()
        try:
            with self._ctx.turn:
                job = build(task, 0)
                # The PRODUCER span (reporter.enqueueing((job,)), without that method's call).
                with Enqueue(self._ctx.reporter, (job,)) as enqueue:
                    inserted = self._storage.insert(enqueue.jobs[0], self.clock.now())
                    enqueue.stored((inserted,))
                if inserted.created and self._runs_queues:
                    self._after_insert((job,))
        except StorageError as error:
            self._require_running_after(error)
            raise
        return inserted.id

    def _after_insert(self, jobs: Sequence[NewJob]) -> None:
        """Wake what runs ``jobs``, of which at least one was just stored."""
        now = self.clock.now()
        if any(job.scheduled_at is not None and job.scheduled_at > now for job in jobs):
            self._ctx.wake_scheduler()
        for name in {job.queue for job in jobs}:
            self._ctx.hubs[name].inserted()

    # -- recurring tasks -----------------------------------------------------------
    @_not_after_stop
    def schedule_recurring_task(
        self,
        /,
        task_name_id: str,
        worker: object,
        function: str,
        args: Sequence[Any],
        cron_expression: str,
        *,
        timezone: str = "UTC",
        catch_up: str = "one",
        **options: Any,
    ) -> str:
        """Create or replace the recurring task ``task_name_id``; returns the name.

        Each fire time of ``cron_expression`` (in ``timezone``) enqueues exactly one job,
        with ``meta["recurring"]`` and ``meta["fire_at"]`` set. After downtime, missed
        fires run as one catch-up job (``catch_up="one"``), each of them (``"all"``,
        at most 100) or not at all (``"none"``). A change takes effect from the next fire;
        declaring the same expression and time zone again keeps the fires still owed.
        """
        self._require_running()
        # Asked for here, it is an error; a worker's own default is simply not used.
        if options.get("unique_for_seconds") is not None:
            raise InvalidTaskError(
                "recurring tasks are unique per fire time; drop unique_for_seconds"
            )
        record = recurring_record(
            task_name_id,
            build_job(JobRequest(worker, function, args, options), self.config, self._resolver),
            cron_expression,
            timezone,
            catch_up,
            self.clock.now(),
        )
        # The same schedule declared again keeps the fires still owed (read and written in
        # one transaction, so a fire landing meanwhile is not undone).
        self._storage.upsert_recurring(record, keep_fire_times=True)
        if self._runs_queues:
            self._ctx.wake_scheduler()
        return record.name

    @_not_after_stop
    def cancel_recurring_task(self, task_name_id: str) -> None:
        """Stop all future fires of a recurring task (jobs already enqueued are kept)."""
        self._require_running()
        if not self._active:
            return  # disabled: nothing was stored, so nothing is left to cancel
        if not isinstance(task_name_id, str):
            raise TaskNotFound(f"no recurring task {task_name_id!r}")
        check_text("a recurring task's name", task_name_id)
        if not self._storage.delete_recurring(task_name_id):
            raise TaskNotFound(f"no recurring task {task_name_id!r}")

    @_not_after_stop
    def list_recurring_tasks(self) -> list[RecurringTask]:
        """Every recurring task, by name, with its next fire time."""
        self._require_running()
        return [RecurringTask.from_record(r) for r in self._storage.list_recurring()]

    # -- operator actions ----------------------------------------------------------
    def cancel_task(self, task_id: str, *, reason: str | None = None) -> None:
        """Cancel a task: it never runs if it has not started; a running one is told to stop."""
        self._cancel_task(task_id, reason)

    @_not_after_stop
    def _cancel_task(self, task_id: str, reason: str | None) -> TaskState | None:
        """:meth:`cancel_task`, telling the state this call left the task in.

        ``None`` if this call changed nothing: the task was finished, or its cancel was
        already asked (here, in another thread or process), and that call reports it.
        ``burro cancel`` chooses its message by this, decided in the cancel's transaction.
        """
        self._require_running()
        _check_names(reason=reason)
        if not self._active:
            return None  # disabled: the task was never stored, so it never runs
        outcome = self._storage.cancel(self._task_id(task_id), reason, self.clock.now())
        if outcome is None:
            raise TaskNotFound(f"no task {task_id!r}")
        job, changed = outcome
        if not changed:
            return None
        if job.state is TaskState.RUNNING:
            self._ctx.cancel_requests.add(job.id)
        else:
            self._ctx.reporter.cancelled(job)
            self._ctx.notify_activity()
        return job.state

    @_not_after_stop
    def retry_task(self, task_id: str) -> None:
        """Put a discarded or cancelled task back to ``pending`` (dead-letter replay)."""
        self._require_running()
        if not self._active:
            return  # disabled: there are no dead letters
        job = self._storage.retry(self._task_id(task_id), self.clock.now())
        if job is None:
            raise TaskNotFound(f"no task {task_id!r}")
        if job.state is TaskState.PENDING and self._runs_queues:
            hub = self._ctx.hubs.get(job.queue)
            if hub is not None:
                hub.wake()

    @_not_after_stop
    def cleanup_old_tasks(
        self,
        *,
        retention_days_completed: float | None = None,
        retention_days_failed: float | None = None,
    ) -> int:
        """Delete old finished tasks now (in short batches); returns how many."""
        self._require_running()
        cleanup = self.config.cleanup
        completed = retention_days(
            "retention_days_completed", retention_days_completed, cleanup.retention_days_completed
        )
        failed = retention_days(
            "retention_days_failed", retention_days_failed, cleanup.retention_days_failed
        )
        with self._ctx.reporter.cleaning() as cleanup_run:
            removed = sweep_finished(self._storage, self.clock.now(), completed, failed)
            cleanup_run.removed(removed)
        return removed

    # -- reading -------------------------------------------------------------------
    @_not_after_stop
    def get_task_status(self, task_id: str) -> TaskStatus:
        """The stored state of one task."""
        self._require_running()
        job = self._storage.get(self._task_id(task_id))
        if job is None:
            raise TaskNotFound(f"no task {task_id!r}")
        return TaskStatus.from_job(job)

    @_not_after_stop
    def list_tasks(
        self,
        *,
        status: TaskState | str | Iterable[TaskState | str] | None = None,
        queue: str | None = None,
        worker: str | None = None,
        page: int = 1,
        per_page: int = 50,
        sort_by: str = "inserted_at",
        descending: bool = False,
    ) -> tuple[list[TaskStatus], Pagination]:
        """A page of tasks matching the filters, and where it sits in the whole result."""
        self._require_running()
        _check_names(queue=queue, worker=worker)
        filters = JobFilter(states=_states(status), queue=queue, worker=worker)
        _check_page(page, per_page, sort_by, descending)
        jobs, total = self._storage.list_jobs(
            filters,
            offset=(page - 1) * per_page,
            limit=per_page,
            sort_by=sort_by,  # type: ignore[arg-type]
            descending=descending,
        )
        pages = math.ceil(total / per_page) if total else 0
        return [TaskStatus.from_job(j) for j in jobs], Pagination(total, pages, page, per_page)

    @_not_after_stop
    def get_statistics(self) -> dict[str, Any]:
        """Per-queue counts by state plus ``failed_today``, and a summary of the workers."""
        self._require_running()
        counts = self._storage.counts()
        failed = self._storage.failed_today(self.clock.now())
        queues: dict[str, dict[str, int]] = {}
        for name in sorted(set(self.config.queues) | set(counts)):
            by_state = counts.get(name, {})
            queues[name] = {state.value: by_state.get(state, 0) for state in TaskState}
            queues[name]["failed_today"] = failed.get(name, 0)
        busy = sum(len(hub.running_jobs()) for hub in self._ctx.hubs.values())
        total = sum(hub.concurrency for hub in self._ctx.hubs.values()) if self._runs_queues else 0
        return {
            "queues": queues,
            "workers_summary": {"total_busy": busy, "total_idle": max(total - busy, 0)},
        }

    # -- queue controls ------------------------------------------------------------
    def pause_queue(self, name: str) -> None:
        """Stop claiming on ``name`` in this runtime; running jobs finish."""
        hub = self._hub(name)
        if hub is not None:
            hub.paused = True

    def resume_queue(self, name: str) -> None:
        """Start claiming on ``name`` again."""
        hub = self._hub(name)
        if hub is not None:
            hub.paused = False
            hub.wake()

    def scale_queue(self, name: str, concurrency: int) -> None:
        """Change how many jobs ``name`` runs at once in this runtime."""
        hub = self._hub(name)
        if (
            not isinstance(concurrency, int)
            or isinstance(concurrency, bool)
            or not 1 <= concurrency <= MAX_CONCURRENCY
        ):
            raise InvalidTaskError(
                f"concurrency must be an int from 1 to {MAX_CONCURRENCY}, not {concurrency!r}"
            )
        if hub is None:
            return
        assert self._root is not None
        queue_sup = self._root.proxy().child_ref(f"QueueSupervisor:{name}").get(timeout=5)
        current = hub.concurrency
        # New slots open only once all their workers run: a failed start changes nothing.
        self._start_workers(queue_sup, hub, range(current, concurrency))
        hub.concurrency = concurrency
        for index in range(concurrency, current):
            _stop_worker(queue_sup, hub, index)
        hub.wake()

    def _start_workers(self, queue_sup: pykka.ActorRef[Any], hub: QueueHub, slots: range) -> None:
        """Start a worker for each slot; if one fails, stop those started and raise."""
        from burro.supervision.runtime_tree import worker_spec

        started = slots.start
        try:
            for index in slots:
                spec = worker_spec(self._ctx, hub.name, index)
                queue_sup.proxy().start_child(spec).get(timeout=10)
                started = index + 1
        except BaseException:
            for index in range(slots.start, started):  # idle: their slots never opened
                _stop_worker(queue_sup, hub, index, wait=True)
            raise

    def _hub(self, name: str) -> QueueHub | None:
        """The hub of queue ``name``; ``None`` when disabled, where queue controls do nothing."""
        self._require_running()
        if not isinstance(name, str):
            raise InvalidTaskError(f"a queue is named by a str, not {name!r}")
        hub = self._ctx.hubs.get(name)
        if hub is None:
            raise unknown_queue(name, self.config)
        if not self._active:
            return None
        if not self._runs_queues:
            raise RuntimeNotRunning("this manager runs no queues: burro.connect() opened it")
        return hub

    # -- health --------------------------------------------------------------------
    def supervision_tree(self) -> dict[str, Any]:
        """A snapshot of the actor tree: name, strategy, restarts, alive, children."""
        if self._root is None or not self._root.is_alive():
            return {
                "name": "burro",
                "strategy": "one_for_one",
                "restarts": 0,
                "alive": False,
                "children": [],
            }
        tree: dict[str, Any] = self._root.proxy().tree().get(timeout=5)
        return tree

    def health(self) -> dict[str, Any]:
        """``{"status": "ok" | "degraded" | "failed", ...}`` with the reasons."""
        problems: list[str] = []
        queues = {name: self._queue_health(hub, problems) for name, hub in self._ctx.hubs.items()}
        abandoned = self._ctx.abandoned.alive()
        if abandoned:
            problems.append(f"{abandoned} timed-out job thread(s) still running")
        outage = self._ctx.outage.problem()
        if outage is not None:
            problems.append(outage)
        status = self._health_status(problems)
        return {
            "status": status,
            "runtime_id": self.runtime_id,
            "phase": self._phase.value,
            "backend": self.config.backend if self._active else "noop",
            "queues": queues if self._active else {},
            "abandoned_threads": abandoned,
            "events_dropped": self.events.dropped,
            "problems": problems,
        }

    def _health_status(self, problems: list[str]) -> str:
        if self._phase is not _Phase.RUNNING:
            problems.append(f"runtime is {self._phase.value}")
            return "failed"
        if self._active:
            try:
                self._storage.next_due_at()
            except StorageError as exc:
                problems.append(f"storage: {exc}")
                return "failed"
        return "degraded" if problems else "ok"

    def _queue_health(self, hub: QueueHub, problems: list[str]) -> dict[str, Any]:
        workers = hub.worker_refs()
        alive = sum(1 for ref in workers.values() if ref.is_alive())
        if self._runs_queues and self._phase is _Phase.RUNNING and alive < hub.concurrency:
            problems.append(f"queue {hub.name}: {alive}/{hub.concurrency} workers alive")
        return {
            "concurrency": hub.concurrency,
            "busy": len(hub.running_jobs()),
            "workers_alive": alive,
            "paused": hub.paused,
        }

    @staticmethod
    def _task_id(task_id: object) -> str:
        if not isinstance(task_id, str) or not task_id:
            raise TaskNotFound(f"no task {task_id!r}")
        return task_id


def _states(
    status: TaskState | str | Iterable[TaskState | str] | None,
) -> frozenset[TaskState] | None:
    if status is None:
        return None
    try:
        names = [status] if isinstance(status, str) else list(status)
        return frozenset(TaskState(name) for name in names)
    except TypeError:
        raise InvalidTaskError(
            f"status must be a state or a list of states, not {status!r}"
        ) from None
    except ValueError:
        raise InvalidTaskError(
            f"unknown status in {names!r}; expected some of {[s.value for s in TaskState]}"
        ) from None


def _stop_worker(
    queue_sup: pykka.ActorRef[Any], hub: QueueHub, index: int, *, wait: bool = False
) -> None:
    """Stop slot ``index``'s worker and forget it (its running job keeps the slot busy).

    ``wait``: return once it is gone (a worker scaled down may first finish its job).
    """
    child = f"WorkerActor:{hub.name}:{index}"
    stopped = queue_sup.proxy().terminate_child(child)
    deleted = queue_sup.proxy().delete_child(child)
    hub.detach_worker(index)
    if wait:
        stopped.get(timeout=_WORKER_STOP_TIMEOUT)
        deleted.get(timeout=_WORKER_STOP_TIMEOUT)


def _check_names(**names: object) -> None:
    """Each named argument is None or a str that can be stored."""
    for name, value in names.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise InvalidTaskError(f"{name} must be a str or None, not {value!r}")
        check_text(name, value)


def _check_page(page: int, per_page: int, sort_by: str, descending: bool) -> None:
    if not isinstance(page, int) or isinstance(page, bool) or page < 1:
        raise InvalidTaskError(f"page must be an int >= 1, not {page!r}")
    if (
        not isinstance(per_page, int)
        or isinstance(per_page, bool)
        or not 1 <= per_page <= _MAX_PER_PAGE
    ):
        raise InvalidTaskError(
            f"per_page must be an int from 1 to {_MAX_PER_PAGE}, not {per_page!r}"
        )
    if sort_by not in _SORT_FIELDS:
        raise InvalidTaskError(f"sort_by must be one of {list(_SORT_FIELDS)}, not {sort_by!r}")
    if not isinstance(descending, bool):
        raise InvalidTaskError(f"descending must be a bool, not {descending!r}")
