"""Fixtures: runtimes on a fresh data directory, stopped after each test."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import burro
from burro.testing import ManualClock
from tests.integration.runtime import workers

Factory = Callable[..., burro.BackgroundTaskManager]


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Wait for a state change that nothing signals (checked every 10 ms)."""
    pause = threading.Event()
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        pause.wait(0.01)


@pytest.fixture
def recorder() -> workers.Recorder:
    return workers.reset()


def managers(tmp_path: Path, recorder: workers.Recorder, **defaults: Any) -> Iterator[Factory]:
    """A factory of runtimes (LMDB in tmp_path, plus ``defaults``); all stopped afterwards."""
    started: list[burro.BackgroundTaskManager] = []

    def start(**overrides: Any) -> burro.BackgroundTaskManager:
        manager = burro.start(
            **{"data_dir": tmp_path / "data", "durability": "process", **defaults, **overrides}
        )
        started.append(manager)
        return manager

    yield start
    recorder.open_gates()
    for manager in started:
        manager.stop(timeout=5)


@pytest.fixture
def start_manager(tmp_path: Path, recorder: workers.Recorder) -> Iterator[Factory]:
    """Start runtimes (LMDB in tmp_path unless told otherwise); all stopped afterwards."""
    yield from managers(tmp_path, recorder)


@pytest.fixture
def manager(start_manager: Factory) -> burro.BackgroundTaskManager:
    return start_manager()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
