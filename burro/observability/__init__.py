"""burro.observability: OpenTelemetry traces and metrics, logs, and lifecycle events.

* :mod:`~burro.observability.tracing`: a PRODUCER span per enqueue, a CONSUMER span per
  attempt, linked through the ``traceparent`` in the job's meta.
* :mod:`~burro.observability.metrics`: the seven ``burro.*`` instruments.
* :mod:`~burro.observability.logs`: structured lifecycle records and their redaction.
* :mod:`~burro.observability.events`: ``manager.events.subscribe(name, callback)``.
* :mod:`~burro.observability.reporter`: the one place the runtime reports through.

burro depends on the OpenTelemetry API only. An application that wants the data
installs the SDK and an exporter, then passes its providers to
``burro.start(tracer_provider=..., meter_provider=...)`` or sets them globally.
"""

from __future__ import annotations

from burro.observability.events import EVENT_NAMES, EventBus, EventCallback
from burro.observability.logs import Redactor
from burro.observability.metrics import METRIC_NAMES, JobMetrics
from burro.observability.reporter import LifecycleReporter
from burro.observability.tracing import JobTracer

__all__ = [
    "EVENT_NAMES",
    "METRIC_NAMES",
    "EventBus",
    "EventCallback",
    "JobMetrics",
    "JobTracer",
    "LifecycleReporter",
    "Redactor",
]
