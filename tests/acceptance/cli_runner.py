"""Running ``burro`` in-process for the tests, and waiting for state changes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

import burro
from burro.cli import cli
from burro.states import ACTIVE_STATES

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKERS = "tests.acceptance.cli_workers"


def burro_cli(*args: object) -> Result:
    """Run ``burro ARGS`` through click's runner; a traceback on stderr fails the test."""
    result = CliRunner().invoke(cli, [str(arg) for arg in args], catch_exceptions=False)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def burro_json(*args: object) -> Any:
    """Run ``burro ARGS --json``, check it succeeded, and parse its stdout."""
    result = burro_cli(*args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout, parse_constant=_not_json)


def _not_json(word: str) -> None:
    raise AssertionError(f"{word} is not JSON (strict parsers refuse it)")


def one_error_line(result: Result) -> str:
    """The single line a failed command printed on stderr (and nothing on stdout)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert result.stdout == ""
    return lines[0]


def wait_until(predicate: Callable[[], bool], timeout: float = 15.0) -> None:
    """Wait for a change in another process, which nothing here can be notified of."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        pause.wait(0.02)


def settle(manager: burro.BackgroundTaskManager, timeout: float = 15.0) -> None:
    """Block until no task of ``manager``'s store is waiting, pending, running or retryable.

    Unlike ``drain``, this also waits for retries that are not due yet. It wakes on
    lifecycle events; the short timeout covers a retry that becomes due between two.
    """
    changed = threading.Event()

    def wake(_event: str, _payload: Mapping[str, Any]) -> None:
        changed.set()

    manager.events.subscribe("*", wake)
    deadline = time.monotonic() + timeout
    try:
        while _active(manager):
            assert time.monotonic() < deadline, f"still active: {manager.get_statistics()}"
            changed.wait(0.05)
            changed.clear()
    finally:
        manager.events.unsubscribe("*", wake)


def _active(manager: burro.BackgroundTaskManager) -> int:
    queues = manager.get_statistics()["queues"].values()
    return sum(counts[state.value] for counts in queues for state in ACTIVE_STATES)
