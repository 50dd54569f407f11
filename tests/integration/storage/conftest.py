"""Fixtures of the LMDB integration tests: a data directory and child processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]


class Child:
    """A process running ``tests.integration.storage._child``, spoken to over pipes."""

    def __init__(self, *args: str, prefix: tuple[str, ...] = ()) -> None:
        command = [*prefix, sys.executable, "-m", "tests.integration.storage._child", *args]
        self.process = subprocess.Popen(
            command,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def read(self) -> Any:
        """The next JSON line the child prints (fails with its stderr if it died)."""
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            self.process.wait(timeout=10)
            assert self.process.stderr is not None
            pytest.fail(f"child exited {self.process.returncode}: {self.process.stderr.read()}")
        return json.loads(line)

    def send(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def finish(self) -> int:
        """Close stdin (the child's cue to stop) and wait for it to exit."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(timeout=20)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    """Where the test's store lives (not created yet)."""
    return tmp_path / "store"


@pytest.fixture
def spawn() -> Iterator[Callable[..., Child]]:
    """Start children; every one still running at the end of the test is killed."""
    children: list[Child] = []

    def start(*args: str, prefix: tuple[str, ...] = ()) -> Child:
        child = Child(*args, prefix=prefix)
        children.append(child)
        return child

    yield start
    for child in children:
        child.stop()
