"""Printing a run's spans: one trace after another, children under their parent."""

from __future__ import annotations

import io

from opentelemetry.trace import SpanKind, Status, StatusCode

from burro.observability.console import printed_spans


def test_spans_are_printed_by_trace_each_under_its_parent() -> None:
    out = io.StringIO()
    with printed_spans(out) as provider:
        tracer = provider.get_tracer("test")
        with (
            tracer.start_as_current_span("send emails", kind=SpanKind.PRODUCER),
            tracer.start_as_current_span("process emails", kind=SpanKind.CONSUMER) as span,
        ):
            span.set_attributes({"burro.job.attempt": 1, "messaging.message.id": "7"})
            span.set_status(Status(StatusCode.ERROR, "ConnectionError: down"))
        tracer.start_span("burro cleanup").end()
        assert out.getvalue() == ""  # nothing is printed before the run ends

    lines = out.getvalue().splitlines()
    assert [line.split()[1:3] for line in lines] == [
        ["send", "emails"],
        ["process", "emails"],
        ["burro", "cleanup"],
    ]
    send, process, cleanup = lines
    assert send[:8] == process[:8] != cleanup[:8]  # the trace id
    assert process.index("process") > send.index("send")  # indented under its parent
    assert "task 7  attempt 1" in process
    assert "ERROR ConnectionError: down" in process
