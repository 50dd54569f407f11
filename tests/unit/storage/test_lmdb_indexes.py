"""The LMDB store's indexes hold exactly the entries its records imply, however they got there.

The writer takes short cuts on the hot paths (a claim's placement taken back by its
settlement, a job due when inserted filed under one time key for both indexes, counts
adjusted in place): the expected entries here are rebuilt from each record with the key
layouts alone, so a short cut that wrote other bytes than the general rule fails.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from burro.states import FINISHED_STATES, TaskState
from burro.storage import Cancel, Complete, Fail, Settlement
from burro.storage._lmdb_keys import (
    BY_STATE,
    COUNT,
    READY,
    STATE_CODES,
    U32,
    U64,
    claim_prefix,
    micros,
    signed,
)
from burro.storage._lmdb_read import queue_key
from burro.storage._lmdb_records import StoredJob
from burro.storage.lmdb import LmdbStorage
from tests.unit.storage.factories import RUNTIME, T0, at, dump_store, new_job

Entries = dict[bytes, bytes]
_INDEXES = (b"by_state", b"by_time", b"ready", b"claims")

jobs = st.lists(
    st.fixed_dictionaries(
        {
            "queue": st.sampled_from(["default", "media"]),
            "priority": st.sampled_from([0, 3, -2]),
            # Due when inserted (most jobs), overdue, or later (scheduled).
            "scheduled_at": st.sampled_from([None, at(-60), at(3600)]),
        }
    ),
    min_size=1,
    max_size=8,
)
#: What becomes of each claimed job, in turn.
outcomes = st.lists(st.sampled_from(["complete", "retry", "discard", "cancel", "keep"]), max_size=8)


def _settlement(outcome: str, job_id: str, attempt: int) -> Settlement | None:
    if outcome == "complete":
        return Complete(job_id, RUNTIME, attempt, {"done": True})
    if outcome == "retry":
        return Fail(job_id, RUNTIME, attempt, "boom", retry_at=at(30))
    if outcome == "discard":
        return Fail(job_id, RUNTIME, attempt, "boom", retry_at=None)
    if outcome == "cancel":
        return Cancel(job_id, RUNTIME, attempt)
    return None  # left running


def _contents(path: Path) -> dict[bytes, Entries]:
    """Every entry of every named database of the store at ``path``, by key."""
    return {name: dict(entries) for name, entries in dump_store(path).items()}


def _implied(contents: dict[bytes, Entries]) -> tuple[dict[bytes, Entries], Entries]:
    """The index entries and the non-zero counts the stored records imply."""
    queues = contents[b"queues"]
    indexes: dict[bytes, Entries] = {name: {} for name in _INDEXES}
    counts: Counter[bytes] = Counter()
    for key, data in contents[b"jobs"].items():
        job = StoredJob.decode(data)
        queue = U32.unpack(queues[queue_key(job.queue)])[0]
        code, seq, worker = STATE_CODES[job.state], U64.unpack(key)[0], job.worker.encode()
        counts[COUNT.pack(queue, code)] += 1
        indexes[b"by_state"][BY_STATE.pack(code, queue, micros(job.inserted_at), seq)] = worker
        if job.state is TaskState.RUNNING:
            assert job.claimed_by is not None
            indexes[b"claims"][claim_prefix(job.claimed_by) + key] = job.claimed_by.encode()
            continue
        finished = job.state in FINISHED_STATES
        time = job.completed_at if finished else job.scheduled_at
        assert time is not None
        indexes[b"by_time"][BY_STATE.pack(code, queue, micros(time), seq)] = worker
        if job.state is TaskState.PENDING:
            ready = READY.pack(queue, signed(job.priority), micros(job.scheduled_at), seq)
            indexes[b"ready"][ready] = b""
    return indexes, {key: U64.pack(count) for key, count in counts.items()}


def _assert_indexes_follow_records(path: Path) -> None:
    contents = _contents(path)
    indexes, counts = _implied(contents)
    for name in _INDEXES:
        assert contents.get(name, {}) == indexes[name], name
    stored_counts = {key: value for key, value in contents[b"counts"].items() if value != bytes(8)}
    assert stored_counts == counts


def _run(directory: Path, kinds: list[dict[str, Any]], fates: list[str]) -> None:
    """Insert ``kinds`` one by one, then claim and settle as workers do, in one store."""
    store = LmdbStorage(directory / "store", durability="process")
    try:
        for kind in kinds:
            store.insert(new_job(**kind), T0)
        running: list[tuple[str, int]] = []
        for step, fate in enumerate(fates, start=1):
            settlements = []
            if running:
                job_id, attempt = running.pop(0)
                settlement = _settlement(fate, job_id, attempt)
                if settlement is None:
                    running.append((job_id, attempt))
                else:
                    settlements.append(settlement)
            claims = {"default": 1, "media": 2}
            _, claimed = store.settle_and_claim(settlements, claims, RUNTIME, at(step))
            running += [(job.id, job.attempts) for jobs in claimed.values() for job in jobs]
        store.promote(at(3600 * 2), 100)
        store.settle_and_claim([], {"default": 3, "media": 3}, RUNTIME, at(3600 * 3))
    finally:
        store.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs, outcomes)
def test_claims_and_settlements_leave_the_indexes_their_records_imply(
    kinds: list[dict[str, Any]], fates: list[str]
) -> None:
    with tempfile.TemporaryDirectory() as directory:
        _run(Path(directory), kinds, fates)
        _assert_indexes_follow_records(Path(directory) / "store")


def test_a_job_due_when_inserted_shares_its_time_key_and_one_due_later_does_not(
    tmp_path: Path,
) -> None:
    store = LmdbStorage(tmp_path / "store", durability="process")
    try:
        store.insert(new_job(), T0)
        store.insert(new_job(scheduled_at=T0 - timedelta(seconds=1)), T0)
        store.insert(new_job(scheduled_at=T0 + timedelta(microseconds=1)), T0)
    finally:
        store.close()
    contents = _contents(tmp_path / "store")
    assert len(contents[b"by_time"]) == 3
    assert sum(key in contents[b"by_state"] for key in contents[b"by_time"]) == 1
    _assert_indexes_follow_records(tmp_path / "store")
