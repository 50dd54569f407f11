"""Scenario 8: what OpenTelemetry instrumentation costs per job.

No-op jobs end to end (``durability="process"``, concurrency 4), each run in a fresh
process: once with only the OpenTelemetry API (its no-op providers), once with the
SDK's ``TracerProvider`` and ``MeterProvider`` installed as the global providers (and
handed to ``burro.start`` if it takes them). Spans are counted by a span processor,
metrics read by an in-memory reader, so no exporter cost is included. When burro
records neither, the overhead is reported as n/a.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import burro
from benchmarks._measure import Stats, run_child, scratch
from benchmarks._plan import Scenario, Settings
from benchmarks._systems import burro_system
from benchmarks._table import Row
from benchmarks._workloads import Measure, noop_throughput, side_by_side

__all__ = ["SCENARIO", "probe"]

_SCENARIO = "8 instrumentation"
_HOOKS = ("tracer_provider", "meter_provider")


class _SdkProbe:
    """The SDK's providers, installed globally, with counters of what they received."""

    def __init__(self) -> None:
        from opentelemetry import metrics, trace
        from opentelemetry.sdk.metrics import MeterProvider
        from opentelemetry.sdk.metrics.export import InMemoryMetricReader
        from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider

        class Counting(SpanProcessor):
            ended = 0

            def on_end(self, span: ReadableSpan) -> None:
                Counting.ended += 1

        self._spans = Counting
        self._reader = InMemoryMetricReader()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(Counting())
        self.meter_provider = MeterProvider(metric_readers=[self._reader])
        trace.set_tracer_provider(self.tracer_provider)
        metrics.set_meter_provider(self.meter_provider)

    def hooks(self) -> dict[str, Any]:
        """The providers as ``burro.start`` options, for the hooks it has."""
        accepted = set(inspect.signature(burro.start).parameters)
        accepted |= {field.name for field in dataclasses.fields(burro.Config)}
        providers = {"tracer_provider": self.tracer_provider, "meter_provider": self.meter_provider}
        return {name: providers[name] for name in _HOOKS if name in accepted}

    def recorded(self) -> tuple[int, int]:
        """Spans ended and metrics collected so far."""
        data = self._reader.get_metrics_data()
        resources = [] if data is None else data.resource_metrics
        scopes = [scope for resource in resources for scope in resource.scope_metrics]
        return self._spans.ended, sum(len(scope.metrics) for scope in scopes)


def probe(sdk: bool, jobs: int, timeout: float) -> dict[str, float]:
    """In a fresh process: µs per job, and what the SDK (if installed) recorded."""
    sdk_probe = _SdkProbe() if sdk else None
    options = sdk_probe.hooks() if sdk_probe else {}
    with scratch("otel") as directory, burro_system(directory, "process", 4, **options) as system:
        rate = noop_throughput(system, jobs, timeout)
    spans, metrics = sdk_probe.recorded() if sdk_probe else (0, 0)
    return {"us": 1e6 / rate, "spans": spans / jobs, "metrics": metrics}


def _measure(sdk: bool, settings: Settings) -> Measure:
    return lambda: run_child(
        "benchmarks.instrumentation:probe",
        sdk=sdk,
        jobs=settings.otel_jobs,
        timeout=settings.timeout,
    )


def overhead(plain: Stats, with_sdk: Stats) -> Stats:
    """Extra µs per job with the SDK, repeat by repeat."""
    return Stats.of([b - a for a, b in zip(plain.values, with_sdk.values, strict=True)])


def run(settings: Settings) -> list[Row]:
    """burro alone: Huey has no OpenTelemetry instrumentation to compare with."""
    stats = side_by_side(
        f"instrumentation ({settings.otel_jobs} jobs)",
        settings.repeats,
        {"no SDK": _measure(False, settings), "SDK": _measure(True, settings)},
    )
    plain, with_sdk = stats["no SDK"], stats["SDK"]
    instrumented = with_sdk["spans"].max > 0 or with_sdk["metrics"].max > 0
    case = "process, concurrency 4, no-op jobs"
    note = (
        f"{with_sdk['spans'].median:.1f} spans/job, {with_sdk['metrics'].median:.0f} metrics"
        if instrumented
        else "n/a: burro records no OpenTelemetry spans or metrics yet"
    )
    return [
        Row(_SCENARIO, case, "cost per job, API only", "µs", plain["us"], higher_is_better=False),
        Row(
            _SCENARIO,
            case,
            "cost per job, SDK installed",
            "µs",
            with_sdk["us"],
            higher_is_better=False,
        ),
        Row(
            _SCENARIO,
            case,
            "instrumentation overhead per job",
            "µs",
            overhead(plain["us"], with_sdk["us"]) if instrumented else None,
            higher_is_better=False,
            note=note,
        ),
    ]


SCENARIO = Scenario("instrumentation", "per-job cost with and without the OTel SDK", run)
