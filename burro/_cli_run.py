"""``burro run``: import the app's workers, run a runtime until SIGINT/SIGTERM.

The first signal stops gracefully: no new claims, running jobs get up to
``shutdown_timeout_seconds`` to finish, the rest are released back to ``pending``.
A second signal releases them at once.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import click

from burro._cli_support import (
    EXIT_OK,
    EXIT_STORAGE,
    CliError,
    StoreOptions,
    add_working_directory,
    echo_error,
    load_settings,
    location_options,
)
from burro.errors import RuntimeNotRunning
from burro.facade.manager import BackgroundTaskManager

__all__ = ["ShutdownSignals", "import_apps", "run"]

_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
#: How often the main thread looks at the runtime while waiting for a signal.
_HEARTBEAT_SECONDS = 0.5
#: How often a graceful stop looks whether the running jobs are done.
_DRAIN_CHECK_SECONDS = 0.05


class ShutdownSignals:
    """Counts SIGINT/SIGTERM: the first asks for a graceful stop, the second for a fast one."""

    def __init__(self) -> None:
        self.graceful = threading.Event()
        self.fast = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        """The signal handler (runs in the main thread)."""
        if self.graceful.is_set():
            self.fast.set()
        else:
            self.graceful.set()

    @contextmanager
    def installed(self) -> Iterator[ShutdownSignals]:
        """Handle SIGINT and SIGTERM while inside the block, then restore the old handlers."""
        previous = {sig: signal.signal(sig, self) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield self
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def import_apps(modules: tuple[str, ...]) -> None:
    """Import the app's worker modules (their ``@burro.worker`` marks make them runnable)."""
    add_working_directory()
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError as exc:
            raise CliError(f"cannot import app module {name!r}: {exc}") from None
        except Exception as exc:  # the module itself failed: a bug in it, or bad input
            raise CliError(
                f"app module {name!r} failed on import: {type(exc).__name__}: {exc}"
            ) from None


@click.command()
@click.option(
    "--app",
    "apps",
    multiple=True,
    metavar="MODULE",
    help="A module defining workers, e.g. myapp.workers; repeatable.",
)
@click.option("--log-level", type=click.Choice(_LOG_LEVELS), default="INFO", show_default=True)
@location_options
def run(apps: tuple[str, ...], log_level: str, *, store: StoreOptions) -> None:
    """Run the queues of the configuration until SIGINT or SIGTERM."""
    config = load_settings(store)
    import_apps(apps)
    logging.basicConfig(
        level=log_level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )
    from burro.facade.manager import start

    with ShutdownSignals().installed() as signals:
        manager = start(config)
        echo_error(
            f"burro: running {', '.join(config.queues)} on {config.data_dir} "
            f"(pid {os.getpid()}); Ctrl-C or SIGTERM stops"
        )
        healthy = _wait_for_signal(manager, signals)
        _stop(manager, signals, config.shutdown_timeout_seconds)
    echo_error("burro: stopped")
    raise click.exceptions.Exit(EXIT_OK if healthy else EXIT_STORAGE)


def _wait_for_signal(manager: BackgroundTaskManager, signals: ShutdownSignals) -> bool:
    """Block until a signal arrives (True) or the runtime fails on its own (False)."""
    while not signals.graceful.wait(_HEARTBEAT_SECONDS):
        if not manager.running:
            echo_error("burro: the runtime failed; stopping")
            return False
    return True


def _stop(manager: BackgroundTaskManager, signals: ShutdownSignals, timeout: float) -> None:
    """Stop claiming, wait for running jobs (until ``timeout`` or a second signal), stop."""
    try:
        for queue in manager.config.queues:
            manager.pause_queue(queue)
        busy = _busy(manager)
    except RuntimeNotRunning:
        busy = 0
    if busy:
        echo_error(
            f"burro: stopping: waiting up to {timeout:g}s for {busy} running job(s); "
            "signal again to stop now"
        )
    deadline = time.monotonic() + timeout
    while busy and time.monotonic() < deadline and not signals.fast.is_set():
        signals.fast.wait(_DRAIN_CHECK_SECONDS)
        busy = _busy(manager)
    # What still runs now is released back to pending for another runtime or the next start.
    manager.stop(timeout=0)


def _busy(manager: BackgroundTaskManager) -> int:
    try:
        summary = manager.get_statistics()["workers_summary"]
    except RuntimeNotRunning:
        return 0
    return int(summary["total_busy"])
