"""Traces on the OpenTelemetry API: one trace follows a job from enqueue to its last attempt.

* A PRODUCER span per enqueue (``send <queue>``), inside the caller's current span. Its
  W3C trace context is put into the job's meta (``traceparent``) with
  :mod:`opentelemetry.propagate` before the job is stored, so it survives retries,
  restarts and other processes.
* A CONSUMER span per attempt (``process <queue>``): a child of that PRODUCER span, or
  (``trace_link_mode = "link"``) the root of its own trace with a link to it.
* A PRODUCER span per recurring fire (``fire <name>``) and an INTERNAL span per
  clean-up run (``burro cleanup``).

The application brings the SDK; without one every call here is a cheap no-op: nothing
is injected, extracted or attached unless a span context is valid.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from burro.config._model import TraceLinkMode
from burro.observability.logs import Redactor, worker_name
from burro.storage.base import Inserted, Job, NewJob

if TYPE_CHECKING:
    from burro.actors._execute import Outcome

__all__ = ["NO_SPAN", "UNTRACED", "JobTracer", "ProcessSpan"]

#: The error types of attempts that failed by returning, not raising.
_RETURNED_FAILURES = frozenset({"Failure", "error"})

MESSAGING_SYSTEM = "burro"
#: Read once: an enum member read off its class costs about a Python call.
_CONSUMER, _PRODUCER = SpanKind.CONSUMER, SpanKind.PRODUCER
_ROOT = Context()
logger = logging.getLogger("burro.tracing")


class ProcessSpan:
    """The CONSUMER span of one attempt, and the context its code runs in."""

    __slots__ = ("_token", "span")

    def __init__(self, span: Span, context: Context | None) -> None:
        self.span = span
        # Attached only when there is a trace to continue (valid span context), so the
        # worker's own spans nest under this one and the no-SDK case costs nothing.
        self._token = otel_context.attach(context) if context is not None else None

    def close(self) -> None:
        """Detach the context (in the thread that attached it) and end the span."""
        if self._token is not None:
            otel_context.detach(self._token)
        self.span.end()


#: The no-op tracer's one span (no SDK, nothing to continue): nothing to record or attach.
NO_SPAN = trace.INVALID_SPAN
#: The attempt's ProcessSpan with the no-op tracer: closing it does nothing.
UNTRACED = ProcessSpan(NO_SPAN, None)


def _extract(job: Job) -> Context | None:
    """The trace context ``job``'s meta carries; None if the propagator cannot read it.

    The facade refuses such meta, but a job stored otherwise must still run (untraced).
    """
    try:
        return propagate.extract(job.meta)
    except Exception:  # the propagator's own errors: the job is not to pay for them
        logger.warning("job %s: its meta holds a trace context that cannot be read", job.id)
        return None


class JobTracer:
    """Starts and finishes burro's spans on one tracer (from ``tracer_provider``)."""

    def __init__(
        self,
        tracer_provider: trace.TracerProvider | None = None,
        link_mode: TraceLinkMode = "child",
        redactor: Redactor | None = None,
    ) -> None:
        from burro import __version__

        self._tracer = trace.get_tracer("burro", __version__, tracer_provider)
        self._link = link_mode == "link"
        self._redactor = redactor or Redactor()
        self._carrier_keys = frozenset(propagate.get_global_textmap().fields)

    # -- enqueue -------------------------------------------------------------------
    def start_send(self, jobs: Sequence[NewJob]) -> Span:
        """The PRODUCER span of one enqueue (of one job, or a batch), in the current span."""
        queue = jobs[0].queue if len(jobs) == 1 else _common_queue(jobs)
        span = self._tracer.start_span(f"send {queue}" if queue else "send", kind=_PRODUCER)
        if span is not NO_SPAN and span.is_recording():
            span.set_attributes(_send_attributes(jobs, queue))
        return span

    def start_fire(self, name: str, fire_at: datetime, job: NewJob) -> Span:
        """The PRODUCER span of one fire of the recurring task ``name``."""
        span = self._tracer.start_span(f"fire {name}", kind=SpanKind.PRODUCER)
        if span.is_recording():
            attributes = _send_attributes((job,), job.queue)
            attributes["burro.recurring.name"] = name
            attributes["burro.recurring.fire_at"] = fire_at.isoformat()
            span.set_attributes(attributes)
        return span

    def carry(self, span: Span, jobs: Sequence[NewJob]) -> Sequence[NewJob]:
        """``jobs`` with ``span``'s trace context in their meta (as is when there is none)."""
        if span is NO_SPAN or not span.get_span_context().is_valid:
            return jobs
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context=trace.set_span_in_context(span))
        if not carrier:
            return jobs
        # Jobs that shared a meta mapping share the new one: one merge, not one per job.
        metas: dict[int, Mapping[str, Any]] = {}
        carried = []
        for job in jobs:
            meta = metas.get(id(job.meta))
            if meta is None:
                meta = metas[id(job.meta)] = {**job.meta, **carrier}
            carried.append(replace(job, meta=meta))
        return carried

    @staticmethod
    def stored(span: Span, inserted: Sequence[Inserted]) -> None:
        """Record on a PRODUCER span what the store answered: the task id, duplicates."""
        if span is NO_SPAN or not span.is_recording():
            return
        if len(inserted) == 1:
            span.set_attribute("messaging.message.id", inserted[0].id)
        duplicates = sum(1 for row in inserted if not row.created)
        if duplicates:
            span.set_attribute("burro.jobs.duplicates", duplicates)

    # -- attempts ------------------------------------------------------------------
    def start_process(self, job: Job) -> ProcessSpan:
        """The CONSUMER span of one attempt of ``job``, made current for its code."""
        # Extraction costs microseconds: skip it for jobs that carry no context.
        meta = job.meta
        producer = None if self._carrier_keys.isdisjoint(meta) else _extract(job)
        parent, links = (_ROOT, None) if producer is None else self._placement(producer)
        span = self._tracer.start_span(
            f"process {job.queue}", context=parent, kind=_CONSUMER, links=links
        )
        if span is NO_SPAN:
            return UNTRACED
        if span.is_recording():
            span.set_attributes(_process_attributes(job))
        current = None
        if span.get_span_context().is_valid:
            current = trace.set_span_in_context(span, producer)
        return ProcessSpan(span, current)

    def processed(self, span: Span, outcome: Outcome, settled: Job | None) -> None:
        """Record how an attempt ended: its state, and on failure the error."""
        if span is NO_SPAN or not span.is_recording():
            return
        span.set_attribute("burro.job.state", settled.state.value if settled else "unrecorded")
        if outcome.kind == "failed":
            self._failed(span, outcome)

    def _failed(self, span: Span, outcome: Outcome) -> None:
        report = self._redactor.error(outcome.error, outcome.error_type)
        span.set_attribute("error.type", report.type)
        # A returned Failure or ("error", reason) is an outcome, not an exception.
        if report.type not in _RETURNED_FAILURES:
            attributes = {"exception.type": report.type, "exception.message": report.message}
            if report.stacktrace:
                attributes["exception.stacktrace"] = report.stacktrace
            span.add_event("exception", attributes)
        span.set_status(Status(StatusCode.ERROR, report.summary))

    # -- clean-up ------------------------------------------------------------------
    def start_cleanup(self) -> Span:
        """The span of one clean-up run."""
        return self._tracer.start_span("burro cleanup", kind=SpanKind.INTERNAL)

    # -- any span --------------------------------------------------------------------
    @staticmethod
    def crashed(span: Span, exc: BaseException) -> None:
        """Record an exception that escaped a span's work (storage failure, crash)."""
        if span.is_recording():
            span.record_exception(exc)
            span.set_attribute("error.type", type(exc).__qualname__)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))

    def _placement(self, producer: Context) -> tuple[Context, list[Link] | None]:
        """An attempt's parent context and links: under its enqueue, or linked to it."""
        if not self._link:
            return producer, None
        sent = trace.get_current_span(producer).get_span_context()
        return _ROOT, [Link(sent)] if sent.is_valid else None


def _common_queue(jobs: Sequence[NewJob]) -> str | None:
    first = jobs[0].queue
    for job in jobs:  # a loop: a generator costs a resumption per job of a batch
        if job.queue != first:
            return None
    return first


def _send_attributes(jobs: Sequence[NewJob], queue: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
    }
    if queue is not None:
        attributes["messaging.destination.name"] = queue
    if len(jobs) == 1:
        attributes["burro.job.worker"] = worker_name(jobs[0].worker, jobs[0].function)
    else:
        attributes["messaging.batch.message_count"] = len(jobs)
    return attributes


def _process_attributes(job: Job) -> dict[str, Any]:
    return {
        "messaging.system": MESSAGING_SYSTEM,
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": job.queue,
        "messaging.message.id": job.id,
        "burro.job.worker": worker_name(job.worker, job.function),
        "burro.job.attempt": job.attempts,
        "burro.job.max_attempts": job.max_attempts,
    }
