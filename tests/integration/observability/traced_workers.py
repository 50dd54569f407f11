"""Workers that make spans of their own, to show where they sit in burro's trace."""

from __future__ import annotations

from opentelemetry import trace

import burro

#: The provider the workers' own spans go to (a test sets it; None is the global one).
tracer_provider: trace.TracerProvider | None = None


@burro.worker
def charge(order_id: str) -> str:
    """Does its work inside a span of its own, as an instrumented client library would."""
    tracer = trace.get_tracer("shop", tracer_provider=tracer_provider)
    with tracer.start_as_current_span("charge card") as span:
        span.set_attribute("order.id", order_id)
    return "charged"
