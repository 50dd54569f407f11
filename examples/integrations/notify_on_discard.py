"""A notification hook: tell a human when a job lands in the dead-letter queue.

Subscribes to ``job.discarded`` only, and calls ``notify(subject, body)``: an e-mail
(:func:`smtp_notifier`), a chat message, a pager. The body names the task and its error
(as burro's redaction settings show it) and how to replay it.

    python -m examples.integrations.notify_on_discard --data-dir /tmp/notify
"""

from __future__ import annotations

import argparse
import smtplib
from collections.abc import Callable, Mapping, Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import burro
from examples.integrations.jobs import run_sample

Notify = Callable[[str, str], None]


class DiscardNotifier:
    """Calls ``notify(subject, body)`` for every discarded job."""

    def __init__(self, notify: Notify) -> None:
        self._notify = notify

    def attach(self, manager: burro.BackgroundTaskManager) -> None:
        """Start watching ``manager``'s dead-letter queue."""
        manager.events.subscribe("job.discarded", self)

    def detach(self, manager: burro.BackgroundTaskManager) -> None:
        """Stop watching."""
        manager.events.unsubscribe("job.discarded", self)

    def __call__(self, _event: str, payload: Mapping[str, Any]) -> None:
        """Turn one ``job.discarded`` event into a message."""
        task_id = payload["task_id"]
        subject = f"[burro] {payload['worker']} gave up on task {task_id}"
        body = (
            f"Task {task_id} on queue {payload['queue']} was discarded after "
            f"{payload['attempt']} attempt(s).\n"
            f"Last error: {payload.get('error')}\n\n"
            f"Inspect it with `burro status {task_id}`; replay it with `burro retry {task_id}`.\n"
        )
        self._notify(subject, body)


def smtp_notifier(host: str, sender: str, recipients: Sequence[str]) -> Notify:
    """A ``notify`` that e-mails ``recipients`` through the SMTP server at ``host``."""

    def notify(subject: str, body: str) -> None:
        message = EmailMessage()
        message["Subject"], message["From"], message["To"] = subject, sender, ", ".join(recipients)
        message.set_content(body)
        with smtplib.SMTP(host, timeout=10) as smtp:
            smtp.send_message(message)

    return notify


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sample jobs; the failing charge is reported on stdout."""
    parser = argparse.ArgumentParser(description="burro notification on job.discarded")
    parser.add_argument("--data-dir", type=Path, default=Path("./burro_data"))
    args = parser.parse_args(argv)
    notifier = DiscardNotifier(lambda subject, body: print(f"{subject}\n\n{body}"))
    with burro.start(data_dir=args.data_dir) as manager:
        notifier.attach(manager)
        run_sample(manager)


if __name__ == "__main__":
    main()
