"""The shop's application: it starts burro in its own ``main`` and enqueues work.

Run it from the repository root::

    python -m examples.shop.app                 # run the jobs in this process
    python -m examples.shop.app --enqueue-only  # only enqueue; `burro run` runs them

A web app would call :func:`sign_up` and :func:`upload_video` from its request handlers:
they return at once, and burro does the slow part in the background.
"""

from __future__ import annotations

import argparse
import random
import threading
from collections.abc import Sequence
from pathlib import Path

import burro
from burro.states import FINISHED_STATES
from examples.shop import workers

CONFIG = Path(__file__).with_name("burro.toml")


def sign_up(manager: burro.BackgroundTaskManager, outbox: Path, user_id: int, name: str) -> str:
    """Register a customer: the welcome email and the CRM sync run in the background."""
    address = f"{name.lower()}@example.com"
    manager.enqueue_task(workers.sync_crm_contact, args=[user_id, 0])
    return manager.enqueue_task(
        workers.send_welcome_email, args=[str(outbox), user_id, name, address]
    )


def upload_video(manager: burro.BackgroundTaskManager, upload: Path) -> str:
    """Accept an upload: the renditions are encoded in the background."""
    return manager.enqueue_task(
        workers.VideoProcessingWorker,
        "process_video",
        [str(upload), {"renditions": ["720p", "480p"], "passes": 1}],
    )


def enqueue_work(manager: burro.BackgroundTaskManager, data_dir: Path) -> list[str]:
    """What the shop does in its first minute: two sign-ups and an upload."""
    outbox, uploads = data_dir / "outbox", data_dir / "uploads"
    uploads.mkdir(parents=True, exist_ok=True)
    video = uploads / "first-video.mp4"
    video.write_bytes(random.Random(1).randbytes(1024 * 1024))
    return [
        sign_up(manager, outbox, 1, "Ada"),
        sign_up(manager, outbox, 2, "Grace"),
        upload_video(manager, video),
    ]


def wait_until_finished(
    manager: burro.BackgroundTaskManager, task_ids: list[str], timeout: float = 30.0
) -> None:
    """Block until every task in ``task_ids`` has finished, woken by lifecycle events."""
    changed = threading.Event()
    manager.events.subscribe("*", lambda _event, _payload: changed.set())
    waiting = set(task_ids)
    while waiting:
        waiting = {i for i in waiting if manager.get_task_status(i).status not in FINISHED_STATES}
        if waiting and not changed.wait(timeout):
            raise TimeoutError(f"tasks still unfinished after {timeout}s: {sorted(waiting)}")
        changed.clear()


def _summary(result: object) -> str:
    if isinstance(result, dict):  # a video manifest
        return f"{len(result['renditions'])} renditions of {result['upload']}"
    return str(result)


def main(argv: Sequence[str] | None = None) -> None:
    """Start burro, enqueue the shop's work, and (unless --enqueue-only) run it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: ./shop_data")
    parser.add_argument("--enqueue-only", action="store_true", help="leave the jobs to `burro run`")
    options = parser.parse_args(argv)
    overrides = {"data_dir": options.data_dir} if options.data_dir else {}
    # connect() stores jobs without running them; start() also runs the queues.
    open_burro = burro.connect if options.enqueue_only else burro.start
    with open_burro(CONFIG, **overrides) as manager:
        data_dir = Path(manager.config.data_dir)
        task_ids = enqueue_work(manager, data_dir)
        if options.enqueue_only:
            waiting = manager.list_tasks(status=["pending", "scheduled"], per_page=1)[1]
            print(
                f"enqueued two sign-ups and an upload in {data_dir} "
                f"({waiting.total_entries} jobs waiting); run them with:"
            )
            print(
                f"  burro run --app examples.shop.workers --config {CONFIG} --data-dir {data_dir}"
            )
            return
        wait_until_finished(manager, task_ids)
        for task_id in task_ids:
            task = manager.get_task_status(task_id)
            print(f"{task.function:<20} {task.status.value:<10} {_summary(task.result)}")


if __name__ == "__main__":
    main()
