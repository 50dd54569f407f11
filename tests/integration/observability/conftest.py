"""Fixtures: runtimes reporting to in-memory OpenTelemetry exporters, stopped after each test.

Providers are passed to ``burro.start`` explicitly, so each test has its own and the
global ones (settable once per process) stay untouched.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

import burro
from burro.testing import ManualClock
from tests.integration.runtime import workers
from tests.integration.runtime.conftest import managers

Factory = Callable[..., burro.BackgroundTaskManager]
Attributes = frozenset[tuple[str, Any]]


class SpanRecorder(InMemorySpanExporter):
    """An in-memory span exporter that tests can wait on."""

    def __init__(self) -> None:
        super().__init__()
        self._exported = threading.Condition()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = super().export(spans)
        with self._exported:
            self._exported.notify_all()
        return result

    def wait_for(self, predicate: Callable[[list[ReadableSpan]], bool]) -> list[ReadableSpan]:
        with self._exported:
            assert self._exported.wait_for(
                lambda: predicate(list(self.get_finished_spans())), timeout=10
            ), "spans not exported in time"
        return list(self.get_finished_spans())

    def of_kind(self, kind: SpanKind) -> list[ReadableSpan]:
        return [span for span in self.get_finished_spans() if span.kind is kind]


@dataclass
class Telemetry:
    """One test's OpenTelemetry SDK: providers and what they recorded."""

    spans: SpanRecorder
    tracer_provider: TracerProvider
    metric_reader: InMemoryMetricReader
    meter_provider: MeterProvider

    def metrics(self) -> dict[str, dict[Attributes, Any]]:
        """Collect now: metric name → attribute set → data point."""
        collected: dict[str, dict[Attributes, Any]] = {}
        data = self.metric_reader.get_metrics_data()
        for resource in data.resource_metrics if data else ():
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    points = collected.setdefault(metric.name, {})
                    for point in metric.data.data_points:
                        points[frozenset(point.attributes.items())] = point
        return collected


def attrs(**attributes: Any) -> Attributes:
    """An attribute set, as :meth:`Telemetry.metrics` keys them."""
    return frozenset(attributes.items())


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    spans = SpanRecorder()
    tracer_provider = TracerProvider(shutdown_on_exit=False)
    tracer_provider.add_span_processor(SimpleSpanProcessor(spans))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield Telemetry(spans, tracer_provider, reader, meter_provider)
    tracer_provider.shutdown()
    meter_provider.shutdown()


@pytest.fixture
def recorder() -> workers.Recorder:
    return workers.reset()


@pytest.fixture
def start_manager(
    tmp_path: Path, recorder: workers.Recorder, telemetry: Telemetry
) -> Iterator[Factory]:
    """Start runtimes reporting to ``telemetry`` (LMDB in tmp_path); all stopped afterwards."""
    yield from managers(
        tmp_path,
        recorder,
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
    )


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
