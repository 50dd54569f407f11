"""JobTracer: trace context into a job's meta, and back out of it for each attempt."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from burro.observability.tracing import JobTracer
from burro.states import TaskState
from burro.storage.base import Job, NewJob

NOW = datetime(2030, 1, 1, tzinfo=UTC)
TRACE_ID, SPAN_ID = 0x0AF7651916CD43DD8448EB211C80319C, 0xB7AD6B7169203331


def new_job(**meta: Any) -> NewJob:
    return NewJob(queue="default", worker="shop.jobs", function="sync", meta=meta)


def claimed(meta: Mapping[str, Any]) -> Job:
    return Job(
        id="7",
        state=TaskState.RUNNING,
        queue="default",
        worker="shop.jobs",
        function="sync",
        args=(),
        priority=0,
        attempts=1,
        max_attempts=3,
        retry_delay_seconds=1.0,
        timeout_seconds=None,
        meta=meta,
        inserted_at=NOW,
        scheduled_at=NOW,
        attempted_at=NOW,
    )


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exporter: InMemorySpanExporter) -> Iterator[TracerProvider]:
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider
    provider.shutdown()


def test_without_an_sdk_jobs_are_stored_untouched() -> None:
    tracer = JobTracer(trace.NoOpTracerProvider())
    jobs = [new_job()]
    span = tracer.start_send(jobs)

    assert not span.is_recording()
    assert tracer.carry(span, jobs) is jobs  # no copy, no meta key


def test_without_an_sdk_the_callers_trace_still_propagates() -> None:
    tracer = JobTracer(trace.NoOpTracerProvider())
    remote = SpanContext(TRACE_ID, SPAN_ID, is_remote=True, trace_flags=TraceFlags(1))
    with trace.use_span(NonRecordingSpan(remote)):
        span = tracer.start_send([new_job()])
    (job,) = tracer.carry(span, [new_job()])

    assert job.meta["traceparent"] == f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"


def test_a_batch_gets_the_trace_context_and_jobs_that_shared_a_meta_still_share_one(
    provider: TracerProvider,
) -> None:
    tracer = JobTracer(provider)
    shared, own = {"tenant": "acme"}, {"tenant": "zed"}
    jobs = [replace(new_job(), meta=meta) for meta in (shared, shared, own)]
    send = tracer.start_send(jobs)
    first, second, third = tracer.carry(send, jobs)
    send.end()

    traceparent = f"00-{send.get_span_context().trace_id:032x}-"
    assert all(job.meta["traceparent"].startswith(traceparent) for job in (first, second, third))
    assert (first.meta["tenant"], third.meta["tenant"]) == ("acme", "zed")
    assert first.meta is second.meta  # merged once for both
    assert shared == {"tenant": "acme"}  # the caller's mapping is left alone


def test_an_attempt_continues_the_trace_its_meta_carries(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    tracer = JobTracer(provider)
    send = tracer.start_send([new_job(user="ada")])
    (job,) = tracer.carry(send, [new_job(user="ada")])
    send.end()
    process = tracer.start_process(claimed(job.meta))
    assert trace.get_current_span() is process.span  # the worker's code runs inside it
    process.close()

    assert job.meta["user"] == "ada"
    assert trace.get_current_span() is trace.INVALID_SPAN
    sent, processed = exporter.get_finished_spans()
    assert processed.parent is not None
    assert processed.parent.span_id == sent.context.span_id


def test_an_attempt_of_a_job_without_context_starts_a_trace(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    JobTracer(provider).start_process(claimed({"recurring": "x"})).close()

    (span,) = exporter.get_finished_spans()
    assert span.parent is None


def test_link_mode_links_instead_of_parenting(
    provider: TracerProvider, exporter: InMemorySpanExporter
) -> None:
    meta = {"traceparent": f"00-{TRACE_ID:032x}-{SPAN_ID:016x}-01"}
    JobTracer(provider, link_mode="link").start_process(claimed(meta)).close()

    (span,) = exporter.get_finished_spans()
    assert span.parent is None
    assert span.context.trace_id != TRACE_ID
    assert [(link.context.trace_id, link.context.span_id) for link in span.links] == [
        (TRACE_ID, SPAN_ID)
    ]
