"""Bad configuration: every error is a ConfigError that says which key or file, and why."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from pathlib import Path
from threading import TIMEOUT_MAX
from typing import Any

import pykka
import pytest

import burro
from burro.config import Config, load_config
from burro.config._tables import label
from burro.errors import ConfigError


def load_raises(message: str, *args: Any, env: dict[str, str] | None = None, **kwargs: Any) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(*args, env={} if env is None else env, **kwargs)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {"default_max_attempt": 3},
            "unknown key 'default_max_attempt' in [burro]: did you mean 'default_max_attempts'?",
        ),
        (
            {"queues": {"emails": {"concurency": 3}}},
            "unknown key 'concurency' in [burro.queues.emails]: did you mean 'concurrency'?",
        ),
        (
            {"cleanup": {"retention_days_complete": 3}},
            "unknown key 'retention_days_complete' in [burro.cleanup]: "
            "did you mean 'retention_days_completed'?",
        ),
        ({"zzz": 1}, "unknown key 'zzz' in [burro]: valid keys are 'enabled', 'backend'"),
        ({"DATA_DIR": "x"}, "unknown key 'DATA_DIR' in [burro]: did you mean 'data_dir'?"),
        (
            {"retry_delay_seconds": 5},
            "unknown key 'retry_delay_seconds' in [burro]: "
            "did you mean 'default_retry_delay_seconds'?",
        ),
        (
            {"retention_days_completed": 3},
            "unknown key 'retention_days_completed' in [burro]: it belongs in [burro.cleanup]",
        ),
        (
            {"concurrency": 3},
            "unknown key 'concurrency' in [burro]: it belongs in each table under [burro.queues]",
        ),
        (
            {"concurency": 3},
            "unknown key 'concurency' in [burro]: did you mean 'concurrency'? "
            "it belongs in each table under [burro.queues]",
        ),
        (
            {"retention_days_complete": 3},
            "unknown key 'retention_days_complete' in [burro]: did you mean "
            "'retention_days_completed'? it belongs in [burro.cleanup]",
        ),
    ],
)
def test_unknown_key_names_the_closest_valid_key(table: dict[str, Any], message: str) -> None:
    load_raises(f"config mapping: {message}", table)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"default_max_attempts": True}, "'default_max_attempts' in [burro]: expected an integer"),
        ({"default_max_attempts": 2.0}, "'default_max_attempts' in [burro]: expected an integer"),
        (
            {"default_max_attempts": 0},
            f"'default_max_attempts' in [burro]: must be >= 1 and <= {2**64 - 1}, got 0",
        ),
        ({"enabled": 1}, "'enabled' in [burro]: expected true or false, got 1 (int)"),
        ({"poll_interval_seconds": "1"}, "'poll_interval_seconds' in [burro]: expected a number"),
        (
            {"poll_interval_seconds": 0},
            f"'poll_interval_seconds' in [burro]: must be > 0 and <= {TIMEOUT_MAX:.0f}, got 0.0",
        ),
        ({"default_retry_delay_seconds": -1}, "must be >= 0, got -1.0"),
        ({"max_retry_delay_seconds": float("inf")}, "expected a finite number, got inf"),
        ({"shutdown_timeout_seconds": float("nan")}, "expected a finite number, got nan"),
        ({"durability": "sync"}, "'durability' in [burro]: must be one of 'fsync', 'process'"),
        ({"backend": "sqlite"}, "'backend' in [burro]: must be one of 'lmdb', 'memory', 'noop'"),
        ({"data_dir": 3}, "'data_dir' in [burro]: expected a path, got 3 (int)"),
        ({"data_dir": ""}, "'data_dir' in [burro]: expected a path, got an empty string"),
        ({"allowed_worker_modules": "app.*"}, "expected a list of strings, got 'app.*' (str)"),
        ({"allowed_worker_modules": ["a", 1]}, "expected a list of strings"),
        ({"default_queue_name": ""}, "'default_queue_name' in [burro]: a queue name must be"),
        ({"queues": {"emails": {"concurrency": -1}}}, "[burro.queues.emails]: must be >= 1"),
        (
            {"queues": {"emails": {"concurrency": 1025}}},
            "[burro.queues.emails]: must be >= 1 and <= 1024, got 1025",
        ),
        ({"queues": {"emails": {"concurrency": True}}}, "expected an integer, got True (bool)"),
        ({"queues": {"emails": {"rate_limit": 0}}}, "'rate_limit' in [burro.queues.emails]: must"),
        ({"queues": {"bad name": {}}}, "invalid name 'bad name' in [burro.queues]"),
        ({"queues": {"": {}}}, "invalid name '' in [burro.queues]"),
        ({"queues": {"emails": 3}}, "[burro.queues.emails] must be a table, got 3 (int)"),
        ({"queues": ["emails"]}, "[burro.queues] must be a table"),
        (
            {"cleanup": {"interval_seconds": 0}},
            "'interval_seconds' in [burro.cleanup]: must be > 0",
        ),
        ({"cleanup": 5}, "[burro.cleanup] must be a table, got 5 (int)"),
    ],
)
def test_invalid_values_say_which_key_and_why(overrides: dict[str, Any], message: str) -> None:
    load_raises(message, **overrides)


def test_keyword_override_errors_name_their_source() -> None:
    load_raises(
        "keyword overrides: unknown key 'durabilty' in [burro]: did you mean 'durability'?",
        durabilty="fsync",
    )


def test_file_without_burro_table(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text("[tool]\nx = 1\n", encoding="utf-8")

    load_raises(f"config file '{path}' has no [burro] table", path)


def test_burro_key_that_is_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "other.toml"
    path.write_text("burro = 1\n", encoding="utf-8")

    load_raises(f"config file '{path}' has no [burro] table", path)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    load_raises(f"cannot read config file '{path}': No such file or directory", path)


def test_unreadable_file(tmp_path: Path) -> None:
    load_raises(f"cannot read config file '{tmp_path}'", tmp_path)  # a directory


@pytest.mark.parametrize("text", ["[burro\n", "[burro]\nenabled = \n", "[burro]\nx = 'a\n"])
def test_malformed_file(tmp_path: Path, text: str) -> None:
    path = tmp_path / "burro.toml"
    path.write_text(text, encoding="utf-8")

    load_raises(f"malformed config file '{path}': ", path)


def test_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "burro.toml"
    path.write_bytes(b"[burro]\ndata_dir = '\xff'\n")

    load_raises(f"malformed config file '{path}'", path)


def test_bad_key_in_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "burro.toml"
    path.write_text("[burro.queues.emails]\nconcurrency = 0\n", encoding="utf-8")

    load_raises(
        f"config file '{path}': invalid value for 'concurrency' in [burro.queues.emails]: "
        "must be >= 1 and <= 1024, got 0",
        path,
    )


def test_burro_config_naming_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "missing.toml"

    load_raises(f"cannot read config file '{path}'", env={"BURRO_CONFIG": str(path)})


def test_source_of_the_wrong_kind() -> None:
    load_raises("a config source is a Config, a mapping or a TOML file path, got 3", 3)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"BURRO_DATADIR": "x"},
            "unknown environment variable BURRO_DATADIR: did you mean BURRO_DATA_DIR?",
        ),
        (
            {"BURRO_CLEANUP__INTERVAL": "1"},
            "unknown environment variable BURRO_CLEANUP__INTERVAL: "
            "did you mean BURRO_CLEANUP__INTERVAL_SECONDS?",
        ),
        (
            {"BURRO_QUEUES__EMAILS__CONCURENCY": "1"},
            "did you mean BURRO_QUEUES__EMAILS__CONCURRENCY?",
        ),
        (
            {"BURRO_XYZZY": "1"},
            "unknown environment variable BURRO_XYZZY: valid keys of [burro] are 'enabled'",
        ),
        (
            {"BURRO_CLEANUP": "1"},
            "environment variable BURRO_CLEANUP names a table, not a value: set one key per "
            "variable, e.g. BURRO_CLEANUP__RETENTION_DAYS_COMPLETED",
        ),
        ({"BURRO_QUEUES": "1"}, "e.g. BURRO_QUEUES__<NAME>__CONCURRENCY"),
        ({"BURRO_QUEUES__EMAILS": "1"}, "e.g. BURRO_QUEUES__EMAILS__CONCURRENCY"),
        ({"BURRO_ENABLED__X": "1"}, "environment variable BURRO_ENABLED__X: 'enabled' has no keys"),
        (
            {"BURRO_ENABLED": "yes"},
            "environment variable BURRO_ENABLED: expected true, false, 1 or 0, got 'yes'",
        ),
        (
            {"BURRO_DEFAULT_MAX_ATTEMPTS": "many"},
            "environment variable BURRO_DEFAULT_MAX_ATTEMPTS: expected an integer, got 'many'",
        ),
        (
            {"BURRO_DEFAULT_MAX_ATTEMPTS": "0"},
            "environment variable BURRO_DEFAULT_MAX_ATTEMPTS: invalid value for "
            f"'default_max_attempts' in [burro]: must be >= 1 and <= {2**64 - 1}, got 0",
        ),
        ({"BURRO_POLL_INTERVAL_SECONDS": "soon"}, "expected a number, got 'soon'"),
        ({"BURRO_QUEUES__EMAILS__CONCURRENCY": "-2"}, "must be >= 1 and <= 1024, got -2"),
        ({"BURRO_DURABILITY": "always"}, "must be one of 'fsync', 'process', got 'always'"),
        ({"BURRO_DATA_DIR": ""}, "expected a path, got an empty string"),
    ],
)
def test_bad_environment_variables(env: dict[str, str], message: str) -> None:
    load_raises(message, env=env)


def test_environment_errors_do_not_hide_behind_overrides() -> None:
    load_raises("BURRO_DATADIR", env={"BURRO_DATADIR": "x"}, data_dir="y")


def test_config_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="did you mean"):
        Config().replace(enabeld=False)


#: Keys whose values feed timers, datetime arithmetic or the store, with their ranges.
#: Seconds go up to threading.TIMEOUT_MAX (about 292 years): a timer thread cannot wait
#: longer. Attempt counts are stored as unsigned 64-bit integers.
BOUNDED_KEYS = [
    pytest.param(
        ("poll_interval_seconds",),
        f"must be > 0 and <= {TIMEOUT_MAX:.0f}",
        TIMEOUT_MAX,
        id="poll_interval_seconds",
    ),
    pytest.param(
        ("max_retry_delay_seconds",),
        f"must be >= 0 and <= {TIMEOUT_MAX:.0f}",
        TIMEOUT_MAX,
        id="max_retry_delay_seconds",
    ),
    pytest.param(
        ("cleanup", "interval_seconds"),
        f"must be > 0 and <= {TIMEOUT_MAX:.0f}",
        TIMEOUT_MAX,
        id="cleanup.interval_seconds",
    ),
    pytest.param(
        ("default_max_attempts",),
        f"must be >= 1 and <= {2**64 - 1}",
        2**64 - 1,
        id="default_max_attempts",
    ),
]
SOURCES = ["keyword", "file", "environment"]


def nested(path: tuple[str, ...], value: float) -> dict[str, Any]:
    """Keyword overrides setting the key at ``path``, e.g. ``cleanup={"interval_seconds": 1}``."""
    table: dict[str, Any] = {path[-1]: value}
    for name in reversed(path[:-1]):
        table = {name: table}
    return table


def write_file(directory: Path, path: tuple[str, ...], value: float) -> Path:
    file = directory / "burro.toml"
    header = ".".join(("burro", *path[:-1]))
    file.write_text(f"[{header}]\n{path[-1]} = {value!r}\n", encoding="utf-8")
    return file


def variable(path: tuple[str, ...]) -> str:
    return "BURRO_" + "__".join(path).upper()


def load_from(source: str, path: tuple[str, ...], value: float, directory: Path) -> Config:
    """Load a config that sets the key at ``path`` to ``value`` from one source only."""
    if source == "keyword":
        return load_config(env={}, **nested(path, value))
    if source == "file":
        return load_config(write_file(directory, path, value), env={})
    return load_config(env={variable(path): repr(value)})


def origin(source: str, path: tuple[str, ...], directory: Path) -> str:
    if source == "keyword":
        return "keyword overrides"
    if source == "file":
        return f"config file '{directory / 'burro.toml'}'"
    return f"environment variable {variable(path)}"


def above_bound(bound: float) -> float:
    return bound + 1 if isinstance(bound, int) else math.nextafter(bound, math.inf)


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("path", "allowed", "bound"), BOUNDED_KEYS)
def test_values_past_what_the_runtime_can_use_are_refused_naming_key_and_range(
    tmp_path: Path, source: str, path: tuple[str, ...], allowed: str, bound: float
) -> None:
    table = label(("burro", *path[:-1]))
    message = f"invalid value for {path[-1]!r} in {table}: {allowed}"

    for value in (above_bound(bound), bound * 100):
        with pytest.raises(ConfigError, match=re.escape(message)) as raised:
            load_from(source, path, value, tmp_path)
        assert str(raised.value).startswith(origin(source, path, tmp_path) + ": ")


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(("path", "allowed", "bound"), BOUNDED_KEYS)
def test_the_largest_allowed_value_is_accepted(
    tmp_path: Path, source: str, path: tuple[str, ...], allowed: str, bound: float
) -> None:
    config: Any = load_from(source, path, bound, tmp_path)

    for name in path:
        config = getattr(config, name)
    assert config == bound


@pytest.mark.parametrize("open_runtime", [burro.start, burro.connect])
@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize(
    "path", [("poll_interval_seconds",), ("cleanup", "interval_seconds")], ids=".".join
)
def test_start_and_connect_refuse_them_before_starting_or_writing_anything(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    open_runtime: Callable[..., burro.BackgroundTaskManager],
    source: str,
    path: tuple[str, ...],
) -> None:
    data_dir = tmp_path / "data"
    message = f"{path[-1]!r} in {label(('burro', *path[:-1]))}: must be > 0 and <= "
    config: Path | None = None
    overrides: dict[str, Any] = {}
    if source == "keyword":
        overrides = nested(path, 1e12)
    elif source == "file":
        config = write_file(tmp_path, path, 1e12)
    else:
        monkeypatch.setenv(variable(path), "1e12")

    with pytest.raises(ConfigError, match=re.escape(message)):
        open_runtime(config, data_dir=data_dir, backend="lmdb", **overrides)

    assert not data_dir.exists()
    assert pykka.ActorRegistry.get_all() == []
