"""The facade: BackgroundTaskManager, the worker decorator and the result types."""

from __future__ import annotations

from burro.facade._worker import worker
from burro.facade.context import TaskContext, current_task
from burro.facade.manager import BackgroundTaskManager, connect, start
from burro.facade.results import Failure, Pagination, RecurringTask, TaskStatus

__all__ = [
    "BackgroundTaskManager",
    "Failure",
    "Pagination",
    "RecurringTask",
    "TaskContext",
    "TaskStatus",
    "connect",
    "current_task",
    "start",
    "worker",
]
