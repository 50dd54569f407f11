"""``burro run``: runs an app's workers, shares its store with the CLI, stops on signals."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.acceptance.cli_runner import (
    REPO_ROOT,
    WORKERS,
    burro_cli,
    burro_json,
    one_error_line,
    wait_until,
)
from tests.acceptance.conftest import RuntimeProcess, Store


def _hold(store: Store, tmp_path: Path) -> tuple[str, Path]:
    """Enqueue a job that runs until ``gate`` exists; wait until it has started."""
    gate, started = tmp_path / "gate", tmp_path / "started"
    task = burro_json("enqueue", WORKERS, "hold_until", f'["{gate}", "{started}"]', *store.args)
    wait_until(started.exists)
    return task["id"], gate


def _status(store: Store, task_id: str) -> str:
    status: str = burro_json("status", task_id, *store.args)["status"]
    return status


def test_inspection_sees_the_runtime_at_work(
    store: Store, runtime_process: RuntimeProcess, tmp_path: Path
) -> None:
    task_id, gate = _hold(store, tmp_path)
    assert _status(store, task_id) == "running"
    assert burro_json("stats", *store.args)["queues"]["default"]["running"] == 1
    running = burro_json("list", "--status", "running", *store.args)
    assert [t["id"] for t in running["tasks"]] == [task_id]
    gate.touch()
    wait_until(lambda: _status(store, task_id) == "completed")


def test_sigterm_lets_the_running_job_finish(
    store: Store, runtime_process: RuntimeProcess, tmp_path: Path
) -> None:
    task_id, gate = _hold(store, tmp_path)
    runtime_process.signal(signal.SIGTERM)
    wait_until(lambda: any("burro: stopping" in line for line in runtime_process.lines))
    gate.touch()
    assert runtime_process.wait() == 0
    assert runtime_process.lines[-1] == "burro: stopped"
    task = burro_json("status", task_id, *store.args)
    assert (task["status"], task["result"]) == ("completed", "released")


def test_a_second_signal_releases_the_running_job_at_once(
    store: Store, runtime_process: RuntimeProcess, tmp_path: Path
) -> None:
    task_id, gate = _hold(store, tmp_path)
    runtime_process.signal(signal.SIGINT)
    wait_until(lambda: any("burro: stopping" in line for line in runtime_process.lines))
    runtime_process.signal(signal.SIGINT)
    assert runtime_process.wait() == 0
    task = burro_json("status", task_id, *store.args)
    assert (task["status"], task["attempts"]) == ("pending", 0)
    gate.touch()


def test_an_unknown_app_module_is_bad_input(store: Store) -> None:
    result = burro_cli("run", "--app", "no_such_package.workers", *store.args)
    assert result.exit_code == 2
    assert "cannot import app module 'no_such_package.workers'" in one_error_line(result)


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("raise RuntimeError('no DATABASE_URL')\n", "RuntimeError: no DATABASE_URL"),
        ("def broken(:\n", "SyntaxError: "),
    ],
)
def test_an_app_module_failing_on_import_is_bad_input(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, source: str, error: str
) -> None:
    name = f"failing_app_{abs(hash(source))}"
    (tmp_path / f"{name}.py").write_text(source)
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = burro_cli("run", "--app", name, *store.args)
    assert result.exit_code == 2
    line = one_error_line(result)
    assert f"app module {name!r} failed on import: {error}" in line


def test_python_dash_m_burro_is_the_same_command() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "burro", "--help"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    for command in ("demo", "run", "status", "list", "stats", "dlq", "cron", "enqueue"):
        assert command in completed.stdout
