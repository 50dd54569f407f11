"""burro: an embedded, supervised background-task runtime.

Start it in your application's ``main``::

    import burro

    @burro.worker(queue="emails", max_attempts=3)
    def send_welcome(user_id: int) -> None: ...

    with burro.start(data_dir="./burro_data") as manager:
        manager.enqueue_task(send_welcome, args=[42])
"""

from __future__ import annotations

# ``burro.testing`` too, so that ``burro.testing.drain(...)`` works after ``import burro``.
from burro import testing
from burro.config import Config
from burro.errors import (
    BurroError,
    ConfigError,
    InvalidTaskError,
    RuntimeNotRunning,
    StorageError,
    TaskCancelled,
    TaskNotFound,
)
from burro.facade import (
    BackgroundTaskManager,
    Failure,
    Pagination,
    RecurringTask,
    TaskContext,
    TaskStatus,
    connect,
    current_task,
    start,
    worker,
)
from burro.states import TaskState

__version__ = "0.1.0"

__all__ = [
    "BackgroundTaskManager",
    "BurroError",
    "Config",
    "ConfigError",
    "Failure",
    "InvalidTaskError",
    "Pagination",
    "RecurringTask",
    "RuntimeNotRunning",
    "StorageError",
    "TaskCancelled",
    "TaskContext",
    "TaskNotFound",
    "TaskState",
    "TaskStatus",
    "__version__",
    "connect",
    "current_task",
    "start",
    "testing",
    "worker",
]
