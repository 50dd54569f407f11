"""Printing the spans of a run with the SDK's console exporter (``burro demo --trace``).

Needs ``opentelemetry-sdk`` (burro itself depends on the API only). Spans are kept in
memory during the run and printed when it ends, one trace after another, each span on
one line, indented under its parent, so a job reads as enqueue → attempts → outcome.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import IO

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

__all__ = ["printed_spans", "span_line", "trace_order"]


@contextmanager
def printed_spans(out: IO[str]) -> Iterator[TracerProvider]:
    """A tracer provider for a run; its spans are printed to ``out`` when the block ends."""
    collected = InMemorySpanExporter()
    provider = TracerProvider(shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(collected))
    try:
        yield provider
    finally:
        spans = collected.get_finished_spans()
        provider.shutdown()
        _print(spans, out)


def trace_order(spans: Sequence[ReadableSpan]) -> list[tuple[int, int]]:
    """``(span id, depth)`` pairs: traces by start, each span after its parent, by start."""
    known = {span.context.span_id for span in spans}
    children: defaultdict[int | None, list[ReadableSpan]] = defaultdict(list)
    for span in sorted(spans, key=lambda span: span.start_time or 0):
        parent = span.parent.span_id if span.parent is not None else None
        children[parent if parent in known else None].append(span)
    ordered: list[tuple[int, int]] = []

    def visit(span: ReadableSpan, depth: int) -> None:
        ordered.append((span.context.span_id, depth))
        for child in children[span.context.span_id]:
            visit(child, depth + 1)

    for root in children[None]:
        visit(root, 0)
    return ordered


def span_line(span: ReadableSpan, depth: int = 0) -> str:
    """One span as one line: trace, name (indented by depth), kind, what it did, time."""
    attributes = span.attributes or {}
    name = "  " * depth + span.name
    parts = [f"{span.context.trace_id:032x}"[:8], f"{name:<26}", f"{span.kind.name:<8}"]
    for key, label in (
        ("burro.job.worker", ""),
        ("messaging.message.id", "task"),
        ("burro.job.attempt", "attempt"),
        ("burro.job.state", "→"),
        ("burro.cleanup.removed", "removed"),
    ):
        if key in attributes:
            parts.append(f"{label} {attributes[key]!s}".strip())
    if span.status.status_code is StatusCode.ERROR:
        parts.append(f"ERROR {span.status.description}")
    if span.start_time is not None and span.end_time is not None:
        parts.append(f"{(span.end_time - span.start_time) / 1e6:.1f} ms")
    return "  ".join(parts) + "\n"


def _print(spans: Sequence[ReadableSpan], out: IO[str]) -> None:
    by_id = {span.context.span_id: span for span in spans}
    ordered = trace_order(spans)
    depth = dict(ordered)
    exporter = ConsoleSpanExporter(
        out=out, formatter=lambda span: span_line(span, depth[span.context.span_id])
    )
    exporter.export([by_id[span_id] for span_id, _ in ordered])
