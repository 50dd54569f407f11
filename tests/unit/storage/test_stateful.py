"""A hypothesis state machine drives each backend and a simple model side by side.

Random inserts (with priorities and schedule times), claims, settles, cancels, retries,
promotes, releases, rescues and deletes run against a moving clock. After every step the
backend must agree with the model: every job in exactly one state, the same counts per
queue and state, the same waiting time; claims and promotions pick exactly the jobs the
model's ordering rules pick.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from burro.states import FINISHED_STATES, WAITING_STATES, TaskState
from burro.storage import (
    Cancel,
    Complete,
    Fail,
    JobFilter,
    RuntimeInfo,
    Settlement,
    open_storage,
)
from tests.unit.storage.factories import T0, at, new_job

QUEUES = ("a", "b")
LIVE_RUNTIME, DOOMED_RUNTIME = "live", "doomed"
RUNTIMES = (LIVE_RUNTIME, DOOMED_RUNTIME)


@dataclass
class ModelJob:
    """What the model knows of one job; times are whole seconds after ``T0``."""

    id: str
    order: int
    queue: str
    priority: int
    scheduled_at: int
    max_attempts: int
    state: TaskState
    attempts: int = 0
    claimed_by: str | None = None
    cancel_requested: bool = False
    completed_at: int | None = None

    def finish(self, state: TaskState, now: int) -> None:
        self.state, self.completed_at, self.claimed_by = state, now, None

    def back_to_pending(self) -> None:
        self.state, self.claimed_by = TaskState.PENDING, None


class StorageMachine(RuleBasedStateMachine):
    """The rules and invariants shared by every backend's machine."""

    backend: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.directory = Path(tempfile.mkdtemp(prefix="burro-stateful-"))
        self.storage = open_storage(self.backend, self.directory / "store", "process")  # type: ignore[arg-type]
        self.storage.register_runtime(
            RuntimeInfo(id=LIVE_RUNTIME, pid=1, hostname="here", started_at=T0)
        )
        self.now = 0
        self.jobs: dict[str, ModelJob] = {}

    def teardown(self) -> None:
        self.storage.close()
        shutil.rmtree(self.directory, ignore_errors=True)

    # -- model bookkeeping ---------------------------------------------------------
    def pick(self, index: int, states: frozenset[TaskState]) -> ModelJob | None:
        candidates = [job for job in self.jobs.values() if job.state in states]
        return candidates[index % len(candidates)] if candidates else None

    def add(self, job_id: str, queue: str, priority: int, delay: int, max_attempts: int) -> None:
        scheduled_at = self.now + delay
        state = TaskState.SCHEDULED if delay > 0 else TaskState.PENDING
        self.jobs[job_id] = ModelJob(
            job_id, len(self.jobs), queue, priority, scheduled_at, max_attempts, state
        )

    # -- rules ---------------------------------------------------------------------
    @rule(seconds=st.integers(min_value=0, max_value=30))
    def tick(self, seconds: int) -> None:
        self.now += seconds

    @rule(
        queue=st.sampled_from(QUEUES),
        priority=st.integers(min_value=0, max_value=2),
        delay=st.integers(min_value=-5, max_value=20),
        max_attempts=st.integers(min_value=1, max_value=3),
    )
    def insert(self, queue: str, priority: int, delay: int, max_attempts: int) -> None:
        job = new_job(
            queue=queue,
            priority=priority,
            scheduled_at=at(self.now + delay),
            max_attempts=max_attempts,
        )
        inserted = self.storage.insert(job, at(self.now))
        assert inserted.created
        self.add(inserted.id, queue, priority, delay, max_attempts)

    @rule(
        batch=st.lists(
            st.tuples(
                st.sampled_from(QUEUES),
                st.integers(min_value=0, max_value=2),
                st.integers(min_value=-5, max_value=20),
            ),
            max_size=4,
        )
    )
    def insert_many(self, batch: list[tuple[str, int, int]]) -> None:
        jobs = [
            new_job(queue=q, priority=p, scheduled_at=at(self.now + d), max_attempts=2)
            for q, p, d in batch
        ]
        inserted = self.storage.insert_many(jobs, at(self.now))
        for item, (queue, priority, delay) in zip(inserted, batch, strict=True):
            self.add(item.id, queue, priority, delay, 2)

    @rule(
        queue=st.sampled_from(QUEUES),
        limit=st.integers(min_value=1, max_value=3),
        runtime=st.sampled_from(RUNTIMES),
    )
    def claim(self, queue: str, limit: int, runtime: str) -> None:
        ready = [j for j in self.jobs.values() if j.queue == queue and j.state is TaskState.PENDING]
        ready.sort(key=lambda j: (j.priority, j.scheduled_at, j.order))
        claimed = self.storage.claim(queue, limit, runtime, at(self.now))
        assert [job.id for job in claimed] == [job.id for job in ready[:limit]]
        for job in ready[:limit]:
            job.state, job.claimed_by = TaskState.RUNNING, runtime
            job.attempts += 1
        assert [job.attempts for job in claimed] == [job.attempts for job in ready[:limit]]

    @rule(
        index=st.integers(min_value=0),
        outcome=st.sampled_from(["complete", "retry", "discard", "cancel"]),
        stale=st.booleans(),
    )
    def settle(self, index: int, outcome: str, stale: bool) -> None:
        job = self.pick(index, frozenset({TaskState.RUNNING}))
        if job is None:
            return
        assert job.claimed_by is not None
        attempt = job.attempts + 1 if stale else job.attempts
        settlement: Settlement = {
            "complete": Complete(job.id, job.claimed_by, attempt),
            "retry": Fail(job.id, job.claimed_by, attempt, "boom", at(self.now + 10)),
            "discard": Fail(job.id, job.claimed_by, attempt, "boom", None),
            "cancel": Cancel(job.id, job.claimed_by, attempt),
        }[outcome]
        (settled,) = self.storage.settle([settlement], at(self.now))
        if stale:
            assert settled is None
            return
        self.apply_settlement(job, outcome)
        assert settled is not None
        assert settled.state is job.state

    def apply_settlement(self, job: ModelJob, outcome: str) -> None:
        if job.cancel_requested or outcome == "cancel":
            job.finish(TaskState.CANCELLED, self.now)
        elif outcome == "complete":
            job.finish(TaskState.COMPLETED, self.now)
        elif outcome == "discard":
            job.finish(TaskState.DISCARDED, self.now)
        else:
            job.state, job.claimed_by, job.scheduled_at = TaskState.RETRYABLE, None, self.now + 10

    @rule(index=st.integers(min_value=0))
    def cancel(self, index: int) -> None:
        job = self.pick(index, frozenset(TaskState))
        if job is None:
            return
        outcome = self.storage.cancel(job.id, "changed my mind", at(self.now))
        if job.state is TaskState.RUNNING:
            expect_change = not job.cancel_requested
            job.cancel_requested = True
        else:
            expect_change = job.state not in FINISHED_STATES
            if expect_change:
                job.finish(TaskState.CANCELLED, self.now)
        assert outcome is not None
        assert outcome.job.state is job.state
        assert outcome.changed is expect_change

    @rule(index=st.integers(min_value=0))
    def retry(self, index: int) -> None:
        job = self.pick(index, frozenset({TaskState.DISCARDED, TaskState.CANCELLED}))
        if job is None:
            return
        retried = self.storage.retry(job.id, at(self.now))
        job.back_to_pending()
        job.attempts, job.scheduled_at, job.completed_at = 0, self.now, None
        job.cancel_requested = False
        assert retried is not None
        assert retried.state is TaskState.PENDING

    @rule(limit=st.integers(min_value=1, max_value=5))
    def promote(self, limit: int) -> None:
        due = [
            j
            for j in self.jobs.values()
            if j.state in WAITING_STATES and j.scheduled_at <= self.now
        ]
        due.sort(key=lambda j: (j.scheduled_at, j.order))
        promoted = self.storage.promote(at(self.now), limit)
        for job in due[:limit]:
            job.state = TaskState.PENDING
        assert promoted == dict(Counter(job.queue for job in due[:limit]))

    @rule(runtime=st.sampled_from(RUNTIMES), rescue=st.booleans())
    def release(self, runtime: str, rescue: bool) -> None:
        released = self.storage.release(runtime, None, at(self.now), rescue=rescue)
        expected = self.put_back(runtime, rescue=rescue)
        assert sorted(job.id for job in released) == expected

    @rule()
    def rescue_orphans(self) -> None:
        rescued = self.storage.rescue_orphans(at(self.now))
        assert sorted(job.id for job in rescued) == self.put_back(DOOMED_RUNTIME, rescue=True)

    def put_back(self, runtime: str, *, rescue: bool) -> list[str]:
        held = [
            j
            for j in self.jobs.values()
            if j.state is TaskState.RUNNING and j.claimed_by == runtime
        ]
        for job in held:
            if job.cancel_requested:
                job.finish(TaskState.CANCELLED, self.now)
            elif not rescue:
                job.attempts -= 1
                job.back_to_pending()
            elif job.attempts >= job.max_attempts:
                job.finish(TaskState.DISCARDED, self.now)
            else:
                job.back_to_pending()
        return sorted(job.id for job in held)

    @rule(
        states=st.frozensets(st.sampled_from(sorted(TaskState)), min_size=1),
        age=st.integers(min_value=0, max_value=60),
        limit=st.integers(min_value=1, max_value=4),
    )
    def delete_finished(self, states: frozenset[TaskState], age: int, limit: int) -> None:
        cut = self.now - age
        doomed = [
            j
            for j in self.jobs.values()
            if j.state in states & FINISHED_STATES
            and j.completed_at is not None
            and j.completed_at < cut
        ]
        doomed.sort(key=lambda j: (j.completed_at, j.order))
        assert self.storage.delete_finished(states, at(cut), limit) == len(doomed[:limit])
        for job in doomed[:limit]:
            del self.jobs[job.id]
            assert self.storage.get(job.id) is None

    # -- invariants ----------------------------------------------------------------
    @invariant()
    def counts_agree(self) -> None:
        expected: dict[str, dict[TaskState, int]] = {}
        for job in self.jobs.values():
            expected.setdefault(job.queue, dict.fromkeys(TaskState, 0))[job.state] += 1
        actual = {q: c for q, c in self.storage.counts().items() if any(c.values())}
        assert actual == expected

    @invariant()
    def each_job_is_listed_in_exactly_its_state(self) -> None:
        listed: dict[str, tuple[TaskState, int]] = {}
        for state in TaskState:
            jobs, total = self.storage.list_jobs(
                JobFilter(states=frozenset({state})), offset=0, limit=1000
            )
            assert total == len(jobs)
            for job in jobs:
                assert job.id not in listed
                assert job.state is state
                listed[job.id] = (state, job.attempts)
        assert listed == {job.id: (job.state, job.attempts) for job in self.jobs.values()}

    @invariant()
    def next_due_at_is_the_earliest_waiting_time(self) -> None:
        waiting = [j.scheduled_at for j in self.jobs.values() if j.state in WAITING_STATES]
        assert self.storage.next_due_at() == (at(min(waiting)) if waiting else None)


BOUNDED = settings(max_examples=50, stateful_step_count=40, deadline=None)


class MemoryStorageMachine(StorageMachine):
    backend = "memory"


class LmdbStorageMachine(StorageMachine):
    backend = "lmdb"


TestMemoryStorageMachine = MemoryStorageMachine.TestCase
TestMemoryStorageMachine.settings = BOUNDED
TestLmdbStorageMachine = LmdbStorageMachine.TestCase
TestLmdbStorageMachine.settings = BOUNDED
