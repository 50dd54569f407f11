"""Fixtures for the ``burro`` command: a store, a config file, a runtime to share it with."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import burro
from tests.acceptance.cli_runner import REPO_ROOT, WORKERS

_CONFIG = """\
[burro]
durability = "process"
poll_interval_seconds = 0.05
default_retry_delay_seconds = 0.01
shutdown_timeout_seconds = 20

[burro.queues.default]
concurrency = 2

[burro.queues.reports]
concurrency = 1
"""


@dataclass(frozen=True)
class Store:
    """A data directory and the config file every command of a test uses."""

    data_dir: Path
    config: Path

    @property
    def args(self) -> list[str]:
        """``--data-dir D --config C``."""
        return ["--data-dir", str(self.data_dir), "--config", str(self.config)]

    def start(self) -> burro.BackgroundTaskManager:
        """A runtime in this process on the same store and configuration."""
        return burro.start(self.config, data_dir=self.data_dir)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    config = tmp_path / "burro.toml"
    config.write_text(_CONFIG)
    return Store(tmp_path / "data", config)


@pytest.fixture
def manager(store: Store) -> Iterator[burro.BackgroundTaskManager]:
    """A runtime running in this process on ``store``."""
    manager = store.start()
    yield manager
    manager.stop(timeout=5)


@dataclass
class RuntimeProcess:
    """``burro run`` in a child process; its stderr lines are collected as they come."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    reader: threading.Thread | None = None

    def collect(self) -> None:
        """Read stderr to its end (in a thread), so the child never blocks on a full pipe."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_ready(self) -> None:
        """Block until the runtime says it is running (or fail if it exits first)."""
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("burro: running"):
                self.reader = threading.Thread(target=self.collect, daemon=True)
                self.reader.start()
                return
        pytest.fail(f"burro run exited early: {self.lines}")

    def signal(self, signum: int = signal.SIGTERM) -> None:
        """Send ``signum`` to the runtime."""
        self.process.send_signal(signum)

    def wait(self, timeout: float = 30.0) -> int:
        """Wait for the runtime to exit, read the rest of its stderr; its exit code."""
        code = self.process.wait(timeout=timeout)
        if self.reader is not None:
            self.reader.join(timeout=5)
        assert self.process.stderr is not None
        self.process.stderr.close()
        return code


def launch_runtime(store: Store, *extra: str) -> RuntimeProcess:
    """Start ``python -m burro run --app <test workers>`` on ``store``, ready to work."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-m", "burro", "run", "--app", WORKERS, *store.args, *extra]
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    runtime = RuntimeProcess(process)
    try:
        runtime.wait_ready()
    except BaseException:
        process.kill()
        runtime.wait()
        raise
    return runtime


@pytest.fixture
def runtime_process(store: Store) -> Iterator[RuntimeProcess]:
    """A ``burro run`` process on ``store``; stopped (SIGTERM) after the test if still alive."""
    runtime = launch_runtime(store, "--log-level", "WARNING")
    yield runtime
    if runtime.process.poll() is None:
        runtime.signal(signal.SIGTERM)
        runtime.signal(signal.SIGTERM)
    runtime.wait()
