"""``burro.current_task()``: what a running job can know about itself."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass

from burro.errors import TaskCancelled

__all__ = ["TaskContext", "current_task"]

_local = threading.local()


@dataclass(frozen=True, slots=True)
class TaskContext:
    """The job running in this thread: its id, attempt, and whether cancel was asked."""

    id: str
    attempt: int
    queue: str
    _cancel_requested: Callable[[], bool]

    @property
    def cancelled(self) -> bool:
        """True once ``cancel_task`` was called for this job (in any process)."""
        return self._cancel_requested()

    def check_cancelled(self) -> None:
        """Raise :class:`burro.errors.TaskCancelled` if cancel was asked; call it often."""
        if self._cancel_requested():
            raise TaskCancelled(f"task {self.id} was cancelled")


def current_task() -> TaskContext | None:
    """The context of the job running in this thread, or None outside a job."""
    return getattr(_local, "context", None)


#: Set (or clear) the job context of the calling thread: ``bind_task(context)``. A
#: partial of the builtin setattr, so binding costs no Python call (twice per attempt).
bind_task: Callable[[TaskContext | None], None] = functools.partial(setattr, _local, "context")
