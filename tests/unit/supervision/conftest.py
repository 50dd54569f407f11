"""Every test of the supervision suite ends with no actor and no new thread left."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pykka
import pytest


@pytest.fixture(autouse=True)
def _stop_every_actor() -> Iterator[None]:
    threads_before = set(threading.enumerate())
    yield
    # Registration order puts supervisors before their children: stopping a root first
    # shuts its tree down in order instead of provoking restarts from below.
    for ref in pykka.ActorRegistry.get_all():
        ref.stop(timeout=10)
    pykka.ActorRegistry.stop_all(timeout=10)
    new_threads = [t for t in threading.enumerate() if t not in threads_before]
    for thread in new_threads:
        thread.join(timeout=10)
    leaked = [t.name for t in new_threads if t.is_alive()]
    assert not leaked, f"threads still running after the test: {leaked}"
