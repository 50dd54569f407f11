"""Job stores behind one protocol: ``lmdb`` (default, persistent), ``memory``, ``noop``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from burro.storage.base import (
    Cancel,
    CancelOutcome,
    Complete,
    ErrorEntry,
    Fail,
    Inserted,
    Job,
    JobFilter,
    NewJob,
    RecurringRecord,
    RuntimeInfo,
    Settlement,
    Storage,
)

__all__ = [
    "Cancel",
    "CancelOutcome",
    "Complete",
    "ErrorEntry",
    "Fail",
    "Inserted",
    "Job",
    "JobFilter",
    "NewJob",
    "RecurringRecord",
    "RuntimeInfo",
    "Settlement",
    "Storage",
    "open_storage",
]


def open_storage(
    backend: Literal["lmdb", "memory", "noop"],
    data_dir: str | Path,
    durability: Literal["fsync", "process"] = "fsync",
) -> Storage:
    """Open the named backend (``data_dir`` and ``durability`` matter to lmdb only)."""
    if backend == "lmdb":
        from burro.storage.lmdb import LmdbStorage

        return LmdbStorage(Path(data_dir), durability=durability)
    if backend == "memory":
        from burro.storage.memory import MemoryStorage

        return MemoryStorage()
    if backend == "noop":
        from burro.storage.noop import NoopStorage

        return NoopStorage()
    from burro.errors import ConfigError

    raise ConfigError(f"unknown backend {backend!r}: expected 'lmdb', 'memory' or 'noop'")
