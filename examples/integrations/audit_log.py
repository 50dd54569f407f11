"""An audit log: every lifecycle event appended to a JSON-lines file.

One JSON object per line (``{"at": ..., "event": "job.completed", "task_id": ..., ...}``),
flushed as it is written, so ``tail -f`` follows it and a crash loses at most a line.
Payloads never carry job args, so the file holds no personal data a worker received.

    python -m examples.integrations.audit_log --data-dir /tmp/audit
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import burro
from examples.integrations.jobs import run_sample


class AuditLog:
    """A lifecycle-event subscriber writing JSON lines to ``path``."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def attach(self, manager: burro.BackgroundTaskManager) -> None:
        """Start recording every event of ``manager``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8")
        manager.events.subscribe("*", self)

    def detach(self, manager: burro.BackgroundTaskManager) -> None:
        """Stop recording and close the file."""
        manager.events.unsubscribe("*", self)
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __call__(self, event: str, payload: Mapping[str, Any]) -> None:
        """Append one event as one line."""
        record = {"at": datetime.now(UTC).isoformat(), "event": event, **payload}
        line = json.dumps(record, default=str, sort_keys=True)
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()


def main(argv: Sequence[str] | None = None) -> None:
    """Run the sample jobs with an audit log, then print the log."""
    parser = argparse.ArgumentParser(description="burro audit log (JSON lines)")
    parser.add_argument("--data-dir", type=Path, default=Path("./burro_data"))
    args = parser.parse_args(argv)
    audit = AuditLog(args.data_dir / "audit.jsonl")
    with burro.start(data_dir=args.data_dir) as manager:
        audit.attach(manager)
        run_sample(manager)
    audit.detach(manager)  # after stop(): every event has been delivered
    print(audit.path.read_text(encoding="utf-8"), end="")


if __name__ == "__main__":
    main()
