"""An event forwarder: lifecycle events sent on to another system as CloudEvents.

Each event becomes a CloudEvents 1.0 envelope (``type`` ``io.burro.job.completed``…)
handed to a ``send`` callable: a webhook (:func:`webhook`), a message broker's
producer, an analytics client. A failing ``send`` is logged by burro and never affects
the jobs.

    python -m examples.integrations.event_forwarder --data-dir /tmp/forward
"""

from __future__ import annotations

import argparse
import json
import urllib.request
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import burro
from examples.integrations.jobs import run_sample

Envelope = dict[str, Any]
#: What is worth telling other systems about by default: outcomes, not every step.
OUTCOMES = ("job.completed", "job.discarded", "job.cancelled")


class EventForwarder:
    """Forwards lifecycle events to ``send`` as CloudEvents envelopes."""

    def __init__(
        self,
        send: Callable[[Envelope], None],
        *,
        source: str = "urn:burro",
        events: Iterable[str] = OUTCOMES,
    ) -> None:
        self._send = send
        self._source = source
        self._events = tuple(events)

    def attach(self, manager: burro.BackgroundTaskManager) -> None:
        """Start forwarding ``manager``'s events."""
        for event in self._events:
            manager.events.subscribe(event, self)

    def detach(self, manager: burro.BackgroundTaskManager) -> None:
        """Stop forwarding."""
        for event in self._events:
            manager.events.unsubscribe(event, self)

    def __call__(self, event: str, payload: Mapping[str, Any]) -> None:
        """Wrap one event and send it."""
        self._send(
            {
                "specversion": "1.0",
                "id": uuid.uuid4().hex,
                "source": self._source,
                "type": f"io.burro.{event}",
                "subject": payload.get("task_id"),
                "time": datetime.now(UTC).isoformat(),
                "datacontenttype": "application/json",
                "data": dict(payload),
            }
        )


def webhook(url: str, timeout: float = 5.0) -> Callable[[Envelope], None]:
    """A ``send`` that POSTs each envelope to ``url`` (structured CloudEvents JSON)."""

    def send(envelope: Envelope) -> None:
        body = json.dumps(envelope, default=str).encode()
        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "application/cloudevents+json"}
        )
        with urllib.request.urlopen(request, timeout=timeout):
            pass

    return send


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sample jobs, forwarding their outcomes to stdout (or a webhook)."""
    parser = argparse.ArgumentParser(description="burro event forwarder (CloudEvents)")
    parser.add_argument("--data-dir", type=Path, default=Path("./burro_data"))
    parser.add_argument("--webhook", help="POST the events to this URL instead of printing")
    args = parser.parse_args(argv)
    send = webhook(args.webhook) if args.webhook else lambda e: print(json.dumps(e, default=str))
    forwarder = EventForwarder(send)
    with burro.start(data_dir=args.data_dir) as manager:
        forwarder.attach(manager)
        run_sample(manager)


if __name__ == "__main__":
    main()
