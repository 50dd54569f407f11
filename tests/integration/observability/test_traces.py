"""Traces: one trace per job, from the caller's span through every attempt."""

from __future__ import annotations

from pathlib import Path

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

import burro
from burro.testing import ManualClock, drain
from tests.integration.observability import traced_workers
from tests.integration.observability.conftest import Factory, Telemetry
from tests.integration.runtime import workers

WORKERS = workers.__name__


def only(spans: list[ReadableSpan]) -> ReadableSpan:
    assert len(spans) == 1, [span.name for span in spans]
    return spans[0]


def by_attempt(spans: list[ReadableSpan]) -> list[ReadableSpan]:
    return sorted(spans, key=lambda span: (span.attributes or {})["burro.job.attempt"])


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def test_enqueue_and_attempt_form_one_trace_inside_the_callers_span(
    start_manager: Factory, telemetry: Telemetry
) -> None:
    manager = start_manager()
    app = telemetry.tracer_provider.get_tracer("shop")
    with app.start_as_current_span("POST /orders") as request:
        task_id = manager.enqueue_task(workers.add, args=[1, 2])
    drain(manager)
    meta = manager.get_task_status(task_id).meta
    manager.stop()

    send = only(telemetry.spans.of_kind(SpanKind.PRODUCER))
    process = only(telemetry.spans.of_kind(SpanKind.CONSUMER))
    trace_id = request.get_span_context().trace_id
    assert send.name == "send default"
    assert parent_id(send) == request.get_span_context().span_id
    assert send.context.trace_id == process.context.trace_id == trace_id
    assert parent_id(process) == send.context.span_id
    assert meta["traceparent"].startswith(f"00-{trace_id:032x}-{send.context.span_id:016x}-")
    assert dict(send.attributes or {}) == {
        "messaging.system": "burro",
        "messaging.operation.type": "send",
        "messaging.operation.name": "send",
        "messaging.destination.name": "default",
        "messaging.message.id": task_id,
        "burro.job.worker": f"{WORKERS}.add",
    }
    assert process.name == "process default"
    assert dict(process.attributes or {}) == {
        "messaging.system": "burro",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.destination.name": "default",
        "messaging.message.id": task_id,
        "burro.job.worker": f"{WORKERS}.add",
        "burro.job.attempt": 1,
        "burro.job.max_attempts": 5,
        "burro.job.state": "completed",
    }
    assert process.status.status_code is StatusCode.UNSET


def test_every_attempt_of_a_retried_job_is_a_child_of_its_enqueue(
    start_manager: Factory, clock: ManualClock, telemetry: Telemetry
) -> None:
    manager = start_manager(clock=clock)
    task_id = manager.enqueue_task(
        workers.fails_then_succeeds, args=["crm", 1], retry_delay_seconds=10
    )
    drain(manager)
    clock.advance(60)
    drain(manager)
    manager.stop()

    send = only(telemetry.spans.of_kind(SpanKind.PRODUCER))
    failed, succeeded = by_attempt(telemetry.spans.of_kind(SpanKind.CONSUMER))
    assert parent_id(failed) == parent_id(succeeded) == send.context.span_id
    assert failed.context.trace_id == succeeded.context.trace_id == send.context.trace_id
    assert failed.status.status_code is StatusCode.ERROR
    assert failed.status.description == "ConnectionError: flaky crm"
    assert failed.attributes is not None
    assert failed.attributes["error.type"] == "ConnectionError"
    assert failed.attributes["burro.job.state"] == "retryable"
    assert failed.attributes["messaging.message.id"] == task_id
    (exception,) = failed.events
    assert exception.name == "exception"
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "ConnectionError"
    assert exception.attributes["exception.message"] == "flaky crm"
    assert "Traceback" in str(exception.attributes["exception.stacktrace"])
    assert succeeded.status.status_code is StatusCode.UNSET
    assert succeeded.attributes is not None
    assert succeeded.attributes["burro.job.attempt"] == 2
    assert succeeded.attributes["burro.job.state"] == "completed"


def test_the_trace_continues_across_a_restart(
    start_manager: Factory, clock: ManualClock, telemetry: Telemetry
) -> None:
    first = start_manager(clock=clock)
    first.enqueue_task(workers.fails_then_succeeds, args=["erp", 1], retry_delay_seconds=10)
    drain(first)
    first.stop()
    second = start_manager(clock=clock)  # the same data directory
    clock.advance(60)
    drain(second)
    second.stop()

    send = only(telemetry.spans.of_kind(SpanKind.PRODUCER))
    attempts = by_attempt(telemetry.spans.of_kind(SpanKind.CONSUMER))
    assert [parent_id(span) for span in attempts] == [send.context.span_id] * 2
    assert [(span.attributes or {})["burro.job.state"] for span in attempts] == [
        "retryable",
        "completed",
    ]


def test_a_job_enqueued_by_a_producer_process_joins_the_producers_trace(
    tmp_path: Path, start_manager: Factory, telemetry: Telemetry
) -> None:
    app = telemetry.tracer_provider.get_tracer("shop")
    web = burro.connect(data_dir=tmp_path / "data", tracer_provider=telemetry.tracer_provider)
    with app.start_as_current_span("POST /signup") as request:
        web.enqueue_task(workers.record, args=["welcome"])
    web.stop()
    runner = start_manager()
    drain(runner)
    runner.stop()

    process = only(telemetry.spans.of_kind(SpanKind.CONSUMER))
    assert process.context.trace_id == request.get_span_context().trace_id


def test_link_mode_gives_each_attempt_its_own_trace_linked_to_the_enqueue(
    start_manager: Factory, telemetry: Telemetry
) -> None:
    manager = start_manager(trace_link_mode="link")
    manager.enqueue_task(workers.add, args=[2, 3])
    drain(manager)
    manager.stop()

    send = only(telemetry.spans.of_kind(SpanKind.PRODUCER))
    process = only(telemetry.spans.of_kind(SpanKind.CONSUMER))
    assert process.parent is None
    assert process.context.trace_id != send.context.trace_id
    (link,) = process.links
    assert link.context.span_id == send.context.span_id
    assert link.context.trace_id == send.context.trace_id


def test_a_discarded_job_and_a_returned_failure_end_in_error(
    start_manager: Factory, telemetry: Telemetry
) -> None:
    manager = start_manager()
    manager.enqueue_task(workers.always_fails, args=["x"], max_attempts=1)
    manager.enqueue_task(workers.returns_failure, args=["y"], max_attempts=1)
    manager.enqueue_task(workers.returns_error_tuple, args=["z"], max_attempts=1)
    drain(manager)
    manager.stop()

    spans = {
        (span.attributes or {})["burro.job.worker"]: span
        for span in telemetry.spans.of_kind(SpanKind.CONSUMER)
    }
    discarded = spans[f"{WORKERS}.always_fails"]
    assert discarded.status.status_code is StatusCode.ERROR
    assert (discarded.attributes or {})["burro.job.state"] == "discarded"
    assert [event.name for event in discarded.events] == ["exception"]
    failure = spans[f"{WORKERS}.returns_failure"]
    assert failure.status.status_code is StatusCode.ERROR
    assert (failure.attributes or {})["error.type"] == "Failure"
    assert failure.events == ()  # a returned Failure is not an exception
    error_pair = spans[f"{WORKERS}.returns_error_tuple"]
    assert error_pair.status.status_code is StatusCode.ERROR
    assert error_pair.status.description == "error: 'nope'"
    assert error_pair.events == ()  # nor is a returned ("error", reason)


def test_a_batch_enqueue_is_one_producer_span_parent_of_every_job(
    start_manager: Factory, telemetry: Telemetry
) -> None:
    manager = start_manager()
    manager.enqueue_many(
        [{"worker": workers.add, "function": "add", "args": [n, n]} for n in range(3)]
    )
    drain(manager)
    manager.stop()

    send = only(telemetry.spans.of_kind(SpanKind.PRODUCER))
    assert (send.attributes or {})["messaging.batch.message_count"] == 3
    processes = telemetry.spans.of_kind(SpanKind.CONSUMER)
    assert [parent_id(span) for span in processes] == [send.context.span_id] * 3


@pytest.mark.parametrize("timeout", [None, 30.0], ids=["in-worker-thread", "with-timeout"])
def test_the_workers_own_spans_nest_under_its_attempt(
    start_manager: Factory, telemetry: Telemetry, timeout: float | None
) -> None:
    traced_workers.tracer_provider = telemetry.tracer_provider
    try:
        manager = start_manager()
        manager.enqueue_task(traced_workers.charge, args=["order-7"], timeout_seconds=timeout)
        drain(manager)
        manager.stop()
    finally:
        traced_workers.tracer_provider = None

    process = only(telemetry.spans.of_kind(SpanKind.CONSUMER))
    (own,) = [span for span in telemetry.spans.get_finished_spans() if span.name == "charge card"]
    assert parent_id(own) == process.context.span_id


def test_a_recurring_fire_is_the_parent_of_the_job_it_enqueues(
    start_manager: Factory, clock: ManualClock, telemetry: Telemetry
) -> None:
    manager = start_manager(clock=clock)
    manager.schedule_recurring_task("nightly", workers.record, "record", ["n"], "* * * * *")
    clock.advance(60)
    drain(manager)
    (task,), _ = manager.list_tasks()
    manager.stop()

    fire = only(telemetry.spans.of_kind(SpanKind.PRODUCER))
    assert fire.name == "fire nightly"
    assert fire.attributes is not None
    assert fire.attributes["burro.recurring.name"] == "nightly"
    assert fire.attributes["burro.recurring.fire_at"] == task.meta["fire_at"]
    assert fire.attributes["messaging.message.id"] == task.id
    process = only(telemetry.spans.of_kind(SpanKind.CONSUMER))
    assert parent_id(process) == fire.context.span_id


def test_cleanup_runs_are_spans(
    start_manager: Factory, clock: ManualClock, telemetry: Telemetry
) -> None:
    manager = start_manager(
        clock=clock, cleanup={"interval_seconds": 60, "retention_days_completed": 1}
    )
    manager.enqueue_task(workers.add, args=[1, 1])
    drain(manager)
    clock.advance(2 * 86_400)  # the CleanupActor's timer fires: it deletes the job
    telemetry.spans.wait_for(lambda spans: any(span.name == "burro cleanup" for span in spans))
    assert manager.cleanup_old_tasks() == 0  # and one run on demand

    runs = [span for span in telemetry.spans.get_finished_spans() if span.name == "burro cleanup"]
    assert [(span.attributes or {}).get("burro.cleanup.removed") for span in runs] == [1, 0]
    assert all(span.kind is SpanKind.INTERNAL for span in runs)
