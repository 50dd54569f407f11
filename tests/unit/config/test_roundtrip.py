"""Any valid Config survives to_dict -> load_config unchanged."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from burro.config import CleanupConfig, Config, QueueConfig, load_config
from burro.config._model import MAX_CONCURRENCY

queue_names = st.from_regex(r"[A-Za-z0-9_.-]{1,12}", fullmatch=True)
seconds = st.floats(min_value=0, max_value=1e9, allow_nan=False)
positive = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False)
module_patterns = st.from_regex(r"[a-z_][a-z0-9_.*]{0,15}", fullmatch=True)

queue_configs = st.builds(
    QueueConfig,
    concurrency=st.integers(min_value=1, max_value=MAX_CONCURRENCY),
    rate_limit=st.none() | positive,
)
cleanup_configs = st.builds(
    CleanupConfig,
    retention_days_completed=positive,
    retention_days_failed=positive,
    interval_seconds=positive,
)
configs = st.builds(
    Config,
    enabled=st.booleans(),
    backend=st.sampled_from(["lmdb", "memory", "noop"]),
    data_dir=st.from_regex(r"/?[a-z0-9_]{1,8}(/[a-z0-9_.-]{1,8}){0,3}", fullmatch=True).map(Path),
    default_queue_name=queue_names,
    default_max_attempts=st.integers(min_value=1, max_value=1000),
    default_retry_delay_seconds=seconds,
    max_retry_delay_seconds=seconds,
    queues=st.dictionaries(queue_names, queue_configs, max_size=4),
    cleanup=cleanup_configs,
    durability=st.sampled_from(["fsync", "process"]),
    allowed_worker_modules=st.lists(module_patterns, max_size=3).map(tuple),
    poll_interval_seconds=positive,
    shutdown_timeout_seconds=seconds,
)


def is_plain(value: Any) -> bool:
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain(item) for key, item in value.items())
    if isinstance(value, list):
        return all(is_plain(item) for item in value)
    return isinstance(value, bool | int | float | str)


@given(configs)
def test_to_dict_round_trips_through_load_config(config: Config) -> None:
    assert load_config(config.to_dict(), env={}) == config


@given(configs)
def test_to_dict_holds_only_toml_types(config: Config) -> None:
    assert is_plain(config.to_dict())


@given(configs)
def test_every_config_holds_its_default_queue(config: Config) -> None:
    assert config.default_queue_name in config.queues


@given(configs, configs)
def test_overrides_from_another_config_win(base: Config, other: Config) -> None:
    table = other.to_dict()

    assert load_config(base, **table) == other
