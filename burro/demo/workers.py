"""The workers of a small shop: the jobs ``burro demo`` and ``examples/shop`` run.

* :func:`send_welcome_email` and :func:`send_reminder_email` write real ``.eml`` files to
  an outbox folder (a stand-in for an SMTP server).
* :class:`VideoProcessingWorker` does CPU-heavy work on an uploaded file.
* :func:`sync_crm_contact` talks to a flaky external service: it fails its first
  attempts, then succeeds, so its retries are visible.
* :func:`export_invoice` never succeeds: it ends in the dead-letter queue.
* :func:`remove_stale_partials` is housekeeping, meant to run on a cron schedule.

Each job is safe to run twice (delivery is at least once): an email's file is named
after its task, a video's renditions overwrite their previous files.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
import uuid
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import burro

__all__ = [
    "InvoiceRejected",
    "VideoProcessingWorker",
    "export_invoice",
    "remove_stale_partials",
    "send_reminder_email",
    "send_welcome_email",
    "sync_crm_contact",
]

SENDER = "The Shop <hello@shop.example>"
#: A "frame" of the fake video codec.
_FRAME_BYTES = 64 * 1024


class InvoiceRejected(Exception):
    """The accounting service refused an invoice (no retry will change its mind)."""


def write_email(outbox: str | os.PathLike[str], to: str, subject: str, body: str) -> str:
    """Write one email to ``outbox`` as an ``.eml`` file named after the task; its path."""
    message = EmailMessage()
    message["From"] = SENDER
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(domain="shop.example")
    message.set_content(body)
    task = burro.current_task()
    name = task.id if task is not None else uuid.uuid4().hex
    folder = Path(outbox)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.eml"
    partial = path.with_suffix(".eml.partial")
    partial.write_bytes(bytes(message))
    os.replace(partial, path)  # a reader never sees half an email
    return str(path)


@burro.worker(queue="emails", max_attempts=3, retry_delay_seconds=0.2)
def send_welcome_email(outbox: str, user_id: int, name: str, address: str) -> str:
    """Welcome a new customer; returns the path of the written email."""
    body = (
        f"Hello {name},\n\nWelcome to the shop! Your customer number is {user_id}.\n\n-- The Shop\n"
    )
    return write_email(outbox, f"{name} <{address}>", f"Welcome to the shop, {name}!", body)


@burro.worker(queue="emails", max_attempts=3, retry_delay_seconds=0.2)
def send_reminder_email(outbox: str, address: str, text: str) -> str:
    """Send a reminder; returns the path of the written email."""
    return write_email(outbox, address, "A reminder from the shop", f"{text}\n\n-- The Shop\n")


@burro.worker(queue="media", max_attempts=2, timeout_seconds=60)
class VideoProcessingWorker:
    """Turns an uploaded video into renditions (a CPU-bound stand-in for a transcoder)."""

    def process_video(self, upload: str, opts: dict[str, Any]) -> dict[str, Any]:
        """Encode ``upload`` once per rendition in ``opts["renditions"]``; returns a manifest.

        Each rendition makes ``opts["passes"]`` passes that transform every frame and hash
        it, checking for cancellation between passes. The manifest is written next to the
        upload.
        """
        source = Path(upload).read_bytes()
        passes = int(opts.get("passes", 2))
        renditions = {}
        for number, rendition in enumerate(opts.get("renditions", ["720p"]), start=1):
            for encoding_pass in range(passes):
                task = burro.current_task()
                if task is not None:
                    task.check_cancelled()
                renditions[rendition] = _encode(source, key=number * passes + encoding_pass)
        manifest = {
            "upload": upload,
            "bytes": len(source),
            "frames": -(-len(source) // _FRAME_BYTES),
            "renditions": renditions,
        }
        target = Path(upload).with_suffix(".manifest.json")
        target.write_text(json.dumps(manifest, indent=2))
        return manifest


def _encode(source: bytes, key: int) -> str:
    """A fake codec: scramble each frame with ``key`` and chain the frames' digests."""
    table = bytes((value * (2 * key + 1) + key) % 256 for value in range(256))  # a bijection
    digest = hashlib.sha256()
    for offset in range(0, len(source), _FRAME_BYTES):
        frame = source[offset : offset + _FRAME_BYTES].translate(table)
        digest.update(hashlib.blake2b(frame, digest_size=32).digest())
    return digest.hexdigest()


@burro.worker(queue="sync", max_attempts=5, retry_delay_seconds=0.2)
def sync_crm_contact(user_id: int, failing_attempts: int = 2) -> str:
    """Push a customer to the CRM, which times out on the first ``failing_attempts`` tries."""
    task = burro.current_task()
    attempt = task.attempt if task is not None else failing_attempts + 1
    if attempt <= failing_attempts:
        raise ConnectionError(f"CRM timed out on attempt {attempt} (503 Service Unavailable)")
    return f"crm-contact-{user_id}"


@burro.worker(queue="sync", max_attempts=3, retry_delay_seconds=0.2)
def export_invoice(invoice_id: str) -> None:
    """Send an invoice to the accounting service, which rejects it every time."""
    raise InvoiceRejected(f"accounting API rejected invoice {invoice_id}: unknown customer account")


@burro.worker(queue="maintenance", max_attempts=1)
def remove_stale_partials(folder: str, older_than_seconds: float = 300.0) -> int:
    """Delete ``*.partial`` files that writers which died left in ``folder``; how many."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    for path in Path(folder).glob("*.partial"):
        with contextlib.suppress(FileNotFoundError):  # a writer may finish meanwhile
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
    return removed
