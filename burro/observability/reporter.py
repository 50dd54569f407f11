"""One place that tells the world what happens to jobs: logs, traces, metrics, events.

The runtime calls it at each transition, through short-lived handles used as context
managers, so that a span wraps exactly the work it describes:

* :meth:`LifecycleReporter.enqueueing`: the PRODUCER span around a storage insert; the
  jobs to store carry its trace context (``Enqueue.jobs``).
* :meth:`LifecycleReporter.attempt`: the CONSUMER span around execute + settle.
* :meth:`LifecycleReporter.firing` and :meth:`LifecycleReporter.cleaning`: a recurring
  fire and a clean-up run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from burro.observability.capacity import CapacityWatch
from burro.observability.events import EventBus
from burro.observability.logs import Redactor, job_fields, worker_name
from burro.observability.metrics import JobMetrics, RuntimeGauges
from burro.observability.tracing import NO_SPAN, UNTRACED, JobTracer
from burro.states import TaskState
from burro.storage.base import Inserted, Job, NewJob

if TYPE_CHECKING:
    from opentelemetry.metrics import MeterProvider
    from opentelemetry.trace import Span, TracerProvider

    from burro.actors._context import RuntimeContext
    from burro.actors._execute import Outcome

__all__ = ["Attempt", "CleanupRun", "Enqueue", "Fire", "LifecycleReporter"]

jobs_logger = logging.getLogger("burro.jobs")
scheduler_logger = logging.getLogger("burro.scheduler")
cleanup_logger = logging.getLogger("burro.cleanup")

_SETTLED_EVENTS = {
    TaskState.COMPLETED: "job.completed",
    TaskState.RETRYABLE: "job.retry",
    TaskState.DISCARDED: "job.discarded",
    TaskState.CANCELLED: "job.cancelled",
}


class LifecycleReporter:
    """Logs, traces, metrics and lifecycle events for everything that happens to jobs.

    Args:
        events: where lifecycle events go (``manager.events``).
        tracer: spans; by default on the global tracer provider.
        metrics: instruments; by default on the global meter provider.
        redactor: what to mask in logs, events and spans.
        capacity: warns when a queue is at capacity (runtimes that run queues).
        log_args: include a job's args (redacted) in a DEBUG record as it starts.
        enabled: ``False`` for a disabled runtime, whose enqueues store nothing.
    """

    def __init__(
        self,
        events: EventBus,
        *,
        tracer: JobTracer | None = None,
        metrics: JobMetrics | None = None,
        redactor: Redactor | None = None,
        capacity: CapacityWatch | None = None,
        log_args: bool = False,
        enabled: bool = True,
    ) -> None:
        self._events = events
        self._redactor = redactor or Redactor()
        self._tracer = tracer or JobTracer(redactor=self._redactor)
        self._metrics = metrics or JobMetrics()
        self._capacity = capacity
        self._log_args = log_args
        self._enabled = enabled
        self._gauges: RuntimeGauges | None = None

    @classmethod
    def for_runtime(
        cls,
        context: RuntimeContext,
        *,
        tracer_provider: TracerProvider | None = None,
        meter_provider: MeterProvider | None = None,
        enabled: bool = True,
    ) -> LifecycleReporter:
        """The reporter of one runtime, configured from its :class:`~burro.Config`."""
        config = context.config
        redactor = Redactor(
            config.redact_patterns, hide_error_messages=config.redact_error_messages
        )
        reporter = cls(
            context.events,
            tracer=JobTracer(tracer_provider, config.trace_link_mode, redactor),
            metrics=JobMetrics(meter_provider),
            redactor=redactor,
            capacity=CapacityWatch(context.storage, context.hubs),
            log_args=config.log_args,
            enabled=enabled,
        )
        if enabled:
            store = config.data_dir.resolve() if config.backend == "lmdb" else id(context.storage)
            reporter.observe(RuntimeGauges(context.storage, context.hubs, store))
        return reporter

    def observe(self, gauges: RuntimeGauges) -> None:
        """Feed the observable gauges from ``gauges`` until :meth:`close`."""
        self._gauges = gauges
        self._metrics.observe(gauges)

    def close(self) -> None:
        """Stop feeding the gauges (the runtime stopped)."""
        gauges, self._gauges = self._gauges, None
        if gauges is not None:
            self._metrics.forget(gauges)

    # -- transitions, as spans ---------------------------------------------------------
    def enqueueing(self, jobs: Sequence[NewJob]) -> Enqueue:
        """The PRODUCER span of storing ``jobs``; store ``Enqueue.jobs`` inside it."""
        return Enqueue(self, jobs)

    def attempt(self, job: Job) -> Attempt:
        """The CONSUMER span of one attempt of a claimed ``job``: execute and settle in it."""
        return Attempt(self, job)

    def firing(self, name: str, fire_at: datetime, job: NewJob) -> Fire:
        """The span of one fire of a recurring task; store ``Fire.job`` inside it."""
        return Fire(self, name, fire_at, job)

    def cleaning(self) -> CleanupRun:
        """The span of one clean-up run."""
        return CleanupRun(self)

    # -- transitions without a span ----------------------------------------------------
    def cancelled(self, job: Job) -> None:
        """A job was cancelled before it ran."""
        jobs_logger.info("cancelled %s", job.id, extra=job_fields(job))
        if self._events.wants("job.cancelled"):
            self._events.emit("job.cancelled", {**job_fields(job), "state": job.state.value})

    def actor_restarted(self, supervisor: str, child: str, reason: str, count: int) -> None:
        """A supervised actor was restarted (its supervisor logs it)."""
        if self._events.wants("actor.restarted"):
            self._events.emit(
                "actor.restarted",
                {"supervisor": supervisor, "actor": child, "reason": reason, "count": count},
            )

    # -- what the handles report -------------------------------------------------------
    def _enqueued(self, jobs: Sequence[NewJob], inserted: Sequence[Inserted]) -> None:
        if len(jobs) == 1:  # the common case, without building lists
            if inserted[0].created:
                self._metrics.enqueued(jobs)
                self._announce_enqueued(jobs[0], inserted[0].id)
            return
        created = [job for job, row in zip(jobs, inserted, strict=True) if row.created]
        if not created:
            return
        self._metrics.enqueued(created)
        # Asked once per batch: most runtimes neither log at INFO nor have subscribers,
        # and a call per job to find that out costs more than the rest of its report.
        if jobs_logger.isEnabledFor(logging.INFO) or self._events.wants("job.enqueued"):
            for job, row in zip(jobs, inserted, strict=True):
                if row.created:
                    self._announce_enqueued(job, row.id)

    def _announce_enqueued(self, job: NewJob, task_id: str) -> None:
        if jobs_logger.isEnabledFor(logging.INFO):
            jobs_logger.info(
                "enqueued %s on %s", task_id, job.queue, extra=_new_job_fields(job, task_id)
            )
        if self._events.wants("job.enqueued"):
            self._events.emit("job.enqueued", _new_job_fields(job, task_id))

    def _started(self, job: Job) -> None:
        if self._capacity is not None:
            self._capacity.check(job.queue)
        self._metrics.started(job)
        if jobs_logger.isEnabledFor(logging.INFO):
            jobs_logger.info("started %s (attempt %d)", job.id, job.attempts, extra=job_fields(job))
        if self._log_args and jobs_logger.isEnabledFor(logging.DEBUG):
            shown = self._redactor.text(repr(list(job.args)))
            jobs_logger.debug(
                "args of %s: %s", job.id, shown, extra={**job_fields(job), "job_args": shown}
            )
        if self._events.wants("job.started"):
            self._events.emit("job.started", job_fields(job))

    def _settled(self, job: Job, outcome: Outcome, duration: float) -> None:
        self._metrics.processed(job, duration)
        summary = None
        failed = outcome.kind == "failed"
        if failed:
            summary = self._redactor.error(outcome.error, outcome.error_type).summary
            self._log_failure(job, summary)
        elif jobs_logger.isEnabledFor(logging.INFO):
            self._log_success(job, duration)
        # Asked here, not only by _emit_settled: most runtimes have no subscribers, and
        # the call to find that out there would be one more per attempt.
        event = _SETTLED_EVENTS.get(job.state)
        wants = self._events.wants
        if (event is not None and wants(event)) or (failed and wants("job.failed")):
            self._emit_settled(job, outcome, duration, summary)

    @staticmethod
    def _log_success(job: Job, duration: float) -> None:
        if job.state is TaskState.COMPLETED:
            jobs_logger.info(
                "completed %s in %.3fs",
                job.id,
                duration,
                extra={**job_fields(job), "duration": duration},
            )
        elif job.state is TaskState.CANCELLED:
            jobs_logger.info("cancelled %s while running", job.id, extra=job_fields(job))

    @staticmethod
    def _log_failure(job: Job, summary: str) -> None:
        fields = {**job_fields(job), "error": summary}
        if job.state is TaskState.RETRYABLE:
            jobs_logger.warning(
                "failed %s (attempt %d/%d), will retry at %s: %s",
                job.id,
                job.attempts,
                job.max_attempts,
                job.scheduled_at.isoformat(),
                summary,
                extra=fields,
            )
        elif job.state is TaskState.DISCARDED:
            jobs_logger.error(
                "discarded %s after %d attempt(s): %s",
                job.id,
                job.attempts,
                summary,
                extra=fields,
            )

    def _emit_settled(
        self, job: Job, outcome: Outcome, duration: float, summary: str | None
    ) -> None:
        event = _SETTLED_EVENTS.get(job.state)
        failed = outcome.kind == "failed"
        wants_failed = failed and self._events.wants("job.failed")
        wants_event = event is not None and self._events.wants(event)
        if not (wants_failed or wants_event):
            return
        payload = {**job_fields(job), "state": job.state.value, "duration": duration}
        if failed:
            payload |= {"error_type": outcome.error_type, "error": summary}
        if wants_failed:
            self._events.emit("job.failed", payload)
        if event is not None and wants_event:
            if job.state is TaskState.RETRYABLE:
                payload = {**payload, "retry_at": job.scheduled_at.isoformat()}
            self._events.emit(event, payload)

    def _fired(self, name: str, fire_at: datetime, job: NewJob, job_id: str) -> None:
        scheduler_logger.info(
            "recurring %s fired for %s",
            name,
            fire_at.isoformat(),
            extra={**_new_job_fields(job, job_id), "recurring": name},
        )
        self._enqueued((job,), (Inserted(job_id, created=True),))

    @staticmethod
    def _cleaned(removed: int) -> None:
        if removed:
            cleanup_logger.info(
                "cleanup removed %d finished job(s)", removed, extra={"removed": removed}
            )
        else:
            cleanup_logger.debug("cleanup found nothing to remove", extra={"removed": 0})


def _new_job_fields(job: NewJob, task_id: str) -> dict[str, Any]:
    return {"task_id": task_id, "queue": job.queue, "worker": worker_name(job.worker, job.function)}


class _SpanScope:
    """A handle that ends its span on exit, recording an exception that escaped it."""

    __slots__ = ("_reporter", "_span")

    def __init__(self, reporter: LifecycleReporter) -> None:
        self._reporter = reporter
        self._span: Span | None = None

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        span = self._span
        if span is not None and span is not NO_SPAN:  # the no-op span's end does nothing
            if exc is not None:
                self._reporter._tracer.crashed(span, exc)
            span.end()


class Enqueue(_SpanScope):
    """Storing jobs, inside their PRODUCER span; store :attr:`jobs`, then call :meth:`stored`."""

    __slots__ = ("jobs",)

    def __init__(self, reporter: LifecycleReporter, jobs: Sequence[NewJob]) -> None:
        # The base's fields set here, without its __init__'s call: one per enqueue.
        self._reporter = reporter
        self._span = None
        #: The jobs to store: with the span's trace context in their meta, if any.
        self.jobs = jobs

    def __enter__(self) -> Enqueue:
        reporter = self._reporter
        if self.jobs and reporter._enabled:
            self._span = span = reporter._tracer.start_send(self.jobs)
            if span is not NO_SPAN:  # the no-op span carries no context into the jobs
                self.jobs = reporter._tracer.carry(span, self.jobs)
        return self

    def stored(self, inserted: Sequence[Inserted]) -> None:
        """The store answered: ``inserted[i]`` is what became of ``jobs[i]``."""
        span = self._span
        if span is None:
            return
        if span is not NO_SPAN:  # the no-op span records nothing: no call to find that out
            self._reporter._tracer.stored(span, inserted)
        self._reporter._enqueued(self.jobs, inserted)


class Attempt(_SpanScope):
    """One attempt of a job, inside its CONSUMER span: execute, then settle."""

    __slots__ = ("_executed", "_job", "_process", "_started")

    def __init__(self, reporter: LifecycleReporter, job: Job) -> None:
        # The base's fields set here, without its __init__'s call: one per attempt.
        self._reporter = reporter
        self._span = None
        self._job = job
        self._started = self._executed = 0.0

    def __enter__(self) -> Attempt:
        reporter = self._reporter
        self._process = reporter._tracer.start_process(self._job)
        self._span = self._process.span
        reporter._started(self._job)
        self._started = time.monotonic()
        return self

    def executed(self) -> None:
        """The job's code returned (its duration is measured up to here)."""
        self._executed = time.monotonic()

    def settled(self, job: Job | None, outcome: Outcome) -> None:
        """The outcome was committed (``job`` as it now is), or not (``None``)."""
        duration = (self._executed or time.monotonic()) - self._started
        reporter = self._reporter
        span = self._span
        assert span is not None
        if span is not NO_SPAN:  # the no-op span records nothing: no call to find that out
            reporter._tracer.processed(span, outcome, job)
        if job is not None:
            reporter._settled(job, outcome, duration)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc is not None and self._span is not None:
            self._reporter._tracer.crashed(self._span, exc)
        if self._process is not UNTRACED:  # closing it would detach nothing, end nothing
            self._process.close()


class Fire(_SpanScope):
    """One fire of a recurring task, inside its span; store :attr:`job`, then :meth:`stored`."""

    __slots__ = ("_fire_at", "_name", "job")

    def __init__(
        self, reporter: LifecycleReporter, name: str, fire_at: datetime, job: NewJob
    ) -> None:
        super().__init__(reporter)
        self._name = name
        self._fire_at = fire_at
        #: The job to store: with the span's trace context in its meta, if any.
        self.job = job

    def __enter__(self) -> Fire:
        tracer = self._reporter._tracer
        self._span = tracer.start_fire(self._name, self._fire_at, self.job)
        (self.job,) = tracer.carry(self._span, (self.job,))
        return self

    def stored(self, job_id: str | None) -> None:
        """The store answered: the new job's id, or ``None`` if the fire was already recorded."""
        assert self._span is not None
        if job_id is None:
            if self._span.is_recording():
                self._span.set_attribute("burro.recurring.duplicate", True)
            return
        self._reporter._tracer.stored(self._span, (Inserted(job_id, created=True),))
        self._reporter._fired(self._name, self._fire_at, self.job, job_id)


class CleanupRun(_SpanScope):
    """One clean-up run, inside its span; call :meth:`removed` with how many it deleted."""

    __slots__ = ()

    def __enter__(self) -> CleanupRun:
        if self._reporter._enabled:
            self._span = self._reporter._tracer.start_cleanup()
        return self

    def removed(self, count: int) -> None:
        """The run deleted ``count`` finished jobs."""
        if self._span is not None and self._span.is_recording():
            self._span.set_attribute("burro.cleanup.removed", count)
        self._reporter._cleaned(count)
