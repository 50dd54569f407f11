"""``burro demo`` (README command one) and the example app built on the same workers."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

import burro
from examples.shop import app
from tests.acceptance.cli_runner import burro_cli, burro_json, one_error_line, settle


@pytest.mark.slow
def test_the_demo_runs_every_use_case_to_the_end(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    result = burro_cli("demo", "--data-dir", data_dir, "--verbose")
    assert result.exit_code == 0, result.output
    assert "job.retry" in result.stdout  # --verbose: a line per lifecycle event
    assert "Dead letters" in result.stdout
    assert "export_invoice" in result.stdout

    emails = sorted((data_dir / "outbox").glob("*.eml"))
    assert len(emails) == 6  # five welcome emails and the scheduled reminder
    subjects = {_parse(path)["Subject"] for path in emails}
    assert "Welcome to the shop, Ada!" in subjects
    assert "A reminder from the shop" in subjects

    [dead] = burro_json("dlq", "--data-dir", data_dir)["tasks"]
    assert (dead["function"], dead["attempts"]) == ("export_invoice", 3)
    assert dead["last_error"].startswith("InvoiceRejected: ")

    tasks = burro_json("list", "--data-dir", data_dir, "--per-page", "100")["tasks"]
    [flaky] = [t for t in tasks if t["function"] == "sync_crm_contact" and t["errors"]]
    assert (flaky["status"], flaky["attempts"], len(flaky["errors"])) == ("completed", 3, 2)
    by_state = {t["function"]: t["status"] for t in tasks if t["status"] == "cancelled"}
    assert by_state == {"send_reminder_email": "cancelled"}
    videos = [t for t in tasks if t["function"] == "process_video"]
    assert len(videos) == 3
    assert all(t["status"] == "completed" for t in videos)
    tidy_runs = [t for t in tasks if t["meta"].get("recurring") == "tidy-outbox"]
    assert len(tidy_runs) >= 2
    assert not list((data_dir / "outbox").glob("*.partial"))  # the stale one was removed
    assert burro_json("cron", "list", "--data-dir", data_dir) == {"recurring_tasks": []}


def _parse(path: Path) -> email.message.EmailMessage:
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert isinstance(message, email.message.EmailMessage)
    return message


@pytest.mark.parametrize(
    ("variable", "value"), [("BURRO_BACKEND", "memory"), ("BURRO_ENABLED", "0")]
)
def test_the_demo_keeps_its_jobs_in_lmdb_whatever_the_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    data_dir = tmp_path / "demo"
    result = burro_cli("demo", "--data-dir", data_dir)
    assert result.exit_code == 0, result.output
    monkeypatch.delenv(variable)
    assert len(burro_json("list", "--data-dir", data_dir, "--per-page", "100")["tasks"]) > 10


def test_the_demo_wants_a_fresh_directory(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    result = burro_cli("demo", "--data-dir", tmp_path)
    assert result.exit_code == 2
    assert "is not empty" in one_error_line(result)


def test_the_example_app_runs_its_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    app.main(["--data-dir", str(tmp_path)])
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert all(" completed " in line for line in lines)
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 2


def test_the_example_app_can_leave_its_jobs_to_another_runtime(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    app.main(["--data-dir", str(tmp_path), "--enqueue-only"])
    assert "(5 jobs waiting)" in capsys.readouterr().out
    assert burro_json("stats", "--config", app.CONFIG, "--data-dir", tmp_path)["queues"] == {
        name: {**_zeros(), "pending": pending}
        for name, pending in (("emails", 2), ("media", 1), ("sync", 2))
    }
    with burro.start(app.CONFIG, data_dir=tmp_path) as manager:
        settle(manager)
    completed = burro_json("list", "--status", "completed", "--data-dir", tmp_path)
    assert completed["pagination"]["total_entries"] == 5


def _zeros() -> dict[str, int]:
    states = ("scheduled", "pending", "running", "retryable", "completed", "discarded")
    return {**dict.fromkeys(states, 0), "cancelled": 0, "failed_today": 0}
