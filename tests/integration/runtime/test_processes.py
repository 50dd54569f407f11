"""Real processes: kill -9 mid-run, restarts, and several runtimes sharing one store."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import burro
from burro.states import TaskState
from burro.storage import JobFilter, open_storage
from tests.integration.runtime.conftest import wait_until

pytestmark = pytest.mark.slow

WORKERS = "tests.integration.runtime.proc_workers"
ROOT = Path(__file__).resolve().parents[3]


class Child:
    """A runtime process on a shared data directory."""

    def __init__(self, data_dir: Path, log: Path, concurrency: int, job_seconds: float) -> None:
        env = {**os.environ, "TEST_JOB_SECONDS": str(job_seconds), "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-c",
                f"import {WORKERS} as w; w.main()",
                str(data_dir),
                str(log),
                str(concurrency),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd=ROOT,
            text=True,
        )
        assert self.proc.stdout is not None
        assert self.proc.stdout.readline().strip() == "ready"

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)
        self._close_pipes()

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            self.proc.wait(20)
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@pytest.fixture
def children() -> Iterator[list[Child]]:
    started: list[Child] = []
    yield started
    for child in started:
        child.kill()


def _enqueue(data_dir: Path, count: int) -> list[str]:
    with burro.start(data_dir=data_dir, queues={"default": {"concurrency": 1}}) as manager:
        manager.pause_queue("default")  # this runtime only enqueues
        return manager.enqueue_many(
            [{"worker": WORKERS, "function": "tracked", "args": [n]} for n in range(count)]
        )


def _log_lines(log: Path) -> list[tuple[str, int, int]]:
    if not log.exists():
        return []
    rows = [line.split() for line in log.read_text().splitlines() if line]
    return [(kind, int(pid), int(n)) for kind, pid, n in rows]


def _completed(data_dir: Path) -> int:
    storage = open_storage("lmdb", data_dir)
    try:
        return sum(by[TaskState.COMPLETED] for by in storage.counts().values())
    finally:
        storage.close()


def test_kill_9_mid_run_then_restart_finishes_every_job(
    tmp_path: Path, children: list[Child]
) -> None:
    data, log, total = tmp_path / "data", tmp_path / "jobs.log", 40
    _enqueue(data, total)
    first = Child(data, log, concurrency=2, job_seconds=0.02)
    children.append(first)
    wait_until(lambda: sum(1 for k, _, _ in _log_lines(log) if k == "end") >= 10)
    first.kill()
    interrupted = _running_in_store(data)  # claimed, outcome not committed at the kill
    second = Child(data, log, concurrency=2, job_seconds=0.0)
    children.append(second)
    wait_until(lambda: _completed(data) == total, timeout=30)
    second.stop()
    starts = collections.Counter(n for kind, _, n in _log_lines(log) if kind == "start")
    assert set(starts) == set(range(total))  # every job ran
    twice = {n for n, count in starts.items() if count > 1}
    assert twice <= interrupted  # only the interrupted ones ran again
    assert len(interrupted) <= 2  # at most the concurrency


def _running_in_store(data_dir: Path) -> set[int]:
    storage = open_storage("lmdb", data_dir)
    try:
        running, _ = storage.list_jobs(
            JobFilter(states=frozenset({TaskState.RUNNING})), offset=0, limit=100
        )
    finally:
        storage.close()
    return {int(job.args[0]) for job in running}


def test_live_process_rescues_claims_of_a_killed_one_at_once(
    tmp_path: Path, children: list[Child]
) -> None:
    data, log = tmp_path / "data", tmp_path / "jobs.log"
    doomed = Child(data, log, concurrency=2, job_seconds=600)  # would hold its jobs for ages
    children.append(doomed)
    _enqueue(data, 2)
    wait_until(lambda: len(_log_lines(log)) == 2)
    survivor = Child(data, log, concurrency=2, job_seconds=0.0)
    children.append(survivor)
    doomed.kill()
    wait_until(lambda: _completed(data) == 2, timeout=20)
    survivor.stop()
    ends = {(pid, n) for kind, pid, n in _log_lines(log) if kind == "end"}
    assert ends == {(survivor.proc.pid, 0), (survivor.proc.pid, 1)}


def test_three_processes_share_one_store_without_running_a_job_twice(
    tmp_path: Path, children: list[Child]
) -> None:
    data, log, total = tmp_path / "data", tmp_path / "jobs.log", 150
    for _ in range(3):
        children.append(Child(data, log, concurrency=2, job_seconds=0.005))
    _enqueue(data, total)
    wait_until(lambda: _completed(data) == total, timeout=60)
    for child in children:
        child.stop()
    lines = _log_lines(log)
    starts = collections.Counter(n for kind, _, n in lines if kind == "start")
    assert starts == collections.Counter(range(total))  # each exactly once
    assert len({pid for _, pid, _ in lines}) >= 2  # the work was shared
