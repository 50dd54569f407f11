"""Lifecycle logs, and the redaction of what burro shows of a job outside its store.

Records go to the ``burro`` logger's children (``burro.jobs``, ``burro.queue``,
``burro.scheduler``, ``burro.cleanup``) with structured fields in ``extra``:
``task_id``, ``queue``, ``worker``, ``attempt``. A job's args may hold personal data:
they are never logged at INFO or above, and at DEBUG only when ``log_args`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from burro.storage.base import Job

__all__ = ["REDACTED", "ErrorReport", "Redactor", "job_fields", "worker_name"]

#: What a redacted part of a message becomes.
REDACTED = "[redacted]"


def worker_name(worker: str, function: str) -> str:
    """The name a job's worker goes by in logs, events and metrics: ``module.function``."""
    return f"{worker}.{function}"


def job_fields(job: Job) -> dict[str, Any]:
    """The structured fields of a job's records and events (never its args)."""
    return {
        "task_id": job.id,
        "queue": job.queue,
        "worker": worker_name(job.worker, job.function),
        "attempt": job.attempts,
    }


class ErrorReport(NamedTuple):
    """A failed attempt's error as it may be shown: type, message, stack trace."""

    type: str
    message: str
    stacktrace: str

    @property
    def summary(self) -> str:
        """``Type: message``, or the type alone when there is no message to show."""
        return f"{self.type}: {self.message}" if self.message else self.type


class Redactor:
    """Masks what may hold personal data in logs, lifecycle events and spans.

    Args:
        patterns: regular expressions; every match is replaced by ``[redacted]``.
        hide_error_messages: show only the type of a failed attempt's error, never its
            message or stack trace (exception messages often quote the args).
    """

    def __init__(self, patterns: Iterable[str] = (), *, hide_error_messages: bool = False) -> None:
        joined = "|".join(f"(?:{pattern})" for pattern in patterns)
        self._pattern = re.compile(joined) if joined else None
        self._hide_error_messages = hide_error_messages

    def text(self, text: str) -> str:
        """``text`` with every match of the patterns masked."""
        return text if self._pattern is None else self._pattern.sub(REDACTED, text)

    def error(self, error: str | None, error_type: str | None) -> ErrorReport:
        """The parts of an attempt's stored error (``Type: message`` then a traceback)."""
        kind = error_type or "Error"
        if self._hide_error_messages:
            return ErrorReport(kind, "", "")
        summary, _, stacktrace = (error or "").partition("\n")
        message = summary.removeprefix(f"{kind}:").strip()
        return ErrorReport(kind, self.text(message), self.text(stacktrace))
