"""A module the allowed-modules tests allow: its own functions run, imported ones do not."""

from __future__ import annotations

from typing import Any

import burro
from tests.integration.runtime import workers
from tests.integration.runtime.workers import Recorder, not_marked

__all__ = ["MarkedTidier", "Recorder", "Sweeper", "Tidier", "not_marked", "tidy"]


def tidy(value: Any) -> None:
    """Not marked, but defined here: runnable when this module is allowed."""
    workers.recorder.record("tidy", value)


class Sweeper:
    """Not marked, but defined here: its methods run, in its subclasses too."""

    def sweep(self, value: Any) -> None:
        workers.recorder.record("sweep", value)


class Tidier(Sweeper, Recorder):
    """Defined here: runs what it defines or inherits from here, not what ``Recorder`` has."""

    def tidy(self, value: Any) -> None:
        workers.recorder.record("Tidier.tidy", value)


@burro.worker
class MarkedTidier(Recorder):
    """Marked: every public method runs, inherited ones included."""
