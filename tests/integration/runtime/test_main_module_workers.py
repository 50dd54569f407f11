"""Workers defined in the app's main module: stored under a name other processes import."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import burro
from burro.states import TaskState
from burro.testing import drain

REPO_ROOT = Path(__file__).resolve().parents[3]

#: An app whose workers live in the module it is started as: it enqueues, or runs jobs.
APP = """
import json, os, sys
from pathlib import Path
import burro

if "APP_IMPORTS" in os.environ:
    with Path(os.environ["APP_IMPORTS"]).open("a") as imports:
        imports.write("imported as " + __name__ + "\\n")

@burro.worker
def greet(name):
    return "hello " + name

@burro.worker
class Mailer:
    def send(self, to):
        return "sent to " + to

def main():
    data_dir, command = sys.argv[1:3]
    with burro.start(data_dir=data_dir, durability="process") as manager:
        ids = [
            manager.enqueue_task(greet, args=["ada"]),
            manager.enqueue_task(Mailer, "send", ["bob"]),
        ]
        if command == "run":
            burro.testing.drain(manager)
        tasks = [manager.get_task_status(i) for i in ids]
        print(json.dumps([[t.worker, t.status.value, t.result] for t in tasks]))

if __name__ == "__main__":
    main()
"""


def app_environment(tmp_path: Path) -> dict[str, str]:
    """The app finds burro, and logs each import of itself to ``imports``."""
    return {"PYTHONPATH": str(REPO_ROOT), "APP_IMPORTS": str(tmp_path / "imports")}


def run_app(tmp_path: Path, how: list[str], command: str) -> list[list[object]]:
    (tmp_path / "shop_app.py").write_text(APP)
    completed = subprocess.run(
        [sys.executable, *how, str(tmp_path / "data"), command],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=app_environment(tmp_path),
    )
    return json.loads(completed.stdout.splitlines()[-1])  # type: ignore[no-any-return]


def test_a_main_module_started_with_dash_m_stores_its_import_name(tmp_path: Path) -> None:
    tasks = run_app(tmp_path, ["-m", "shop_app"], "enqueue")
    assert [worker for worker, _, _ in tasks] == ["shop_app", "shop_app:Mailer"]


def test_its_own_process_runs_them_without_importing_the_app_a_second_time(
    tmp_path: Path,
) -> None:
    tasks = run_app(tmp_path, ["-m", "shop_app"], "run")
    assert tasks == [
        ["shop_app", "completed", "hello ada"],
        ["shop_app:Mailer", "completed", "sent to bob"],
    ]
    assert (tmp_path / "imports").read_text() == "imported as __main__\n"


def test_another_process_importing_the_app_runs_its_jobs(tmp_path: Path) -> None:
    run_app(tmp_path, ["-m", "shop_app"], "enqueue")
    sys.path.insert(0, str(tmp_path))
    try:
        __import__("shop_app")  # what ``burro run --app shop_app`` does
        with burro.start(data_dir=tmp_path / "data", durability="process") as manager:
            drain(manager)
            tasks, _ = manager.list_tasks()
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("shop_app", None)
    assert sorted((t.status, t.result) for t in tasks) == [
        (TaskState.COMPLETED, "hello ada"),
        (TaskState.COMPLETED, "sent to bob"),
    ]


def test_a_script_keeps_main_and_says_once_per_worker_that_only_it_can_run_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "shop_app.py").write_text(APP)
    completed = subprocess.run(
        [sys.executable, "shop_app.py", "data", "run"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env=app_environment(tmp_path),
    )
    tasks = json.loads(completed.stdout.splitlines()[-1])
    assert [worker for worker, status, _ in tasks] == ["__main__", "__main__:Mailer"]
    assert all(status == "completed" for _, status, _ in tasks)  # this same script runs them
    assert completed.stderr.count("is defined in the script run as __main__") == 2
