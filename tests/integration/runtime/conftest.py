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


@pytest.fixture
def start_manager(tmp_path: Path, recorder: workers.Recorder) -> Iterator[Factory]:
    """Start runtimes (LMDB in tmp_path unless told otherwise); all stopped afterwards."""
    started: list[burro.BackgroundTaskManager] = []

    def start(**overrides: Any) -> burro.BackgroundTaskManager:
        overrides.setdefault("data_dir", tmp_path / "data")
        overrides.setdefault("durability", "process")
        manager = burro.start(**overrides)
        started.append(manager)
        return manager

    yield start
    recorder.gate.set()
    for manager in started:
        manager.stop(timeout=5)


@pytest.fixture
def manager(start_manager: Factory) -> burro.BackgroundTaskManager:
    return start_manager()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()
