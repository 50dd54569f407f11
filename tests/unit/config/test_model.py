"""The Config model: defaults, immutability, the default queue rule, direct construction."""

from __future__ import annotations

import copy
import dataclasses
import pickle
from pathlib import Path

import pytest

from burro.config import CleanupConfig, Config, QueueConfig, load_config
from burro.errors import ConfigError


def test_defaults_are_those_of_the_design() -> None:
    config = Config()

    assert config.enabled is True
    assert config.backend == "lmdb"
    assert config.data_dir == Path("burro_data")
    assert config.default_queue_name == "default"
    assert config.default_max_attempts == 5
    assert config.default_retry_delay_seconds == 15
    assert config.max_retry_delay_seconds == 3600
    assert dict(config.queues) == {"default": QueueConfig(concurrency=10)}
    assert config.cleanup == CleanupConfig(
        retention_days_completed=7, retention_days_failed=30, interval_seconds=3600
    )
    assert config.durability == "fsync"
    assert config.allowed_worker_modules == ()
    assert config.poll_interval_seconds == 1.0
    assert config.shutdown_timeout_seconds == 30.0


def test_load_config_without_sources_gives_the_defaults() -> None:
    assert load_config(env={}) == Config()


def test_fields_cannot_be_assigned() -> None:
    config = Config()

    with pytest.raises(dataclasses.FrozenInstanceError):
        config.enabled = False  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.cleanup.interval_seconds = 1  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.queues["default"].concurrency = 1  # type: ignore[misc]


def test_queue_table_cannot_be_changed() -> None:
    config = Config()

    with pytest.raises(TypeError):
        config.queues["emails"] = QueueConfig()  # type: ignore[index]


def test_queue_table_is_a_copy_of_the_one_given() -> None:
    queues = {"emails": QueueConfig(concurrency=2)}
    config = Config(queues=queues)

    queues["reports"] = QueueConfig()

    assert set(config.queues) == {"emails", "default"}


def test_default_queue_is_added_when_missing() -> None:
    config = load_config({"queues": {"emails": {"concurrency": 3}}}, env={})

    assert dict(config.queues) == {
        "emails": QueueConfig(concurrency=3),
        "default": QueueConfig(),
    }


def test_default_queue_follows_default_queue_name() -> None:
    config = load_config({"default_queue_name": "main"}, env={})

    assert dict(config.queues) == {"main": QueueConfig()}


def test_default_queue_keeps_its_configured_settings() -> None:
    config = load_config({"queues": {"default": {"concurrency": 42}}}, env={})

    assert dict(config.queues) == {"default": QueueConfig(concurrency=42)}


def test_direct_construction_is_validated() -> None:
    with pytest.raises(ConfigError, match=r"'concurrency' in \[burro.queues\]: must be >= 1"):
        QueueConfig(concurrency=0)
    with pytest.raises(ConfigError, match=r"'interval_seconds' in \[burro.cleanup\]: must be > 0"):
        CleanupConfig(interval_seconds=0)
    with pytest.raises(ConfigError, match=r"'durability' in \[burro\]: must be one of"):
        Config(durability="never")  # type: ignore[arg-type]


def test_direct_construction_coerces_to_field_types() -> None:
    config = Config(
        data_dir="somewhere",  # type: ignore[arg-type]
        allowed_worker_modules=["app.*"],  # type: ignore[arg-type]
        default_retry_delay_seconds=2,
        queues={"emails": {"concurrency": 2}},  # type: ignore[dict-item]
        cleanup={"interval_seconds": 60},  # type: ignore[arg-type]
    )

    assert config.data_dir == Path("somewhere")
    assert config.allowed_worker_modules == ("app.*",)
    assert isinstance(config.default_retry_delay_seconds, float)
    assert config.queues["emails"] == QueueConfig(concurrency=2)
    assert config.cleanup == CleanupConfig(interval_seconds=60)


def test_data_dir_expands_the_home_directory() -> None:
    assert Config(data_dir=Path("~/jobs")).data_dir == Path.home() / "jobs"


def test_to_dict_is_plain_toml_like_data() -> None:
    config = Config(
        data_dir=Path("jobs"),
        allowed_worker_modules=("app.*",),
        queues={"emails": QueueConfig(concurrency=3, rate_limit=2.5)},
    )

    assert config.to_dict() == {
        "enabled": True,
        "backend": "lmdb",
        "data_dir": "jobs",
        "default_queue_name": "default",
        "default_max_attempts": 5,
        "default_retry_delay_seconds": 15.0,
        "max_retry_delay_seconds": 3600.0,
        "queues": {
            "emails": {"concurrency": 3, "rate_limit": 2.5},
            "default": {"concurrency": 10},
        },
        "cleanup": {
            "retention_days_completed": 7.0,
            "retention_days_failed": 30.0,
            "interval_seconds": 3600.0,
        },
        "durability": "fsync",
        "allowed_worker_modules": ["app.*"],
        "poll_interval_seconds": 1.0,
        "shutdown_timeout_seconds": 30.0,
        "trace_link_mode": "child",
        "log_args": False,
        "redact_patterns": [],
        "redact_error_messages": False,
    }


def test_replace_returns_a_validated_copy() -> None:
    config = Config()

    changed = config.replace(durability="process", cleanup={"interval_seconds": 60})

    assert changed.durability == "process"
    assert changed.cleanup == CleanupConfig(interval_seconds=60)
    assert config == Config()
    with pytest.raises(ConfigError, match="did you mean 'durability'"):
        config.replace(durabilty="process")


def test_replace_does_not_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURRO_DURABILITY", "process")

    assert Config().replace(enabled=False).durability == "fsync"


def test_equal_configs_compare_equal() -> None:
    assert Config(queues={"a": QueueConfig()}) == Config(queues={"a": QueueConfig()})
    assert Config(queues={"a": QueueConfig()}) != Config(queues={"b": QueueConfig()})


def test_configs_pickle_copy_and_hash() -> None:
    config = Config(queues={"emails": QueueConfig(concurrency=3)}, allowed_worker_modules=("a",))

    assert pickle.loads(pickle.dumps(config)) == config
    assert copy.deepcopy(config) == config
    assert hash(config) == hash(
        Config(queues={"emails": QueueConfig(3)}, allowed_worker_modules=("a",))
    )
