"""Where configuration comes from, and which source wins."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from burro.config import CleanupConfig, Config, QueueConfig, load_config

EXAMPLE_FILE = Path(__file__).parents[3] / "config" / "burro.toml"


def write_toml(directory: Path, text: str) -> Path:
    path = directory / "burro.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_file_sets_keys_and_nested_tables(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [burro]
        backend = "memory"
        allowed_worker_modules = ["app.jobs", "app.tasks.*"]

        [burro.queues.emails]
        concurrency = 3
        rate_limit = 0.5

        [burro.cleanup]
        retention_days_completed = 1.5
        """,
    )

    config = load_config(path, env={})

    assert config.backend == "memory"
    assert config.allowed_worker_modules == ("app.jobs", "app.tasks.*")
    assert config.queues["emails"] == QueueConfig(concurrency=3, rate_limit=0.5)
    assert config.cleanup == CleanupConfig(retention_days_completed=1.5)


def test_file_path_may_be_a_string(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[burro]\ndefault_max_attempts = 2\n")

    assert load_config(str(path), env={}).default_max_attempts == 2


def test_other_tables_of_the_file_are_ignored(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[tool.other]\nx = 1\n[burro]\nenabled = false\n")

    assert load_config(path, env={}).enabled is False


def test_burro_config_variable_names_the_file(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[burro]\ndurability = 'process'\n")

    assert load_config(env={"BURRO_CONFIG": str(path)}).durability == "process"


def test_burro_config_variable_is_not_used_when_a_source_is_given(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[burro]\ndurability = 'process'\n")

    config = load_config({}, env={"BURRO_CONFIG": str(path)})

    assert config.durability == "fsync"


def test_os_environ_is_read_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BURRO_DEFAULT_QUEUE_NAME", "main")

    assert load_config().default_queue_name == "main"


def test_mapping_values_may_be_config_objects() -> None:
    config = load_config(
        {"queues": {"emails": QueueConfig(concurrency=4)}, "cleanup": CleanupConfig(7, 8, 9)},
        env={},
    )

    assert config.queues["emails"].concurrency == 4
    assert config.cleanup == CleanupConfig(7, 8, 9)


def test_precedence_defaults_file_environment_overrides(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [burro]
        default_max_attempts = 2
        default_retry_delay_seconds = 2
        max_retry_delay_seconds = 2
        """,
    )
    env = {"BURRO_DEFAULT_RETRY_DELAY_SECONDS": "3", "BURRO_MAX_RETRY_DELAY_SECONDS": "3"}

    config = load_config(path, env=env, max_retry_delay_seconds=4)

    assert config.poll_interval_seconds == 1.0  # default
    assert config.default_max_attempts == 2  # file
    assert config.default_retry_delay_seconds == 3  # environment over file
    assert config.max_retry_delay_seconds == 4  # keyword over environment and file


def test_nested_tables_merge_across_sources(tmp_path: Path) -> None:
    path = write_toml(
        tmp_path,
        """
        [burro.queues.emails]
        concurrency = 3
        [burro.cleanup]
        retention_days_completed = 1
        retention_days_failed = 2
        """,
    )
    env = {"BURRO_QUEUES__EMAILS__RATE_LIMIT": "5", "BURRO_CLEANUP__RETENTION_DAYS_FAILED": "3"}

    config = load_config(path, env=env, cleanup={"interval_seconds": 4})

    assert config.queues["emails"] == QueueConfig(concurrency=3, rate_limit=5)
    assert config.cleanup == CleanupConfig(1, 3, 4)


def test_queues_override_replaces_the_queue_table(tmp_path: Path) -> None:
    path = write_toml(tmp_path, "[burro.queues.emails]\nconcurrency = 3\n")
    env = {"BURRO_QUEUES__REPORTS__CONCURRENCY": "2"}

    config = load_config(path, env=env, queues={"video": {"concurrency": 1}})

    assert dict(config.queues) == {"video": QueueConfig(concurrency=1), "default": QueueConfig()}


def test_queues_override_accepts_queue_configs() -> None:
    config = load_config(env={}, queues={"video": QueueConfig(concurrency=1)})

    assert config.queues["video"] == QueueConfig(concurrency=1)


def test_cleanup_override_may_be_a_cleanup_config() -> None:
    config = load_config({"cleanup": {"interval_seconds": 5}}, env={}, cleanup=CleanupConfig())

    assert config.cleanup == CleanupConfig()


def test_config_source_is_the_base_and_skips_the_environment() -> None:
    base = Config(durability="process", queues={"emails": QueueConfig(concurrency=3)})

    config = load_config(base, env={"BURRO_DURABILITY": "fsync", "BURRO_NOPE": "x"}, enabled=False)

    assert config.durability == "process"
    assert config.enabled is False
    assert config.queues == base.queues


def test_example_file_loads() -> None:
    config = load_config(EXAMPLE_FILE, env={})

    assert config.queues["emails"].concurrency == 3
    assert config.replace(queues={}) == Config()


def test_example_file_shows_every_key() -> None:
    text = EXAMPLE_FILE.read_text(encoding="utf-8")
    burro = tomllib.loads(text)["burro"]
    queue_keys = {key for queue in burro["queues"].values() for key in queue}
    commented = {line[2:].split(" =")[0] for line in text.splitlines() if line.startswith("# ")}

    assert set(burro) == set(Config.__dataclass_fields__)
    assert set(burro["cleanup"]) == set(CleanupConfig.__dataclass_fields__)
    assert set(QueueConfig.__dataclass_fields__) <= queue_keys | commented
