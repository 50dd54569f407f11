"""A module the allowed-modules tests allow: its own functions run, imported ones do not."""

from __future__ import annotations

from typing import Any

from tests.integration.runtime import workers
from tests.integration.runtime.workers import Recorder, not_marked

__all__ = ["Recorder", "not_marked", "tidy"]


def tidy(value: Any) -> None:
    """Not marked, but defined here: runnable when this module is allowed."""
    workers.recorder.record("tidy", value)
