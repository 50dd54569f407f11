"""Operation commands (enqueue, cancel, retry, cleanup, cron cancel) on a shared store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import burro
from tests.acceptance import cli_workers
from tests.acceptance.cli_runner import WORKERS, burro_cli, burro_json, settle, wait_until
from tests.acceptance.conftest import RuntimeProcess, Store


def _status(store: Store, task_id: str) -> dict[str, object]:
    task: dict[str, object] = burro_json("status", task_id, *store.args)
    return task


def test_enqueue_runs_in_the_runtime_process(store: Store, runtime_process: RuntimeProcess) -> None:
    task = burro_json("enqueue", WORKERS, "add", "[2, 3]", *store.args)
    assert task["status"] == "pending"
    wait_until(lambda: _status(store, task["id"])["status"] == "completed")
    assert _status(store, task["id"])["result"] == 5

    human = burro_cli("enqueue", WORKERS, "add", "[1, 1]", *store.args)
    assert human.exit_code == 0
    assert human.stdout.startswith("enqueued ")


def test_enqueue_options_reach_the_stored_task(store: Store) -> None:
    store.data_dir.mkdir()  # enqueue creates a store, never its directory
    before = datetime.now(UTC)
    task = burro_json(
        "enqueue", WORKERS, "add", "[1, 2]",
        "--queue", "reports", "--priority", "3", "--max-attempts", "2", "--scheduled-in", "60",
        *store.args,
    )  # fmt: skip
    assert (task["status"], task["queue"], task["priority"], task["max_attempts"]) == (
        "scheduled",
        "reports",
        3,
        2,
    )
    due = datetime.fromisoformat(task["scheduled_at"])
    assert before + timedelta(seconds=59) < due < before + timedelta(seconds=62)


def test_numbers_json_cannot_hold_are_printed_as_names(store: Store) -> None:
    store.data_dir.mkdir()
    task = burro_json("enqueue", WORKERS, "add", "[NaN, 1e400, -1e400, 1.5]", *store.args)
    assert task["args"] == ["NaN", "Infinity", "-Infinity", 1.5]
    assert burro_json("status", task["id"], *store.args)["args"] == task["args"]


def test_cancel_a_waiting_task(store: Store) -> None:
    store.data_dir.mkdir()
    task = burro_json("enqueue", WORKERS, "add", "[1, 2]", "--scheduled-in", "60", *store.args)
    assert burro_json("cancel", task["id"], "--reason", "not needed", *store.args) == {
        "id": task["id"],
        "status": "cancelled",
    }
    again = burro_cli("cancel", task["id"], *store.args)
    assert again.exit_code == 0
    assert "already cancelled" in again.stdout
    assert _status(store, task["id"])["cancel_reason"] == "not needed"
    shown = burro_cli("status", task["id"], *store.args)
    assert "cancel_reason" in shown.stdout
    assert "not needed" in shown.stdout


def test_of_two_racing_cancels_only_one_says_it_cancelled(
    store: Store, manager: burro.BackgroundTaskManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    task_id = manager.schedule_task(cli_workers.add, "add", [1, 2], 60)
    read_status = burro.BackgroundTaskManager.get_task_status
    raced: list[str] = []

    def cancelled_meanwhile(self: burro.BackgroundTaskManager, wanted: str) -> burro.TaskStatus:
        status = read_status(self, wanted)
        if not raced:  # the command has read the task: the other cancel wins the race now
            raced.append(wanted)
            manager.cancel_task(wanted)
        return status

    monkeypatch.setattr(burro.BackgroundTaskManager, "get_task_status", cancelled_meanwhile)
    result = burro_cli("cancel", task_id, *store.args)
    assert raced == [task_id]
    assert result.stdout.startswith(f"task {task_id} is already cancelled"), result.stdout


def test_cancel_a_task_running_in_another_process(
    store: Store, runtime_process: RuntimeProcess, tmp_path: Path
) -> None:
    gate, started = tmp_path / "gate", tmp_path / "started"
    task = burro_json("enqueue", WORKERS, "hold_until", f'["{gate}", "{started}"]', *store.args)
    wait_until(started.exists)
    result = burro_cli("cancel", task["id"], *store.args)
    assert result.exit_code == 0
    assert result.stdout.startswith("cancel requested")
    again = burro_cli("cancel", task["id"], *store.args)
    assert again.stdout.startswith("cancel already requested"), again.stdout
    gate.touch()
    wait_until(lambda: _status(store, task["id"])["status"] == "cancelled")


def test_retry_puts_a_dead_letter_back_to_pending(store: Store) -> None:
    with store.start() as manager:
        dead = manager.enqueue_task(cli_workers.always_fails, args=["boom"])
        done = manager.enqueue_task(cli_workers.add, args=[1, 1])
        settle(manager)
    assert burro_json("retry", dead, *store.args) == {"retried": [dead], "count": 1}
    task = _status(store, dead)
    assert (task["status"], task["attempts"]) == ("pending", 0)

    refused = burro_cli("retry", done, *store.args)
    assert refused.exit_code == 2
    assert "only discarded or cancelled tasks" in refused.stderr


def test_retry_all_discarded_of_one_queue(store: Store) -> None:
    with store.start() as manager:
        dead = [
            manager.enqueue_task(cli_workers.always_fails, args=[str(n)], queue=queue)
            for n, queue in enumerate(["default", "reports", "reports"])
        ]
        settle(manager)
    replayed = burro_json("retry", "--all-discarded", "--queue", "reports", *store.args)
    assert sorted(replayed["retried"]) == sorted(dead[1:])
    assert [t["id"] for t in burro_json("dlq", *store.args)["tasks"]] == [dead[0]]
    human = burro_cli("retry", "--all-discarded", *store.args)
    assert human.stdout.startswith("retried 1 task(s)")


def test_cleanup_dry_run_counts_and_cleanup_deletes(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    for n in range(3):
        manager.enqueue_task(cli_workers.add, args=[n, n])
    manager.enqueue_task(cli_workers.always_fails, args=["x"])
    settle(manager)
    now_only = ("--retention-days-completed", "0")
    dry = burro_json("cleanup", "--dry-run", *now_only, *store.args)
    assert (dry["dry_run"], dry["tasks"]) == (True, 3)
    assert datetime.fromisoformat(dry["failed_before"]) < datetime.now(UTC) - timedelta(days=29)
    assert burro_json("list", *store.args)["pagination"]["total_entries"] == 4

    human = burro_cli("cleanup", *now_only, *store.args)
    assert human.stdout.startswith("deleted 3 task(s)")
    [left] = burro_json("list", *store.args)["tasks"]
    assert left["status"] == "discarded"
    everything = ("--retention-days-completed", "0", "--retention-days-failed", "0")
    assert burro_json("cleanup", *everything, *store.args)["tasks"] == 1


def test_cleanup_with_a_retention_longer_than_the_calendar_keeps_those_tasks(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    manager.enqueue_task(cli_workers.add, args=[1, 1])
    settle(manager)
    forever = ("--retention-days-completed", "1e9", "--retention-days-failed", "1e9")
    dry = burro_json("cleanup", "--dry-run", *forever, *store.args)
    assert (dry["tasks"], dry["completed_before"], dry["failed_before"]) == (0, None, None)
    human = burro_cli("cleanup", *forever, *store.args)
    assert human.exit_code == 0, human.output
    assert human.stdout.startswith("deleted 0 task(s)")
    assert burro_json("list", *store.args)["pagination"]["total_entries"] == 1
    refused = burro_cli("cleanup", "--retention-days-completed", "nan", *store.args)
    assert refused.exit_code != 0
    assert "finite number of days" in refused.output


def test_cron_cancel_removes_a_recurring_task(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    manager.schedule_recurring_task("hourly", cli_workers.add, "add", [1, 2], "0 * * * *")
    manager.schedule_recurring_task("daily", cli_workers.add, "add", [3, 4], "@daily")
    assert burro_json("cron", "cancel", "hourly", *store.args) == {
        "name": "hourly",
        "cancelled": True,
    }
    names = [t["name"] for t in burro_json("cron", "list", *store.args)["recurring_tasks"]]
    assert names == ["daily"]
    missing = burro_cli("cron", "cancel", "hourly", *store.args)
    assert missing.exit_code == 1
    assert "hourly" in missing.stderr
