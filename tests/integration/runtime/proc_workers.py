"""A runtime in a child process, for kill -9 and shared-store tests.

Usage: ``python -c "import tests.integration.runtime.proc_workers as w; w.main()" DATA_DIR LOG
CONCURRENCY`` (imported by name, so its workers are registered under that name).
Prints ``ready`` once started, runs until its stdin closes, then stops gracefully.
Each job appends ``start <pid> <n>`` and ``end <pid> <n>`` lines to LOG.
"""

from __future__ import annotations

import os
import sys
import threading

import burro


def _log(line: str) -> None:
    path = os.environ["TEST_JOBS_LOG"]
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


@burro.worker
def tracked(n: int) -> int:
    """Logs its start and end; lasts TEST_JOB_SECONDS."""
    _log(f"start {os.getpid()} {n}")
    threading.Event().wait(float(os.environ.get("TEST_JOB_SECONDS", "0")))
    _log(f"end {os.getpid()} {n}")
    return n


def main() -> None:
    data_dir, log, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    os.environ["TEST_JOBS_LOG"] = log
    manager = burro.start(
        data_dir=data_dir,
        durability="fsync",
        poll_interval_seconds=0.05,
        queues={"default": {"concurrency": concurrency}},
    )
    print("ready", flush=True)
    sys.stdin.read()
    manager.stop(timeout=5)
