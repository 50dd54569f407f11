"""The demo's story: a shop's busy minute, as jobs on three queues.

New customers sign up (welcome emails), upload videos (CPU-heavy processing), get pushed
to a flaky CRM (retried until it answers), one invoice is refused for good (dead-letter
queue), one reminder is scheduled and another is cancelled before it runs, and a
recurring clean-up tidies the outbox every second.
"""

from __future__ import annotations

import os
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from burro.demo.workers import (
    VideoProcessingWorker,
    export_invoice,
    remove_stale_partials,
    send_reminder_email,
    send_welcome_email,
    sync_crm_contact,
)
from burro.facade.manager import BackgroundTaskManager

__all__ = [
    "CUSTOMERS",
    "DEMO_QUEUES",
    "TIDY_OUTBOX",
    "DemoJobs",
    "DemoPaths",
    "enqueue_scenario",
]

#: The queues the shop runs, and how many jobs of each run at once.
DEMO_QUEUES: dict[str, dict[str, Any]] = {
    "emails": {"concurrency": 3},
    "media": {"concurrency": 2},
    "sync": {"concurrency": 2},
    "maintenance": {"concurrency": 1},
}

CUSTOMERS = (
    (1001, "Ada", "ada@example.com"),
    (1002, "Grace", "grace@example.com"),
    (1003, "Linus", "linus@example.com"),
    (1004, "Barbara", "barbara@example.com"),
    (1005, "Joe", "joe@example.com"),
)
_VIDEOS = ("unboxing.mp4", "review.mp4", "tutorial.mp4")
_VIDEO_BYTES = 4 * 1024 * 1024
_VIDEO_OPTIONS = {"renditions": ["1080p", "720p", "480p"], "passes": 4}
#: When the scheduled reminder runs, in seconds after it is enqueued.
REMINDER_DELAY_SECONDS = 1.5
#: The recurring clean-up: its name and schedule (6 fields: every second).
TIDY_OUTBOX = "tidy-outbox"
TIDY_OUTBOX_CRON = "* * * * * *"


@dataclass(frozen=True, slots=True)
class DemoPaths:
    """Where the demo keeps its store, its outbox and its uploads."""

    data_dir: Path
    outbox: Path
    uploads: Path

    @classmethod
    def prepare(cls, data_dir: Path | None) -> DemoPaths:
        """Use ``data_dir`` (which must be new or empty) or a fresh temporary directory."""
        if data_dir is None:
            data_dir = Path(tempfile.mkdtemp(prefix="burro-demo-"))
        elif data_dir.exists() and any(data_dir.iterdir()):
            raise FileExistsError(f"{data_dir} is not empty; the demo needs a fresh directory")
        paths = cls(data_dir, data_dir / "outbox", data_dir / "uploads")
        for folder in (paths.data_dir, paths.outbox, paths.uploads):
            folder.mkdir(parents=True, exist_ok=True)
        return paths


@dataclass(frozen=True, slots=True)
class DemoJobs:
    """The ids of the jobs the demo enqueued, by role."""

    welcome_emails: list[str]
    videos: list[str]
    crm_syncs: list[str]
    invoice: str
    reminder: str
    cancelled_reminder: str


def make_uploads(folder: Path) -> list[Path]:
    """Write the "uploaded" videos: a few MB of reproducible noise each."""
    noise = random.Random(7)
    uploads = []
    for name in _VIDEOS:
        path = folder / name
        path.write_bytes(noise.randbytes(_VIDEO_BYTES))
        uploads.append(path)
    return uploads


def leave_stale_partial(outbox: Path) -> Path:
    """A half-written email from a writer that died an hour ago, for the clean-up to find."""
    stale = outbox / "crashed-writer.eml.partial"
    stale.write_text("From: nobody\n")
    an_hour_ago = time.time() - 3600
    os.utime(stale, (an_hour_ago, an_hour_ago))
    return stale


def enqueue_scenario(manager: BackgroundTaskManager, paths: DemoPaths) -> DemoJobs:
    """Enqueue the whole story; returns the jobs' ids."""
    outbox = str(paths.outbox)
    leave_stale_partial(paths.outbox)
    manager.schedule_recurring_task(
        TIDY_OUTBOX, remove_stale_partials, "remove_stale_partials", [outbox], TIDY_OUTBOX_CRON
    )
    welcome = manager.enqueue_many(
        {"worker": send_welcome_email, "args": [outbox, user_id, name, address]}
        for user_id, name, address in CUSTOMERS
    )
    videos = [
        manager.enqueue_task(VideoProcessingWorker, "process_video", [str(upload), _VIDEO_OPTIONS])
        for upload in make_uploads(paths.uploads)
    ]
    # The first customer's sync meets the flaky CRM: two timeouts, then success.
    syncs = [
        manager.enqueue_task(sync_crm_contact, args=[user_id, 2 if index == 0 else 0])
        for index, (user_id, _, _) in enumerate(CUSTOMERS[:2])
    ]
    invoice = manager.enqueue_task(export_invoice, args=["INV-2024-0042"])
    reminder = manager.schedule_task(
        send_reminder_email,
        "send_reminder_email",
        [outbox, "ada@example.com", "Your cart is waiting for you."],
        REMINDER_DELAY_SECONDS,
    )
    unwanted = manager.schedule_task(
        send_reminder_email,
        "send_reminder_email",
        [outbox, "joe@example.com", "Last chance for 10% off!"],
        60,
    )
    manager.cancel_task(unwanted, reason="the customer unsubscribed")
    return DemoJobs(welcome, videos, syncs, invoice, reminder, unwanted)
