"""The names DESIGN.md makes public are reachable the way its examples reach them."""

from __future__ import annotations

import subprocess
import sys

import burro


def test_every_name_in_all_is_exported() -> None:
    assert all(hasattr(burro, name) for name in burro.__all__)


def test_the_testing_helpers_need_nothing_but_import_burro() -> None:
    """``burro.testing.drain(manager)`` as the docs write it, in a fresh interpreter."""
    probe = "import burro; print(burro.testing.drain.__name__, burro.testing.crash_actor.__name__)"
    completed = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=30, check=True
    )
    assert completed.stdout.split() == ["drain", "crash_actor"]
