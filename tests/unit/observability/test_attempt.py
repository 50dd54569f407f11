"""An attempt without an SDK: the no-op span's short cuts still report everything else."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from opentelemetry import context as otel_context

from burro.actors._execute import Outcome
from burro.observability.events import EventBus
from burro.observability.reporter import Attempt, LifecycleReporter
from burro.observability.tracing import UNTRACED
from burro.states import TaskState
from burro.storage.base import Job
from tests.unit.observability.test_tracing import claimed

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def job(state: TaskState) -> Job:
    """The tracing suite's claimed job, in ``state``."""
    return claimed({})._replace(state=state)


def test_an_untraced_attempt_reports_its_events_and_leaves_no_context_behind() -> None:
    events = EventBus()
    seen: list[tuple[str, Any]] = []
    events.subscribe("*", lambda name, payload: seen.append((name, payload.get("state"))))
    reporter = LifecycleReporter(events)  # the global tracer provider: none is set in tests
    before = otel_context.get_current()
    outcomes = [
        (TaskState.COMPLETED, Outcome("completed")),
        (TaskState.DISCARDED, Outcome("failed", error="ValueError: x", error_type="ValueError")),
    ]
    for state, outcome in outcomes:
        with Attempt(reporter, job(TaskState.RUNNING)) as attempt:
            assert attempt._process is UNTRACED
            attempt.executed()
            attempt.settled(job(state), outcome)
    events.close()

    assert otel_context.get_current() == before
    assert [name for name, _ in seen] == [
        "job.started",
        "job.completed",
        "job.started",
        "job.failed",
        "job.discarded",
    ]


def test_a_failure_alone_is_emitted_to_those_who_want_only_failures() -> None:
    events = EventBus()
    seen: list[str] = []
    events.subscribe("job.failed", lambda name, payload: seen.append(payload["error_type"]))
    reporter = LifecycleReporter(events)
    failed = Outcome("failed", error="ValueError: x", error_type="ValueError")
    for state, outcome in [
        (TaskState.COMPLETED, Outcome("completed")),
        (TaskState.RETRYABLE, failed),
    ]:
        with Attempt(reporter, job(TaskState.RUNNING)) as attempt:
            attempt.executed()
            attempt.settled(job(state), outcome)
    events.close()

    assert seen == ["ValueError"]
