"""The four integration examples, on a real runtime."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from examples.integrations.audit_log import AuditLog
from examples.integrations.event_forwarder import EventForwarder
from examples.integrations.jobs import run_sample
from examples.integrations.notify_on_discard import DiscardNotifier
from examples.integrations.otel_metrics import meter_provider
from tests.integration.observability.conftest import Factory


def test_audit_log_writes_one_json_line_per_event(tmp_path: Path, start_manager: Factory) -> None:
    manager = start_manager()
    audit = AuditLog(tmp_path / "audit" / "events.jsonl")
    audit.attach(manager)
    greeting, _, charge = run_sample(manager)
    manager.stop()  # delivers every queued event
    audit.detach(manager)

    lines = [json.loads(line) for line in audit.path.read_text().splitlines()]
    by_task = {
        task: [r["event"] for r in lines if r["task_id"] == task] for task in (greeting, charge)
    }
    assert by_task[greeting] == ["job.enqueued", "job.started", "job.completed"]
    assert by_task[charge][-1] == "job.discarded"
    assert by_task[charge].count("job.started") == 2
    assert all({"at", "event", "task_id", "queue", "worker"} <= set(r) for r in lines)


def test_event_forwarder_sends_outcomes_as_cloudevents(start_manager: Factory) -> None:
    manager = start_manager()
    sent: list[dict[str, Any]] = []
    EventForwarder(sent.append, source="urn:shop").attach(manager)
    ids = run_sample(manager)
    manager.stop()

    assert sorted(envelope["type"] for envelope in sent) == [
        "io.burro.job.completed",
        "io.burro.job.completed",
        "io.burro.job.discarded",
    ]
    assert {envelope["subject"] for envelope in sent} == set(ids)
    assert all(e["specversion"] == "1.0" and e["source"] == "urn:shop" for e in sent)


def test_discard_notifier_tells_a_human_once_per_discarded_job(start_manager: Factory) -> None:
    manager = start_manager()
    messages: list[tuple[str, str]] = []
    DiscardNotifier(lambda subject, body: messages.append((subject, body))).attach(manager)
    _, _, charge = run_sample(manager)
    manager.stop()

    ((subject, body),) = messages
    assert subject == f"[burro] examples.integrations.jobs.charge_card gave up on task {charge}"
    assert "after 2 attempt(s)" in body
    assert "RuntimeError: card declined for order order-42" in body
    assert f"burro retry {charge}" in body


def test_metrics_example_exports_burros_instruments(start_manager: Factory) -> None:
    reader = InMemoryMetricReader()
    provider = meter_provider(reader)
    try:
        manager = start_manager(meter_provider=provider)
        run_sample(manager)
        data = reader.get_metrics_data()
        manager.stop()
    finally:
        provider.shutdown()

    assert data is not None
    names = {m.name for r in data.resource_metrics for s in r.scope_metrics for m in s.metrics}
    assert {"burro.jobs.enqueued", "burro.queue.size", "burro.workers.available"} <= names
