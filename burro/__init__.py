"""burro: an embedded, supervised background-task runtime."""

from __future__ import annotations

from burro.errors import (
    BurroError,
    ConfigError,
    InvalidTaskError,
    RuntimeNotRunning,
    StorageError,
    TaskCancelled,
    TaskNotFound,
)
from burro.states import TaskState

__version__ = "0.1.0"

__all__ = [
    "BurroError",
    "ConfigError",
    "InvalidTaskError",
    "RuntimeNotRunning",
    "StorageError",
    "TaskCancelled",
    "TaskNotFound",
    "TaskState",
    "__version__",
]
