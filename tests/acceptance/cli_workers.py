"""Workers for the CLI tests; ``burro run --app tests.acceptance.cli_workers`` runs them."""

from __future__ import annotations

import threading
from pathlib import Path

import burro


@burro.worker
def add(a: int, b: int) -> int:
    """Return the sum."""
    return a + b


@burro.worker(max_attempts=2, retry_delay_seconds=0.01)
def always_fails(reason: str) -> None:
    """Fail every attempt (ends in the dead-letter queue)."""
    raise RuntimeError(reason)


@burro.worker
def hold_until(gate: str, started: str, timeout: float = 30.0) -> str:
    """Signal ``started`` (a file), then wait until the file ``gate`` exists."""
    Path(started).touch()
    pause = threading.Event()
    waited = 0.0
    while not Path(gate).exists() and waited < timeout:
        pause.wait(0.01)
        waited += 0.01
    return "released" if Path(gate).exists() else "timed out"
