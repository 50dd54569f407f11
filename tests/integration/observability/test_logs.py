"""Logs: levels as DESIGN.md 4 says, structured fields, no args, redaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

import pytest
from opentelemetry.trace import SpanKind

from burro.testing import ManualClock, drain
from tests.integration.observability.conftest import Factory, Telemetry
from tests.integration.runtime import workers

SECRET = "ada@example.com"
CARD = "4111111111111111"


def job_records(caplog: pytest.LogCaptureFixture, task_id: str) -> list[tuple[int, str]]:
    return [
        (record.levelno, record.getMessage().split()[0])
        for record in caplog.records
        if getattr(record, "task_id", None) == task_id
    ]


def shows(record: logging.LogRecord, text: str) -> bool:
    return text in record.getMessage() or any(text in str(v) for v in vars(record).values())


def test_each_transition_is_logged_at_its_level_with_its_fields(
    start_manager: Factory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="burro")
    manager = start_manager(clock=clock)
    manager.pause_queue("default")  # every enqueue is logged before anything starts
    done = manager.enqueue_task(workers.record, args=[SECRET])
    flaky = manager.enqueue_task(workers.fails_then_succeeds, args=["f", 1], retry_delay_seconds=10)
    dead = manager.enqueue_task(workers.always_fails, args=["d"], max_attempts=1)
    manager.resume_queue("default")
    drain(manager)
    clock.advance(60)
    drain(manager)
    manager.stop()

    info, warning, error = logging.INFO, logging.WARNING, logging.ERROR
    assert job_records(caplog, done) == [(info, "enqueued"), (info, "started"), (info, "completed")]
    assert job_records(caplog, flaky) == [
        (info, "enqueued"),
        (info, "started"),
        (warning, "failed"),
        (info, "started"),
        (info, "completed"),
    ]
    assert job_records(caplog, dead) == [
        (info, "enqueued"),
        (info, "started"),
        (error, "discarded"),
    ]
    (retry,) = [r for r in caplog.records if r.levelno == warning and r.name == "burro.jobs"]
    assert retry.name == "burro.jobs"
    assert {"task_id": flaky, "queue": "default", "attempt": 1}.items() <= vars(retry).items()
    assert vars(retry)["worker"] == f"{workers.__name__}.fails_then_succeeds"
    assert "ConnectionError: flaky f" in retry.getMessage()
    assert not [r for r in caplog.records if r.name.startswith("burro") and shows(r, SECRET)]


def test_args_are_logged_only_at_debug_when_asked_and_redacted(
    start_manager: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="burro")
    manager = start_manager(log_args=True, redact_patterns=[r"[\w.]+@[\w.]+"])
    task_id = manager.enqueue_task(workers.record, args=[[SECRET, "plan-b"]])
    drain(manager)
    manager.stop()

    (args_record,) = [r for r in caplog.records if hasattr(r, "job_args")]
    assert args_record.levelno == logging.DEBUG
    assert args_record.getMessage() == f"args of {task_id}: [['[redacted]', 'plan-b']]"
    assert vars(args_record)["job_args"] == "[['[redacted]', 'plan-b']]"
    assert not [r for r in caplog.records if shows(r, SECRET)]


def test_error_messages_are_redacted_in_logs_events_and_spans(
    start_manager: Factory, caplog: pytest.LogCaptureFixture, telemetry: Telemetry
) -> None:
    caplog.set_level(logging.INFO, logger="burro")
    manager = start_manager(redact_patterns=[r"\b\d{13,19}\b"])
    discarded = threading.Event()
    payloads: list[Mapping[str, Any]] = []

    def on_discarded(_event: str, payload: Mapping[str, Any]) -> None:
        payloads.append(payload)
        discarded.set()

    manager.events.subscribe("job.discarded", on_discarded)
    manager.enqueue_task(workers.always_fails, args=[CARD], max_attempts=1)
    assert discarded.wait(10)
    manager.stop()

    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage().endswith("ValueError: hopeless [redacted]")
    assert payloads[0]["error"] == "ValueError: hopeless [redacted]"
    (span,) = telemetry.spans.of_kind(SpanKind.CONSUMER)
    assert span.status.description == "ValueError: hopeless [redacted]"
    assert all(CARD not in str(value) for value in span.events[0].attributes.values())


def test_error_messages_can_be_hidden_entirely(
    start_manager: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="burro")
    manager = start_manager(redact_error_messages=True)
    task_id = manager.enqueue_task(workers.always_fails, args=[CARD], max_attempts=1)
    drain(manager)
    assert CARD in (manager.get_task_status(task_id).last_error or "")  # the store keeps it
    manager.stop()

    (record,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert record.getMessage() == f"discarded {task_id} after 1 attempt(s): ValueError"


def test_a_queue_at_capacity_with_a_backlog_is_a_warning(
    start_manager: Factory, caplog: pytest.LogCaptureFixture
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 1}})
    manager.enqueue_many(
        [{"worker": workers.add, "function": "add", "args": [n, n]} for n in range(3)]
    )
    drain(manager)
    manager.stop()

    (record,) = [
        r for r in caplog.records if r.name == "burro.queue" and r.levelno == logging.WARNING
    ]
    assert record.getMessage() == "queue default is at capacity: 1/1 workers busy, 2 job(s) waiting"
    assert vars(record)["queue"] == "default"


def test_cleanup_and_recurring_fires_are_logged(
    start_manager: Factory, clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="burro")
    manager = start_manager(clock=clock, cleanup={"interval_seconds": 10**8})
    manager.schedule_recurring_task("hourly", workers.record, "record", ["h"], "0 * * * *")
    clock.advance(3600)
    drain(manager)
    clock.advance(30 * 86_400)
    assert manager.cleanup_old_tasks() == 1
    manager.stop()

    messages = {(r.name, r.levelno, r.getMessage().split(" for ")[0]) for r in caplog.records}
    assert ("burro.scheduler", logging.INFO, "recurring hourly fired") in messages
    assert ("burro.cleanup", logging.INFO, "cleanup removed 1 finished job(s)") in messages
