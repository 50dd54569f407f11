"""Metrics: burro's OpenTelemetry instruments, exported by the application's SDK.

burro records its seven instruments (``burro.jobs.enqueued``, ``burro.jobs.processed``,
``burro.jobs.execution.duration``, ``burro.jobs.wait.duration``, ``burro.queue.size``,
``burro.workers.active``, ``burro.workers.available``) on the OpenTelemetry API. The
application chooses the SDK and exporter: here the console, in production OTLP
(``opentelemetry-exporter-otlp``) or Prometheus (``opentelemetry-exporter-prometheus``).
Pass the provider to ``burro.start(meter_provider=...)``, or install it globally with
``opentelemetry.metrics.set_meter_provider`` before starting burro.

    python -m examples.integrations.otel_metrics --data-dir /tmp/metrics
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import (
    ConsoleMetricExporter,
    MetricReader,
    PeriodicExportingMetricReader,
)

import burro
from examples.integrations.jobs import run_sample


def meter_provider(reader: MetricReader | None = None) -> MeterProvider:
    """An SDK meter provider exporting to ``reader`` (the console every 10 s by default)."""
    reader = reader or PeriodicExportingMetricReader(
        ConsoleMetricExporter(), export_interval_millis=10_000
    )
    return MeterProvider(metric_readers=[reader])


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sample jobs and print burro's metrics once they have finished."""
    parser = argparse.ArgumentParser(description="burro metrics with the OpenTelemetry SDK")
    parser.add_argument("--data-dir", type=Path, default=Path("./burro_data"))
    args = parser.parse_args(argv)
    provider = meter_provider()
    with burro.start(data_dir=args.data_dir, meter_provider=provider) as manager:
        run_sample(manager)
        provider.force_flush()  # export now, while the gauges still read a live runtime
    provider.shutdown()


if __name__ == "__main__":
    main()
