"""Fixtures shared by every test: no actor outlives its test."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest


@pytest.fixture(autouse=True)
def _stop_all_actors() -> Iterator[None]:
    yield
    pykka.ActorRegistry.stop_all(block=True, timeout=10)


@pytest.fixture
def thread_baseline() -> int:
    return threading.active_count()
