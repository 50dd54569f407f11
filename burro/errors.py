"""The exceptions burro raises; every one is a :class:`BurroError`."""

from __future__ import annotations

__all__ = [
    "BurroError",
    "ConfigError",
    "InvalidTaskError",
    "RuntimeNotRunning",
    "StorageError",
    "TaskCancelled",
    "TaskNotFound",
]


class BurroError(Exception):
    """Base class of every error burro raises on purpose."""


class InvalidTaskError(BurroError, ValueError):
    """A task, its options or its schedule was refused before anything was stored."""


class TaskNotFound(BurroError, LookupError):
    """No task (or recurring task) has the given id or name."""


class ConfigError(BurroError, ValueError):
    """A configuration key, value or file is invalid."""


class StorageError(BurroError):
    """The store is unavailable, unwritable, full or corrupt; nothing was half-written."""


class RuntimeNotRunning(BurroError, RuntimeError):
    """The runtime was stopped (or failed) and accepts no more calls."""


class TaskCancelled(BurroError):
    """Raised inside a worker by ``current_task().check_cancelled()`` once cancel is asked."""
