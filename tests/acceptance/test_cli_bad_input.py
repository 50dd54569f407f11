"""Bad input is one clear line on stderr with exit code 2 (1: not found, 3: storage)."""

from __future__ import annotations

from pathlib import Path

import pytest

import burro
from tests.acceptance.cli_runner import WORKERS, burro_cli, one_error_line
from tests.acceptance.conftest import Store


@pytest.fixture
def existing(store: Store) -> Store:
    """A store that exists (one task in it), with no runtime running."""
    with burro.connect(store.config, data_dir=store.data_dir) as manager:
        manager.enqueue_task(f"{WORKERS}", "add", [1, 2])
    return store


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["enqueue", WORKERS, "add", "[1,"], "ARGS is not valid JSON"),
        (["enqueue", WORKERS, "add", '{"a": 1}'], "ARGS must be a JSON array"),
        (["enqueue", "no_such_package.jobs", "run"], "cannot be imported"),
        (["enqueue", WORKERS, "missing"], "has no public function 'missing'"),
        (["enqueue", "os", "system", '["true"]'], "not marked with @burro.worker"),
        (["enqueue", f"{WORKERS}:Nope", "run"], "does not name a class"),
        (["enqueue", WORKERS, "add", "[1, 2]", "--priority", "-1"], "priority"),
        (["enqueue", WORKERS, "add", "[1, 2]", "--max-attempts", "0"], "max_attempts"),
        (["enqueue", WORKERS, "add", "[1, 2]", "--queue", "nope"], "nope"),
        (["enqueue", WORKERS, "add", "[1, 2]", "--priority", "high"], "'--priority'"),
        (["list", "--status", "done"], "unknown status 'done'"),
        (["list", "--status", "completed,finished"], "unknown status 'finished'"),
        (["list", "--page", "0"], "'--page'"),
        (["list", "--sort-by", "name"], "'--sort-by'"),
        (["retry"], "either TASK_ID or --all-discarded"),
        (["retry", "abc", "--all-discarded"], "either TASK_ID or --all-discarded"),
        (["retry", "abc", "--queue", "default"], "--queue goes with --all-discarded"),
        (["cleanup", "--retention-days-failed", "-1"], "retention"),
        (["cleanup", "--retention-days-completed", "inf"], "retention"),
        (["cleanup", "--retention-days-failed", "nan", "--dry-run"], "retention"),
        (["no-such-command"], "No such command"),
        (["stats", "--count", "2"], "--count goes with --watch"),
    ],
)
def test_bad_input_exits_2_with_one_line(existing: Store, args: list[str], message: str) -> None:
    result = burro_cli(*args, *existing.args)
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert line.startswith("Error: ")
    assert message in line


@pytest.mark.parametrize(
    "args",
    [
        ["status", "0000000000000fff"],
        ["cancel", "0000000000000fff"],
        ["retry", "0000000000000fff"],
        ["cron", "cancel", "nightly"],
    ],
)
def test_unknown_task_exits_1(existing: Store, args: list[str]) -> None:
    result = burro_cli(*args, *existing.args)
    assert result.exit_code == 1, result.output
    assert "Error: no " in one_error_line(result)


@pytest.mark.parametrize(
    "args",
    [
        ["status", "0000000000000001"],
        ["list"],
        ["stats"],
        ["dlq"],
        ["cron", "list"],
        ["cancel", "0000000000000001"],
        ["retry", "--all-discarded"],
        ["cleanup", "--dry-run"],
        ["cron", "cancel", "nightly"],
        ["enqueue", WORKERS, "add", "[1, 2]"],
    ],
)
def test_a_missing_data_directory_is_not_created(store: Store, args: list[str]) -> None:
    result = burro_cli(*args, *store.args)
    assert result.exit_code == 2, result.output
    assert one_error_line(result) == f"Error: data directory {store.data_dir} does not exist"
    assert not store.data_dir.exists()


def test_a_directory_without_a_store_is_refused(tmp_path: Path) -> None:
    result = burro_cli("list", "--data-dir", tmp_path)
    assert result.exit_code == 2
    assert "holds no burro store" in one_error_line(result)
    assert list(tmp_path.iterdir()) == []


def test_enqueue_creates_the_store_in_an_existing_empty_directory(tmp_path: Path) -> None:
    result = burro_cli("enqueue", WORKERS, "add", "[1, 2]", "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    with burro.connect(data_dir=tmp_path) as manager:
        [task], _ = manager.list_tasks()
    assert (task.function, task.args) == ("add", (1, 2))


@pytest.mark.parametrize(
    ("variable", "value", "what"),
    [
        ("BURRO_BACKEND", "memory", "backend = 'memory'"),
        ("BURRO_BACKEND", "noop", "backend = 'noop'"),
        ("BURRO_ENABLED", "false", "enabled = false"),
    ],
)
@pytest.mark.parametrize("args", [["enqueue", WORKERS, "add", "[1, 2]"], ["list"]])
def test_a_configuration_that_keeps_no_store_is_refused(
    existing: Store,
    monkeypatch: pytest.MonkeyPatch,
    variable: str,
    value: str,
    what: str,
    args: list[str],
) -> None:
    """An enqueue there would be dropped, and a listing would show nothing."""
    monkeypatch.setenv(variable, value)
    result = burro_cli(*args, *existing.args)
    assert result.exit_code == 2, result.output
    assert f"({what}) keeps no store" in one_error_line(result)


def test_config_errors_exit_2(tmp_path: Path, existing: Store) -> None:
    missing = burro_cli(
        "stats", "--config", tmp_path / "nope.toml", "--data-dir", existing.data_dir
    )
    assert missing.exit_code == 2
    assert "does not exist" in one_error_line(missing)
    misspelt = tmp_path / "typo.toml"
    misspelt.write_text("[burro]\npoll_interval = 1.0\n")
    result = burro_cli("stats", "--config", misspelt, "--data-dir", existing.data_dir)
    assert result.exit_code == 2
    assert "did you mean 'poll_interval_seconds'" in one_error_line(result)


def test_a_corrupt_store_exits_3(tmp_path: Path) -> None:
    (tmp_path / "data.mdb").write_bytes(b"not an lmdb file" * 512)
    result = burro_cli("list", "--data-dir", tmp_path)
    assert result.exit_code == 3, result.output
    assert one_error_line(result).startswith("Error: storage: ")


def test_json_errors_stay_on_stderr(existing: Store) -> None:
    result = burro_cli("status", "0000000000000fff", "--json", *existing.args)
    assert result.exit_code == 1
    assert result.stdout == ""
