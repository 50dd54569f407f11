"""BURRO_* environment variables, parsed to each key's type."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from burro.config import QueueConfig, load_config
from burro.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("false", False), ("False", False), ("0", False)],
)
def test_booleans(text: str, expected: bool) -> None:
    assert load_config(env={"BURRO_ENABLED": text}).enabled is expected


def test_scalars_of_each_type() -> None:
    config = load_config(
        env={
            "BURRO_BACKEND": "memory",
            "BURRO_DATA_DIR": "/var/lib/burro",
            "BURRO_DURABILITY": "process",
            "BURRO_DEFAULT_MAX_ATTEMPTS": " 7 ",
            "BURRO_POLL_INTERVAL_SECONDS": "0.25",
            "BURRO_DEFAULT_QUEUE_NAME": "main",
        }
    )

    assert config.backend == "memory"
    assert config.data_dir == Path("/var/lib/burro")
    assert config.durability == "process"
    assert config.default_max_attempts == 7
    assert config.poll_interval_seconds == 0.25
    assert config.default_queue_name == "main"


def test_worker_modules_are_comma_separated() -> None:
    env = {"BURRO_ALLOWED_WORKER_MODULES": "app.jobs, app.tasks.* ,,"}

    assert load_config(env=env).allowed_worker_modules == ("app.jobs", "app.tasks.*")


def test_empty_worker_modules_is_an_empty_list() -> None:
    assert load_config(env={"BURRO_ALLOWED_WORKER_MODULES": ""}).allowed_worker_modules == ()


def test_a_list_may_be_written_as_a_toml_array() -> None:
    env = {"BURRO_ALLOWED_WORKER_MODULES": '["app.jobs", "app,odd"]'}
    assert load_config(env=env).allowed_worker_modules == ("app.jobs", "app,odd")


@pytest.mark.parametrize("text", ['["app.jobs", 3]', '["app.jobs"'])
def test_a_bad_toml_array_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigError, match="BURRO_ALLOWED_WORKER_MODULES"):
        load_config(env={"BURRO_ALLOWED_WORKER_MODULES": text})


def test_redact_patterns_keep_their_commas_one_pattern_per_line() -> None:
    env = {"BURRO_REDACT_PATTERNS": "\\b\\d{13,19}\\b\n[\\w.+-]+@[\\w-]+\\.\\w+\n"}
    patterns = load_config(env=env).redact_patterns
    assert patterns == ("\\b\\d{13,19}\\b", "[\\w.+-]+@[\\w-]+\\.\\w+")
    assert re.search(patterns[0], "card 4111111111111111 declined")


def test_redact_patterns_may_be_a_toml_array() -> None:
    env = {"BURRO_REDACT_PATTERNS": "['\\b\\d{13,19}\\b', 'secret']"}
    assert load_config(env=env).redact_patterns == ("\\b\\d{13,19}\\b", "secret")


def test_nested_keys_use_a_double_underscore() -> None:
    config = load_config(
        env={
            "BURRO_CLEANUP__INTERVAL_SECONDS": "60",
            "BURRO_QUEUES__EMAILS__CONCURRENCY": "3",
            "BURRO_QUEUES__EMAILS__RATE_LIMIT": "1.5",
            "BURRO_QUEUES__DEFAULT__CONCURRENCY": "20",
        }
    )

    assert config.cleanup.interval_seconds == 60
    assert dict(config.queues) == {
        "default": QueueConfig(concurrency=20),
        "emails": QueueConfig(concurrency=3, rate_limit=1.5),
    }


def test_empty_optional_value_is_none() -> None:
    config = load_config(
        {"queues": {"emails": {"rate_limit": 2}}}, env={"BURRO_QUEUES__EMAILS__RATE_LIMIT": ""}
    )

    assert config.queues["emails"].rate_limit is None


def test_other_variables_are_ignored() -> None:
    assert load_config(env={"HOME": "/root", "burro_enabled": "x", "XBURRO_Y": "1"}).enabled


@given(st.integers(min_value=1, max_value=10**12))
def test_integers_parse_back(attempts: int) -> None:
    env = {"BURRO_DEFAULT_MAX_ATTEMPTS": str(attempts)}

    assert load_config(env=env).default_max_attempts == attempts


@given(st.floats(min_value=0, allow_infinity=False, allow_nan=False))
def test_floats_parse_back(seconds: float) -> None:
    env = {"BURRO_SHUTDOWN_TIMEOUT_SECONDS": repr(seconds)}

    assert load_config(env=env).shutdown_timeout_seconds == seconds
