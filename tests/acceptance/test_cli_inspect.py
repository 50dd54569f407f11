"""Inspection commands (status, list, stats, dlq, cron list) against a live store."""

from __future__ import annotations

import json
from datetime import datetime

import burro
from tests.acceptance import cli_workers
from tests.acceptance.cli_runner import burro_cli, burro_json, settle
from tests.acceptance.conftest import Store

TASK_KEYS = {
    "id",
    "status",
    "queue",
    "worker",
    "function",
    "args",
    "priority",
    "attempts",
    "max_attempts",
    "last_error",
    "errors",
    "result",
    "meta",
    "inserted_at",
    "scheduled_at",
    "attempted_at",
    "completed_at",
    "cancel_reason",
}


def _run(
    manager: burro.BackgroundTaskManager, *tasks: tuple[object, list[object], str]
) -> list[str]:
    ids = [manager.enqueue_task(worker, args=args, queue=queue) for worker, args, queue in tasks]
    settle(manager)
    return ids


def test_status_json_has_the_stable_keys_and_iso_times(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    [task_id] = _run(manager, (cli_workers.add, [2, 3], "default"))
    task = burro_json("status", task_id, *store.args)
    assert set(task) == TASK_KEYS
    assert task["id"] == task_id
    assert task["status"] == "completed"
    assert (task["worker"], task["function"], task["args"]) == (
        "tests.acceptance.cli_workers",
        "add",
        [2, 3],
    )
    assert task["result"] == 5
    assert datetime.fromisoformat(task["completed_at"]).tzinfo is not None
    assert task["scheduled_at"] is None or datetime.fromisoformat(task["scheduled_at"])


def test_status_shows_the_error_history(store: Store, manager: burro.BackgroundTaskManager) -> None:
    [task_id] = _run(manager, (cli_workers.always_fails, ["boom"], "default"))
    result = burro_cli("status", task_id, *store.args)
    assert result.exit_code == 0
    assert "discarded" in result.stdout
    assert "Errors" in result.stdout
    assert result.stdout.count("RuntimeError: boom") >= 2  # one line per failed attempt


def test_stored_text_that_looks_like_markup_is_shown_as_it_is(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    [task_id] = _run(manager, (cli_workers.always_fails, ["[red] disk full"], "default"))
    status = burro_cli("status", task_id, *store.args).stdout
    assert "['[red] disk full']" in status  # the args
    assert "RuntimeError: [red] disk full" in status  # the error history
    for command in ("dlq", "list"):
        assert "RuntimeError: [red] disk full" in burro_cli(command, *store.args).stdout


def test_list_filters_by_state_queue_and_worker_and_pages(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    adds = [(cli_workers.add, [n, n], "default") for n in range(5)]
    _run(
        manager,
        *adds,
        (cli_workers.add, [1, 1], "reports"),
        (cli_workers.always_fails, ["x"], "reports"),
    )

    reports = burro_json("list", "--queue", "reports", *store.args)
    assert {t["queue"] for t in reports["tasks"]} == {"reports"}
    assert reports["pagination"]["total_entries"] == 2

    page = burro_json(
        "list", "--status", "completed", "--per-page", "2", "--page", "2", *store.args
    )
    assert page["pagination"] == {
        "total_entries": 6,
        "total_pages": 3,
        "page_number": 2,
        "page_size": 2,
    }
    assert [t["status"] for t in page["tasks"]] == ["completed", "completed"]

    both = burro_json(
        "list", "--status", "completed,discarded", "--status", "cancelled", *store.args
    )
    assert both["pagination"]["total_entries"] == 7
    by_worker = burro_json("list", "--worker", "tests.acceptance.cli_workers", *store.args)
    assert by_worker["pagination"]["total_entries"] == 7
    assert burro_json("list", "--worker", "other.module", *store.args)["tasks"] == []

    human = burro_cli("list", "--queue", "reports", *store.args)
    assert human.exit_code == 0
    assert "tests.acceptance.cli_workers.always_fails" in human.stdout
    assert "page 1/1 · 2 task(s)" in human.stdout


def test_stats_prints_per_queue_counts(store: Store, manager: burro.BackgroundTaskManager) -> None:
    _run(
        manager, (cli_workers.add, [1, 2], "reports"), (cli_workers.always_fails, ["x"], "default")
    )
    statistics = burro_json("stats", *store.args)
    assert set(statistics) == {"queues", "workers_summary"}
    assert statistics["queues"]["reports"]["completed"] == 1
    assert statistics["queues"]["default"]["discarded"] == 1
    assert statistics["queues"]["default"]["failed_today"] == 2
    human = burro_cli("stats", *store.args)
    assert human.exit_code == 0
    assert "reports" in human.stdout
    assert "failed today" in human.stdout


def test_stats_watch_refreshes_until_its_count(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    result = burro_cli(
        "stats", "--watch", "--interval", "0.1", "--count", "3", "--json", *store.args
    )
    assert result.exit_code == 0
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    assert all("default" in json.loads(line)["queues"] for line in lines)
    table = burro_cli("stats", "--watch", "--interval", "0.1", "--count", "2", *store.args)
    assert table.exit_code == 0
    assert "reports" in table.stdout


def test_dlq_lists_the_discarded_tasks_with_their_last_error(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    [dead, _] = _run(
        manager,
        (cli_workers.always_fails, ["disk on fire"], "reports"),
        (cli_workers.add, [1, 1], "default"),
    )
    dlq = burro_json("dlq", *store.args)
    assert [t["id"] for t in dlq["tasks"]] == [dead]
    assert dlq["tasks"][0]["attempts"] == 2
    assert dlq["tasks"][0]["last_error"].startswith("RuntimeError: disk on fire")
    assert burro_json("dlq", "--queue", "default", *store.args)["tasks"] == []
    human = burro_cli("dlq", *store.args)
    assert dead in human.stdout
    assert "RuntimeError: disk on fire" in human.stdout


def test_cron_list_shows_recurring_tasks(
    store: Store, manager: burro.BackgroundTaskManager
) -> None:
    manager.schedule_recurring_task(
        "nightly-report", cli_workers.add, "add", [1, 2], "0 3 * * *", timezone="Europe/Paris"
    )
    listing = burro_json("cron", "list", *store.args)
    [task] = listing["recurring_tasks"]
    assert task["name"] == "nightly-report"
    assert (task["cron_expression"], task["timezone"]) == ("0 3 * * *", "Europe/Paris")
    assert (task["worker"], task["function"], task["args"]) == (
        "tests.acceptance.cli_workers",
        "add",
        [1, 2],
    )
    assert datetime.fromisoformat(task["next_fire_at"]) > datetime.now().astimezone()
    human = burro_cli("cron", "list", *store.args)
    assert "nightly-report" in human.stdout
    assert "Europe/Paris" in human.stdout
