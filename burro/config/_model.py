"""The configuration model: immutable, validated dataclasses.

Each field is one key of the ``[burro]`` table. Its type annotation and metadata drive
loading, environment parsing and validation, so a new key is one line here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from burro.clock import MAX_SECONDS
from burro.config._frozen import FrozenMap
from burro.config._tables import as_table, plain_table
from burro.config._validate import (
    above,
    are_patterns,
    at_least,
    checked,
    is_queue_name,
    normalize,
)

__all__ = ["Backend", "CleanupConfig", "Config", "Durability", "QueueConfig", "TraceLinkMode"]

Backend = Literal["lmdb", "memory", "noop"]
Durability = Literal["fsync", "process"]
TraceLinkMode = Literal["child", "link"]

#: The most attempts a job may have: the store keeps the count as an unsigned 64-bit integer.
MAX_ATTEMPTS = 2**64 - 1
#: The most workers one queue may have in one runtime. Each is a thread: far more would
#: exhaust the process before doing more work (jobs that wait on I/O for long are better
#: spread over processes sharing the data directory).
MAX_CONCURRENCY = 1_024


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """How one queue runs (a ``[burro.queues.<name>]`` table).

    Attributes:
        concurrency: Jobs of this queue that one runtime runs at once.
        rate_limit: Jobs per second; reserved, not enforced yet.
    """

    concurrency: int = field(default=10, metadata=checked(at_least(1, MAX_CONCURRENCY)))
    rate_limit: float | None = field(default=None, metadata=checked(above(0)))

    def __post_init__(self) -> None:
        normalize(self, ("burro", "queues"))


@dataclass(frozen=True, slots=True)
class CleanupConfig:
    """Retention of finished tasks (the ``[burro.cleanup]`` table).

    Attributes:
        retention_days_completed: Age after which ``completed`` tasks are deleted.
        retention_days_failed: Age after which ``discarded``/``cancelled`` tasks are deleted.
        interval_seconds: Time between two cleanup runs.
    """

    retention_days_completed: float = field(default=7.0, metadata=checked(above(0)))
    retention_days_failed: float = field(default=30.0, metadata=checked(above(0)))
    interval_seconds: float = field(default=3600.0, metadata=checked(above(0, MAX_SECONDS)))

    def __post_init__(self) -> None:
        normalize(self, ("burro", "cleanup"))


def _no_queues() -> Mapping[str, QueueConfig]:
    # the default queue is added by Config.__post_init__, under default_queue_name
    return FrozenMap()


@dataclass(frozen=True, slots=True)
class Config:
    """The whole configuration of a runtime (the ``[burro]`` table); see DESIGN.md 3.4.

    Build one with :func:`burro.config.load_config`, or directly; either way it is
    validated, and ``queues`` always holds ``default_queue_name``.
    """

    enabled: bool = True
    backend: Backend = "lmdb"
    data_dir: Path = Path("./burro_data")
    default_queue_name: str = field(default="default", metadata=checked(is_queue_name))
    default_max_attempts: int = field(default=5, metadata=checked(at_least(1, MAX_ATTEMPTS)))
    default_retry_delay_seconds: float = field(default=15.0, metadata=checked(at_least(0)))
    max_retry_delay_seconds: float = field(
        default=3600.0, metadata=checked(at_least(0, MAX_SECONDS))
    )
    queues: Mapping[str, QueueConfig] = field(
        default_factory=_no_queues, metadata=checked(names=is_queue_name)
    )
    cleanup: CleanupConfig = field(default_factory=CleanupConfig)
    durability: Durability = "fsync"
    allowed_worker_modules: tuple[str, ...] = ()
    poll_interval_seconds: float = field(default=1.0, metadata=checked(above(0, MAX_SECONDS)))
    shutdown_timeout_seconds: float = field(default=30.0, metadata=checked(at_least(0)))
    trace_link_mode: TraceLinkMode = "child"
    log_args: bool = False
    redact_patterns: tuple[str, ...] = field(default=(), metadata=checked(are_patterns))
    redact_error_messages: bool = False

    def __post_init__(self) -> None:
        normalize(self, ("burro",))
        if self.default_queue_name not in self.queues:
            queues = {**self.queues, self.default_queue_name: QueueConfig()}
            object.__setattr__(self, "queues", FrozenMap(queues))

    def replace(self, **overrides: Any) -> Config:
        """A copy with ``overrides`` (field names, as for ``load_config``) applied."""
        from burro.config._load import load_config

        return load_config(self, **overrides)

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain TOML-like data: the content of a ``[burro]`` table."""
        return plain_table(as_table(self))
