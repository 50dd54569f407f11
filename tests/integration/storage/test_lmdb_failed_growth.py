"""A map that cannot grow: a clean StorageError, nothing half-written and never a crash.

Each test runs ``tests.integration.storage._failed_growth`` in a child process under a
resource limit, then opens the store here, in a process that never saw the failure.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from burro.storage import JobFilter
from burro.storage.lmdb import LmdbStorage
from tests.integration.storage._failed_growth import MAP_SIZE
from tests.integration.storage.conftest import ROOT

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc and Linux resource limits"),
]


def run_child(limit: str, store_dir: Path) -> dict[str, Any]:
    """The child's report, once it has exited normally (a crash fails the test)."""
    finished = subprocess.run(
        [sys.executable, "-m", "tests.integration.storage._failed_growth", limit, str(store_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=45,
        check=False,
    )
    assert finished.returncode == 0, f"child exited {finished.returncode}: {finished.stderr}"
    report: dict[str, Any] = json.loads(finished.stdout)
    return report


def assert_stored_exactly(store_dir: Path, committed: list[str]) -> None:
    """A fresh process finds every committed job, and nothing of the refused batch."""
    store = LmdbStorage(store_dir, durability="process")
    try:
        jobs, total = store.list_jobs(JobFilter(), offset=0, limit=len(committed) + 100)
        assert total == len(committed)
        assert [job.id for job in jobs] == committed
    finally:
        store.close()


@pytest.mark.parametrize(
    ("limit", "refusal"),
    [("file-size", "cannot reserve"), ("address-space", "cannot map")],
)
def test_a_growth_the_system_refuses_fails_the_batch_and_the_store_stays_usable(
    store_dir: Path, limit: str, refusal: str
) -> None:
    """The file and the address space are asked first: LMDB's map is never lost."""
    report = run_child(limit, store_dir)
    assert report["error"] is not None
    assert str(store_dir) in report["error"]
    assert refusal in report["error"]
    assert report["file_length"] == MAP_SIZE  # what the failed growth reserved is given back
    assert report["read"] == "ok: pending"
    assert report["listed"] == f"ok: {len(report['committed']) - 1}"
    assert report["write"].startswith("ok: ")
    assert report["reopen"] == "ok: None"
    assert_stored_exactly(store_dir, report["committed"])


@pytest.mark.parametrize("limit", ["remap-file-size", "remap-address-space"])
def test_a_remap_lmdb_fails_ends_the_store_in_that_process_without_a_crash(
    store_dir: Path, limit: str
) -> None:
    """Past the store's own checks, a failed remap refuses every later use clearly.

    LMDB gave the environment up half torn down: closing or freeing it could unmap
    memory that is no longer its own, so the process keeps it, unused, to the end.
    """
    report = run_child(limit, store_dir)
    error = report["error"]
    assert error is not None
    assert str(store_dir) in error
    assert "mdb_env_set_mapsize" in error
    assert "restart" in error
    for step in ("read", "listed", "write", "reopen"):
        assert report[step] == f"StorageError: {error}"
    assert_stored_exactly(store_dir, report["committed"])
