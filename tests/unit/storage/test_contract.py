"""The storage contract: one suite, run against every backend that keeps jobs.

Each test reads as a promise of ``burro.storage.base.Storage``. Where the protocol leaves
a choice open, the test's docstring says which reading the backends must share.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest

from burro.errors import BurroError, StorageError
from burro.states import FINISHED_STATES, TaskState
from burro.storage import (
    Cancel,
    Complete,
    ErrorEntry,
    Fail,
    Job,
    JobFilter,
    NewJob,
    RecurringRecord,
    RuntimeInfo,
    Storage,
)
from burro.storage.base import SortField
from tests.unit.storage.factories import (
    OTHER_RUNTIME,
    RUNTIME,
    T0,
    at,
    claim_only,
    expected_counts,
    insert,
    job_in,
    new_job,
    queue_counts,
    state_of,
)

ALL = JobFilter()


def ids(jobs: list[Job]) -> list[str]:
    return [job.id for job in jobs]


def get(storage: Storage, job_id: str) -> Job:
    job = storage.get(job_id)
    assert job is not None
    return job


def test_backend_implements_the_protocol(storage: Storage) -> None:
    assert isinstance(storage, Storage)


class TestInsert:
    def test_a_job_without_schedule_is_pending_with_every_field_stored(
        self, storage: Storage
    ) -> None:
        job = new_job(
            queue="emails",
            worker="app.mail",
            function="send",
            args=("bob", 3),
            priority=2,
            max_attempts=7,
            retry_delay_seconds=2.5,
            timeout_seconds=30.0,
            meta={"traceparent": "00-abc-def-01"},
        )
        inserted = storage.insert(job, T0)
        assert inserted.created
        assert isinstance(inserted.id, str)
        stored = get(storage, inserted.id)
        assert stored.state is TaskState.PENDING
        assert (stored.queue, stored.worker, stored.function) == ("emails", "app.mail", "send")
        assert stored.args == ("bob", 3)
        assert (stored.priority, stored.max_attempts, stored.attempts) == (2, 7, 0)
        assert (stored.retry_delay_seconds, stored.timeout_seconds) == (2.5, 30.0)
        assert stored.meta == {"traceparent": "00-abc-def-01"}
        assert stored.inserted_at == T0
        assert stored.scheduled_at == T0
        assert stored.attempted_at is None
        assert stored.completed_at is None
        assert (stored.last_error, stored.errors, stored.result) == (None, (), None)
        assert (stored.claimed_by, stored.cancel_requested, stored.cancel_reason) == (
            None,
            False,
            None,
        )

    def test_a_job_due_later_is_scheduled(self, storage: Storage) -> None:
        job_id = insert(storage, scheduled_at=at(60))
        stored = get(storage, job_id)
        assert stored.state is TaskState.SCHEDULED
        assert stored.scheduled_at == at(60)

    @pytest.mark.parametrize("offset", [0, -60])
    def test_a_job_due_now_or_earlier_is_pending_and_keeps_its_time(
        self, storage: Storage, offset: int
    ) -> None:
        job_id = insert(storage, scheduled_at=at(offset))
        stored = get(storage, job_id)
        assert stored.state is TaskState.PENDING
        assert stored.scheduled_at == at(offset)

    def test_ids_are_distinct_strings(self, storage: Storage) -> None:
        job_ids = {insert(storage) for _ in range(20)}
        assert len(job_ids) == 20
        assert all(isinstance(job_id, str) for job_id in job_ids)

    def test_times_come_back_aware_utc(self, storage: Storage) -> None:
        """Times given in another offset are the same instants, read back in UTC."""
        plus_two = timezone(timedelta(hours=2))
        job_id = insert(storage, T0.astimezone(plus_two), scheduled_at=at(60).astimezone(plus_two))
        stored = get(storage, job_id)
        assert stored.inserted_at == T0
        assert stored.scheduled_at.utcoffset() == timedelta(0)

    def test_values_come_back_in_msgpack_shapes(self, storage: Storage) -> None:
        """Args are a tuple; nested sequences come back as lists, mappings as dicts."""
        when = datetime(2031, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
        job_id = insert(
            storage,
            args=(1, "two", [3, [4]], {"k": (5, 6)}, b"\x00raw", when, None, 1.5),
            meta={"nested": {"list": [1, 2]}},
        )
        stored = get(storage, job_id)
        assert stored.args == (1, "two", [3, [4]], {"k": [5, 6]}, b"\x00raw", when, None, 1.5)
        assert stored.meta == {"nested": {"list": [1, 2]}}

    def test_callers_cannot_change_stored_values(self, storage: Storage) -> None:
        meta: dict[str, object] = {"tags": ["a"]}
        args_list = [1, 2]
        job_id = insert(storage, args=(args_list,), meta=meta)
        meta["tags"] = ["changed"]
        args_list.append(3)
        read = get(storage, job_id)
        read.args[0].append(99)
        read.meta["tags"].append("changed")  # type: ignore[attr-defined]
        again = get(storage, job_id)
        assert again.args == ([1, 2],)
        assert again.meta == {"tags": ["a"]}

    def test_values_msgpack_cannot_encode_are_refused(self, storage: Storage) -> None:
        """A refused value raises a ``BurroError`` (not a raw encoder error) and stores nothing."""
        with pytest.raises(BurroError):
            storage.insert(new_job(args=(object(),)), T0)
        assert storage.list_jobs(ALL, offset=0, limit=10) == ([], 0)


class TestUniqueness:
    KEY = b"app.mail:send:[1]"

    def unique(self, storage: Storage, now: datetime, **fields: object) -> str:
        inserted = storage.insert(
            new_job(unique_key=self.KEY, unique_for_seconds=60, **fields), now
        )
        return inserted.id

    def test_inside_the_window_the_existing_id_is_returned_and_nothing_stored(
        self, storage: Storage
    ) -> None:
        first = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), T0)
        again = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(59))
        assert first.created
        assert (again.id, again.created) == (first.id, False)
        assert storage.list_jobs(ALL, offset=0, limit=10)[1] == 1
        assert queue_counts(storage) == expected_counts(pending=1)

    def test_a_job_inserted_a_full_window_ago_no_longer_counts(self, storage: Storage) -> None:
        """ "Inserted less than N s ago" is strict: at exactly N s a new job is stored."""
        first = self.unique(storage, T0)
        later = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(60))
        assert later.created
        assert later.id != first

    def test_a_key_without_a_window_holds_until_its_job_is_dead(self, storage: Storage) -> None:
        """``unique_for_seconds=None`` with a key: unique for as long as a job with that key
        is neither discarded nor cancelled, however old it is."""
        first = storage.insert(new_job(unique_key=self.KEY), T0)
        again = storage.insert(new_job(unique_key=self.KEY), at(10**6))
        assert (again.id, again.created) == (first.id, False)
        storage.cancel(first.id, None, at(10**6))
        assert storage.insert(new_job(unique_key=self.KEY), at(10**6)).created

    def test_an_older_live_job_blocks_when_the_newest_is_cancelled(self, storage: Storage) -> None:
        """Every job with the key counts, not only the newest: each call has its own window.

        A short window let a second job in beside the first; once that one is cancelled,
        a call with a long window still finds the first.
        """
        first = self.unique_for(storage, T0, 3600)
        second = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(100))
        assert second.created
        storage.cancel(second.id, None, at(101))
        again = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=3600), at(200))
        assert (again.id, again.created) == (first, False)

    def test_a_retried_job_blocks_again(self, storage: Storage) -> None:
        """A cancelled job brought back by ``retry`` counts again, though a newer job with
        its key was stored (and cancelled) meanwhile."""
        first = job_in(storage, TaskState.CANCELLED, unique_key=self.KEY, unique_for_seconds=60)
        second = self.unique(storage, at(1))
        storage.cancel(second, None, at(2))
        assert storage.retry(first, at(3)) is not None
        again = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(4))
        assert (again.id, again.created) == (first, False)

    def test_the_newest_live_job_is_the_one_returned(self, storage: Storage) -> None:
        first = self.unique_for(storage, T0, 3600)
        second = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(100))
        again = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=3600), at(101))
        assert second.created
        assert (again.id, again.created) == (second.id, False)
        assert again.id != first

    def unique_for(self, storage: Storage, now: datetime, window: float) -> str:
        return storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=window), now).id

    def test_other_keys_are_other_jobs(self, storage: Storage) -> None:
        first = self.unique(storage, T0)
        other = storage.insert(new_job(unique_key=b"other", unique_for_seconds=60), T0)
        plain = storage.insert(new_job(), T0)
        assert other.created
        assert plain.created
        assert len({first, other.id, plain.id}) == 3

    @pytest.mark.parametrize("state", [TaskState.DISCARDED, TaskState.CANCELLED])
    def test_a_discarded_or_cancelled_job_does_not_block(
        self, storage: Storage, state: TaskState
    ) -> None:
        first = job_in(storage, state, unique_key=self.KEY, unique_for_seconds=60)
        later = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(1))
        assert later.created
        assert later.id != first

    @pytest.mark.parametrize(
        "state",
        [TaskState.SCHEDULED, TaskState.RUNNING, TaskState.RETRYABLE, TaskState.COMPLETED],
    )
    def test_a_job_in_any_other_state_blocks(self, storage: Storage, state: TaskState) -> None:
        first = job_in(storage, state, unique_key=self.KEY, unique_for_seconds=60)
        later = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(1))
        assert (later.id, later.created) == (first, False)

    def test_a_deleted_job_does_not_block(self, storage: Storage) -> None:
        first = job_in(storage, TaskState.COMPLETED, unique_key=self.KEY, unique_for_seconds=60)
        assert storage.delete_finished(frozenset({TaskState.COMPLETED}), at(1), 10) == 1
        later = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), at(2))
        assert later.created
        assert later.id != first

    def test_duplicates_inside_one_batch_collapse(self, storage: Storage) -> None:
        job = new_job(unique_key=self.KEY, unique_for_seconds=60)
        first, second = storage.insert_many([job, job], T0)
        assert first.created
        assert (second.id, second.created) == (first.id, False)
        assert storage.list_jobs(ALL, offset=0, limit=10)[1] == 1

    def test_racing_threads_store_one_job(self, storage: Storage) -> None:
        barrier = threading.Barrier(8)
        outcomes = []

        def enqueue() -> None:
            barrier.wait()
            outcomes.append(self.unique_inserted(storage))

        threads = [threading.Thread(target=enqueue) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(created for _, created in outcomes) == 1
        assert len({job_id for job_id, _ in outcomes}) == 1
        assert storage.list_jobs(ALL, offset=0, limit=10)[1] == 1

    def unique_inserted(self, storage: Storage) -> tuple[str, bool]:
        inserted = storage.insert(new_job(unique_key=self.KEY, unique_for_seconds=60), T0)
        return inserted.id, inserted.created


class TestInsertMany:
    def test_every_job_is_stored_in_order(self, storage: Storage) -> None:
        jobs = [new_job(args=(n,), scheduled_at=at(n)) for n in range(-2, 3)]
        inserted = storage.insert_many(jobs, T0)
        assert all(item.created for item in inserted)
        assert [get(storage, item.id).args for item in inserted] == [(n,) for n in range(-2, 3)]
        assert queue_counts(storage) == expected_counts(pending=3, scheduled=2)

    def test_an_empty_batch_stores_nothing(self, storage: Storage) -> None:
        assert storage.insert_many([], T0) == []

    def test_one_bad_job_stores_none_of_the_batch(self, storage: Storage) -> None:
        good = new_job(args=(1,))
        bad = new_job(args=(object(),))
        with pytest.raises(BurroError):
            storage.insert_many([good, good, bad, good], T0)
        assert storage.list_jobs(ALL, offset=0, limit=10) == ([], 0)
        assert queue_counts(storage) == expected_counts()


class TestClaim:
    def test_claims_by_priority_then_scheduled_at_then_insertion(self, storage: Storage) -> None:
        late_low = insert(storage, priority=1, scheduled_at=at(-10))
        tie_first = insert(storage, priority=0, scheduled_at=at(-5))
        tie_second = insert(storage, priority=0, scheduled_at=at(-5))
        earliest = insert(storage, priority=0, scheduled_at=at(-20))
        high = insert(storage, priority=3, scheduled_at=at(-100))
        claimed = storage.claim("default", 10, RUNTIME, T0)
        assert ids(claimed) == [earliest, tie_first, tie_second, late_low, high]

    def test_claims_at_most_limit_from_that_queue_only(self, storage: Storage) -> None:
        first, second, third = (insert(storage) for _ in range(3))
        insert(storage, queue="other")
        assert storage.claim("default", 0, RUNTIME, T0) == []
        assert ids(storage.claim("default", 2, RUNTIME, T0)) == [first, second]
        assert ids(storage.claim("default", 2, RUNTIME, T0)) == [third]
        assert storage.claim("default", 2, RUNTIME, T0) == []
        assert storage.claim("missing", 2, RUNTIME, T0) == []

    def test_a_claimed_job_is_running_for_the_runtime(self, storage: Storage) -> None:
        job_id = insert(storage)
        (claimed,) = storage.claim("default", 1, RUNTIME, at(5))
        assert claimed.id == job_id
        assert claimed.state is TaskState.RUNNING
        assert claimed.attempts == 1
        assert claimed.attempted_at == at(5)
        assert claimed.claimed_by == RUNTIME
        assert get(storage, job_id) == claimed

    def test_scheduled_jobs_are_not_claimed_before_promotion(self, storage: Storage) -> None:
        insert(storage, scheduled_at=at(10))
        assert storage.claim("default", 10, RUNTIME, at(20)) == []

    def test_concurrent_claimers_never_share_a_job(self, storage: Storage) -> None:
        storage.insert_many([new_job(args=(n,)) for n in range(200)], T0)
        barrier = threading.Barrier(4)
        claims: dict[str, list[str]] = {}

        def claim_all(runtime: str) -> None:
            barrier.wait()
            mine = claims.setdefault(runtime, [])
            while batch := storage.claim("default", 3, runtime, T0):
                mine.extend(ids(batch))

        threads = [threading.Thread(target=claim_all, args=(f"rt-{n}",)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        every_claim = [job_id for mine in claims.values() for job_id in mine]
        assert len(every_claim) == 200
        assert len(set(every_claim)) == 200
        assert queue_counts(storage) == expected_counts(running=200)


class TestSettle:
    def test_complete_stores_the_result(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        (settled,) = storage.settle([Complete(job_id, RUNTIME, 1, result={"n": [1]})], at(3))
        assert settled is not None
        assert settled.state is TaskState.COMPLETED
        assert settled.result == {"n": [1]}
        assert settled.completed_at == at(3)
        assert settled.claimed_by is None
        assert get(storage, job_id) == settled

    def test_fail_with_retry_at_makes_the_job_retryable(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        (settled,) = storage.settle([Fail(job_id, RUNTIME, 1, "ValueError: x", at(60))], at(3))
        assert settled is not None
        assert settled.state is TaskState.RETRYABLE
        assert settled.scheduled_at == at(60)
        assert settled.last_error == "ValueError: x"
        assert settled.errors == (ErrorEntry(attempt=1, at=at(3), error="ValueError: x"),)
        assert settled.completed_at is None
        assert settled.claimed_by is None

    def test_fail_without_retry_at_discards_the_job(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        (settled,) = storage.settle([Fail(job_id, RUNTIME, 1, "boom", None)], at(3))
        assert settled is not None
        assert settled.state is TaskState.DISCARDED
        assert settled.completed_at == at(3)
        assert settled.last_error == "boom"

    def test_errors_accumulate_one_entry_per_attempt(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        storage.settle([Fail(job_id, RUNTIME, 1, "first", at(10))], at(1))
        storage.promote(at(10), 10)
        claim_only(storage, job_id, at(10))
        (settled,) = storage.settle([Fail(job_id, RUNTIME, 2, "second", None)], at(11))
        assert settled is not None
        assert [(e.attempt, e.at, e.error) for e in settled.errors] == [
            (1, at(1), "first"),
            (2, at(11), "second"),
        ]
        assert settled.last_error == "second"

    def test_cancel_settlement_cancels(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        (settled,) = storage.settle([Cancel(job_id, RUNTIME, 1)], at(2))
        assert settled is not None
        assert settled.state is TaskState.CANCELLED
        assert settled.completed_at == at(2)

    def test_complete_after_cancel_was_asked_ends_cancelled(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        storage.cancel(job_id, "user asked", at(1))
        (settled,) = storage.settle([Complete(job_id, RUNTIME, 1, result=5)], at(2))
        assert settled is not None
        assert settled.state is TaskState.CANCELLED
        assert settled.cancel_reason == "user asked"

    def test_fail_after_cancel_was_asked_ends_cancelled_with_the_error(
        self, storage: Storage
    ) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        storage.cancel(job_id, None, at(1))
        (settled,) = storage.settle([Fail(job_id, RUNTIME, 1, "boom", at(60))], at(2))
        assert settled is not None
        assert settled.state is TaskState.CANCELLED
        assert settled.last_error == "boom"
        assert len(settled.errors) == 1

    def test_stale_settlements_are_ignored(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        before = get(storage, job_id)
        stale = [
            Complete(job_id, OTHER_RUNTIME, 1),
            Complete(job_id, RUNTIME, 2),
            Fail(job_id, RUNTIME, 0, "boom", None),
            Cancel("no-such-job", RUNTIME, 1),
        ]
        assert storage.settle(stale, at(1)) == [None, None, None, None]
        assert get(storage, job_id) == before

    def test_a_batch_applies_each_valid_settlement_once(self, storage: Storage) -> None:
        first = job_in(storage, TaskState.RUNNING, queue="a")
        second = job_in(storage, TaskState.RUNNING, queue="b")
        outcome = storage.settle(
            [
                Complete(first, RUNTIME, 1),
                Complete(first, RUNTIME, 1),
                Fail(second, OTHER_RUNTIME, 1, "x", None),
                Fail(second, RUNTIME, 1, "x", None),
            ],
            at(1),
        )
        assert [job.state if job else None for job in outcome] == [
            TaskState.COMPLETED,
            None,
            None,
            TaskState.DISCARDED,
        ]

    def test_settling_a_job_that_is_not_running_is_ignored(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.COMPLETED)
        assert storage.settle([Complete(job_id, RUNTIME, 1)], at(1)) == [None]
        pending = insert(storage, queue="other")
        assert storage.settle([Complete(pending, RUNTIME, 0)], at(1)) == [None]

    def test_a_result_msgpack_cannot_encode_leaves_the_batch_unapplied(
        self, storage: Storage
    ) -> None:
        first = job_in(storage, TaskState.RUNNING, queue="a")
        second = job_in(storage, TaskState.RUNNING, queue="b")
        with pytest.raises(BurroError):
            storage.settle(
                [Complete(first, RUNTIME, 1, result=1), Complete(second, RUNTIME, 1, object())],
                at(1),
            )
        assert state_of(storage, first) is TaskState.RUNNING
        assert state_of(storage, second) is TaskState.RUNNING


class TestCombinedWrites:
    """``settle_and_claim``: a finished job's slot takes its next job in the same write."""

    def test_settles_then_claims_per_queue_in_claim_order(self, storage: Storage) -> None:
        running = claim_only(storage, insert(storage))
        low = insert(storage, priority=5)
        high = insert(storage, priority=0)
        other = insert(storage, queue="emails")
        settled, claimed = storage.settle_and_claim(
            [Complete(running.id, RUNTIME, 1, result="ok")],
            {"default": 1, "emails": 3, "empty": 2},
            RUNTIME,
            at(1),
        )
        assert [job.state if job else None for job in settled] == [TaskState.COMPLETED]
        assert [job.id for job in claimed["default"]] == [high]
        assert [job.id for job in claimed["emails"]] == [other]
        assert claimed.get("empty", []) == []
        assert state_of(storage, low) is TaskState.PENDING
        assert get(storage, high).claimed_by == RUNTIME
        assert queue_counts(storage) == expected_counts(completed=1, running=1, pending=1)

    def test_a_stale_settlement_is_ignored_and_the_claim_still_happens(
        self, storage: Storage
    ) -> None:
        running = claim_only(storage, insert(storage))
        waiting = insert(storage)
        settled, claimed = storage.settle_and_claim(
            [Complete(running.id, OTHER_RUNTIME, 1)], {"default": 1}, RUNTIME, at(1)
        )
        assert settled == [None]
        assert [job.id for job in claimed["default"]] == [waiting]


class TestCancel:
    @pytest.mark.parametrize("state", [TaskState.PENDING, TaskState.SCHEDULED, TaskState.RETRYABLE])
    def test_a_waiting_job_is_cancelled(self, storage: Storage, state: TaskState) -> None:
        job_id = job_in(storage, state)
        outcome = storage.cancel(job_id, "no longer needed", at(7))
        assert outcome is not None
        cancelled, changed = outcome
        assert changed
        assert cancelled.state is TaskState.CANCELLED
        assert cancelled.completed_at == at(7)
        assert cancelled.cancel_reason == "no longer needed"
        assert get(storage, job_id) == cancelled
        assert storage.claim("default", 10, RUNTIME, at(3600)) == []
        assert storage.promote(at(7200), 10) == {}

    def test_a_running_job_is_marked_for_cancellation(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        outcome = storage.cancel(job_id, "stop", at(1))
        assert outcome is not None
        marked, changed = outcome
        assert changed
        assert marked.state is TaskState.RUNNING
        assert marked.cancel_requested
        assert marked.cancel_reason == "stop"
        assert marked.claimed_by == RUNTIME

    @pytest.mark.parametrize("state", sorted(FINISHED_STATES))
    def test_a_finished_job_is_unchanged(self, storage: Storage, state: TaskState) -> None:
        job_id = job_in(storage, state)
        before = get(storage, job_id)
        assert storage.cancel(job_id, "too late", at(9)) == (before, False)
        assert get(storage, job_id) == before

    @pytest.mark.parametrize("state", [TaskState.PENDING, TaskState.RUNNING])
    def test_only_the_first_of_two_cancels_changes_the_job(
        self, storage: Storage, state: TaskState
    ) -> None:
        """The second cancel finds the job cancelled (or marked) and changes nothing: the
        first reason stands, and only the first call may report a cancellation."""
        job_id = job_in(storage, state)
        first = storage.cancel(job_id, "first", at(1))
        second = storage.cancel(job_id, "second", at(2))
        assert first is not None
        assert second is not None
        assert (first.changed, second.changed) == (True, False)
        assert second.job == first.job == get(storage, job_id)
        assert second.job.cancel_reason == "first"

    def test_of_racing_cancels_exactly_one_changes_the_job(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.PENDING)
        barrier = threading.Barrier(8)
        outcomes = []

        def cancel() -> None:
            barrier.wait()
            outcomes.append(storage.cancel(job_id, None, at(1)))

        threads = [threading.Thread(target=cancel) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(outcome is not None and outcome.changed for outcome in outcomes) == 1
        assert state_of(storage, job_id) is TaskState.CANCELLED

    def test_an_unknown_job_is_none(self, storage: Storage) -> None:
        assert storage.cancel("no-such-job", None, T0) is None


class TestRetry:
    @pytest.mark.parametrize("state", [TaskState.DISCARDED, TaskState.CANCELLED])
    def test_a_dead_job_goes_back_to_pending_with_fresh_attempts(
        self, storage: Storage, state: TaskState
    ) -> None:
        """The replayed job is due at once (``scheduled_at = now``) and keeps its error history."""
        job_id = job_in(storage, state)
        history = get(storage, job_id).errors
        retried = storage.retry(job_id, at(30))
        assert retried is not None
        assert retried.errors == history
        assert retried.state is TaskState.PENDING
        assert retried.attempts == 0
        assert retried.completed_at is None
        assert retried.scheduled_at == at(30)
        assert ids(storage.claim("default", 5, RUNTIME, at(31))) == [job_id]

    @pytest.mark.parametrize(
        "state",
        [
            TaskState.SCHEDULED,
            TaskState.PENDING,
            TaskState.RUNNING,
            TaskState.RETRYABLE,
            TaskState.COMPLETED,
        ],
    )
    def test_other_states_are_unchanged(self, storage: Storage, state: TaskState) -> None:
        job_id = job_in(storage, state)
        before = get(storage, job_id)
        assert storage.retry(job_id, at(30)) == before

    def test_an_unknown_job_is_none(self, storage: Storage) -> None:
        assert storage.retry("no-such-job", T0) is None


class TestRelease:
    def test_a_graceful_release_gives_the_attempt_back(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING)
        (released,) = storage.release(RUNTIME, None, at(1), rescue=False)
        assert released.id == job_id
        assert released.state is TaskState.PENDING
        assert released.attempts == 0
        assert released.claimed_by is None
        assert get(storage, job_id) == released

    def test_a_rescue_keeps_the_attempt_counted(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING, max_attempts=3)
        (released,) = storage.release(RUNTIME, [job_id], at(1), rescue=True)
        assert released.state is TaskState.PENDING
        assert released.attempts == 1
        assert claim_only(storage, job_id, at(2)).attempts == 2

    def test_a_graceful_release_records_no_failure(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RUNNING, max_attempts=3)
        (released,) = storage.release(RUNTIME, None, at(1), rescue=False)
        assert (released.errors, released.last_error) == ((), None)
        assert get(storage, job_id) == released
        assert nonzero(storage.failed_today(at(1))) == {}

    def test_every_rescue_records_the_interrupted_attempt_as_a_failure(
        self, storage: Storage
    ) -> None:
        """A rescue counts the attempt, so it is a failure like any other: one entry in
        ``errors`` per interrupted attempt, the latest as ``last_error``."""
        job_id = job_in(storage, TaskState.RUNNING, max_attempts=3)
        (first,) = storage.release(RUNTIME, [job_id], at(1), rescue=True)
        assert first.state is TaskState.PENDING
        (entry,) = first.errors
        assert (entry.attempt, entry.at) == (1, at(1))
        assert "interrupted" in entry.error
        assert RUNTIME in entry.error
        assert first.last_error == entry.error
        claim_only(storage, job_id, at(2), runtime=OTHER_RUNTIME)
        (second,) = storage.release(OTHER_RUNTIME, None, at(3), rescue=True)
        assert [(e.attempt, e.at) for e in second.errors] == [(1, at(1)), (2, at(3))]
        assert second.last_error == second.errors[-1].error
        assert OTHER_RUNTIME in second.last_error
        assert get(storage, job_id) == second
        assert nonzero(storage.failed_today(at(3))) == {"default": 2}

    def test_a_rescued_job_whose_cancel_was_asked_ends_cancelled_with_the_interruption(
        self, storage: Storage
    ) -> None:
        """As an attempt that fails after a cancel was asked: cancelled, failure recorded."""
        job_id = job_in(storage, TaskState.RUNNING, max_attempts=3)
        storage.cancel(job_id, "stop", at(1))
        (released,) = storage.release(RUNTIME, None, at(2), rescue=True)
        assert released.state is TaskState.CANCELLED
        assert [entry.attempt for entry in released.errors] == [1]
        assert released.last_error is not None
        assert "interrupted" in released.last_error

    def test_a_rescue_of_the_last_attempt_discards_the_job(self, storage: Storage) -> None:
        """The discarded job records the interruption as a failed attempt, in ``errors`` too."""
        job_id = job_in(storage, TaskState.RUNNING, max_attempts=1)
        (released,) = storage.release(RUNTIME, None, at(1), rescue=True)
        assert released.id == job_id
        assert released.state is TaskState.DISCARDED
        assert released.completed_at == at(1)
        assert released.last_error is not None
        assert "interrupted" in released.last_error.lower()
        assert [entry.attempt for entry in released.errors] == [1]
        assert storage.failed_today(at(1)).get("default", 0) == 1

    def test_a_released_job_keeps_its_place_in_the_queue(self, storage: Storage) -> None:
        """Release keeps ``scheduled_at``, so the job runs before those inserted after it."""
        first = insert(storage)
        second = insert(storage, at(1))
        claim_only(storage, first, at(2))
        storage.release(RUNTIME, None, at(3), rescue=False)
        assert ids(storage.claim("default", 2, RUNTIME, at(4))) == [first, second]

    def test_only_the_named_claims_of_that_runtime_are_released(self, storage: Storage) -> None:
        mine = [insert(storage, queue="q") for _ in range(3)]
        theirs = insert(storage, queue="q")
        storage.claim("q", 3, RUNTIME, T0)
        storage.claim("q", 1, OTHER_RUNTIME, T0)
        released = storage.release(RUNTIME, [mine[0], mine[2], theirs, "nope"], at(1), rescue=False)
        assert sorted(ids(released)) == sorted([mine[0], mine[2]])
        assert state_of(storage, mine[1]) is TaskState.RUNNING
        assert state_of(storage, theirs) is TaskState.RUNNING
        assert ids(storage.release(RUNTIME, None, at(2), rescue=False)) == [mine[1]]
        assert storage.release(RUNTIME, None, at(3), rescue=False) == []

    def test_a_released_job_whose_cancel_was_asked_ends_cancelled(self, storage: Storage) -> None:
        """Cancellation wins over release: a job marked for cancel must not run again."""
        job_id = job_in(storage, TaskState.RUNNING)
        storage.cancel(job_id, "stop", at(1))
        (released,) = storage.release(RUNTIME, None, at(2), rescue=False)
        assert released.state is TaskState.CANCELLED
        assert released.completed_at == at(2)


class TestPromote:
    def test_promotes_due_jobs_per_queue(self, storage: Storage) -> None:
        due_a = insert(storage, queue="a", scheduled_at=at(10))
        due_b = insert(storage, queue="b", scheduled_at=at(20))
        later = insert(storage, queue="a", scheduled_at=at(100))
        assert storage.promote(at(5), 10) == {}
        assert storage.promote(at(20), 10) == {"a": 1, "b": 1}
        assert state_of(storage, due_a) is TaskState.PENDING
        assert state_of(storage, due_b) is TaskState.PENDING
        assert state_of(storage, later) is TaskState.SCHEDULED
        assert get(storage, due_a).scheduled_at == at(10)

    def test_promotes_at_most_limit_earliest_first(self, storage: Storage) -> None:
        """The earliest ``scheduled_at`` goes first, ties in insertion order."""
        third = insert(storage, scheduled_at=at(30))
        first = insert(storage, scheduled_at=at(10))
        second = insert(storage, scheduled_at=at(10))
        assert storage.promote(at(60), 2) == {"default": 2}
        assert state_of(storage, third) is TaskState.SCHEDULED
        assert {state_of(storage, first), state_of(storage, second)} == {TaskState.PENDING}
        assert storage.promote(at(60), 2) == {"default": 1}

    def test_retryable_jobs_are_promoted_at_their_retry_time(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.RETRYABLE)
        retry_at = get(storage, job_id).scheduled_at
        assert storage.promote(retry_at - timedelta(seconds=1), 10) == {}
        assert storage.promote(retry_at, 10) == {"default": 1}
        assert claim_only(storage, job_id, retry_at).attempts == 2

    def test_next_due_at_is_the_earliest_waiting_job(self, storage: Storage) -> None:
        assert storage.next_due_at() is None
        insert(storage, scheduled_at=at(50))
        assert storage.next_due_at() == at(50)
        retrying = job_in(storage, TaskState.RUNNING, queue="r")
        storage.settle([Fail(retrying, RUNTIME, 1, "x", at(20))], at(1))
        assert storage.next_due_at() == at(20)
        storage.cancel(retrying, None, at(2))
        assert storage.next_due_at() == at(50)
        storage.promote(at(50), 10)
        assert storage.next_due_at() is None


class TestGetAndList:
    def test_get_of_an_unknown_id_is_none(self, storage: Storage) -> None:
        assert storage.get("no-such-job") is None
        assert storage.get("") is None

    def populate(self, storage: Storage) -> dict[str, str]:
        """Six jobs over two queues, two workers and several states."""
        return {
            "a_pending": insert(storage, at(0), queue="a", worker="w1", priority=2),
            "a_sched": insert(storage, at(1), queue="a", worker="w2", scheduled_at=at(500)),
            "b_pending": insert(storage, at(2), queue="b", worker="w1", priority=1),
            "a_done": job_in(storage, TaskState.COMPLETED, at(3), queue="a2", worker="w2"),
            "b_dead": job_in(storage, TaskState.DISCARDED, at(4), queue="b2", worker="w1"),
            "a_low": insert(storage, at(5), queue="a", worker="w1", priority=0),
        }

    @pytest.mark.parametrize(
        ("filters", "expected"),
        [
            (JobFilter(), ["a_pending", "a_sched", "b_pending", "a_done", "b_dead", "a_low"]),
            (JobFilter(queue="a"), ["a_pending", "a_sched", "a_low"]),
            (JobFilter(worker="w2"), ["a_sched", "a_done"]),
            (JobFilter(states=frozenset({TaskState.PENDING})), ["a_pending", "b_pending", "a_low"]),
            (
                JobFilter(states=frozenset({TaskState.SCHEDULED, TaskState.DISCARDED})),
                ["a_sched", "b_dead"],
            ),
            (
                JobFilter(states=frozenset({TaskState.PENDING}), queue="a", worker="w1"),
                ["a_pending", "a_low"],
            ),
            (JobFilter(queue="missing"), []),
        ],
    )
    def test_filters(self, storage: Storage, filters: JobFilter, expected: list[str]) -> None:
        names = {job_id: name for name, job_id in self.populate(storage).items()}
        jobs, total = storage.list_jobs(filters, offset=0, limit=50)
        assert [names[job.id] for job in jobs] == expected
        assert total == len(expected)

    def test_an_empty_state_set_matches_nothing(self, storage: Storage) -> None:
        """``states=frozenset()`` is "none of them", unlike ``None`` ("any")."""
        self.populate(storage)
        assert storage.list_jobs(JobFilter(states=frozenset()), offset=0, limit=50) == ([], 0)

    def test_pages_report_the_total(self, storage: Storage) -> None:
        job_ids = [insert(storage, at(n)) for n in range(7)]
        pages = [storage.list_jobs(ALL, offset=offset, limit=3) for offset in (0, 3, 6, 9)]
        assert [ids(jobs) for jobs, _ in pages] == [job_ids[:3], job_ids[3:6], job_ids[6:], []]
        assert {total for _, total in pages} == {7}
        assert storage.list_jobs(ALL, offset=0, limit=0) == ([], 7)

    @pytest.mark.parametrize(
        ("sort_by", "expected"),
        [
            ("inserted_at", ["a_pending", "a_sched", "b_pending", "a_done", "b_dead", "a_low"]),
            ("scheduled_at", ["a_pending", "b_pending", "a_done", "b_dead", "a_low", "a_sched"]),
            ("priority", ["a_sched", "a_done", "b_dead", "a_low", "b_pending", "a_pending"]),
            ("attempted_at", ["a_done", "b_dead", "a_pending", "a_sched", "b_pending", "a_low"]),
            ("completed_at", ["a_done", "b_dead", "a_pending", "a_sched", "b_pending", "a_low"]),
        ],
    )
    def test_sort_orders(self, storage: Storage, sort_by: str, expected: list[str]) -> None:
        """Ties are in insertion order and unset times sort last (SQL's NULLS LAST);
        ``descending`` reverses the whole order."""
        names = {job_id: name for name, job_id in self.populate(storage).items()}
        ascending, _ = storage.list_jobs(ALL, offset=0, limit=50, sort_by=sort_by)  # type: ignore[arg-type]
        descending, _ = storage.list_jobs(
            ALL,
            offset=0,
            limit=50,
            sort_by=sort_by,
            descending=True,  # type: ignore[arg-type]
        )
        assert [names[job.id] for job in ascending] == expected
        assert [names[job.id] for job in descending] == expected[::-1]

    def test_a_sorted_page_is_a_slice_of_the_whole_order(self, storage: Storage) -> None:
        self.populate(storage)
        whole, _ = storage.list_jobs(ALL, offset=0, limit=50, sort_by="priority", descending=True)
        page, total = storage.list_jobs(ALL, offset=2, limit=3, sort_by="priority", descending=True)
        assert ids(page) == ids(whole)[2:5]
        assert total == 6

    @pytest.mark.parametrize("sort_by", ["inserted_at", "scheduled_at", "priority"])
    @pytest.mark.parametrize("descending", [False, True])
    def test_any_offset_or_limit_reads_a_page(
        self, storage: Storage, sort_by: SortField, descending: bool
    ) -> None:
        """Past the end a page is empty, however far (``page=2**62`` in the facade), and a
        limit past the end stops there: never an error."""
        job_ids = [insert(storage, at(n)) for n in range(3)]
        order = job_ids[::-1] if descending else job_ids
        for offset in (3, 2**62, 2**63, 2**64 + 1):
            page = storage.list_jobs(
                ALL, offset=offset, limit=2, sort_by=sort_by, descending=descending
            )
            assert page == ([], 3)
        for limit in (2**63, 2**64 + 1):
            jobs, total = storage.list_jobs(
                ALL, offset=1, limit=limit, sort_by=sort_by, descending=descending
            )
            assert (ids(jobs), total) == (order[1:], 3)


class TestCounts:
    def test_counts_follow_every_transition(self, storage: Storage) -> None:
        assert storage.counts().get("default", expected_counts()) == expected_counts()
        scheduled = insert(storage, scheduled_at=at(10))
        pending = [insert(storage) for _ in range(4)]
        assert queue_counts(storage) == expected_counts(scheduled=1, pending=4)
        storage.claim("default", 3, RUNTIME, T0)
        assert queue_counts(storage) == expected_counts(scheduled=1, pending=1, running=3)
        storage.settle(
            [
                Complete(pending[0], RUNTIME, 1),
                Fail(pending[1], RUNTIME, 1, "x", at(5)),
                Fail(pending[2], RUNTIME, 1, "x", None),
            ],
            at(1),
        )
        assert queue_counts(storage) == expected_counts(
            scheduled=1, pending=1, retryable=1, completed=1, discarded=1
        )
        assert storage.promote(at(10), 10) == {"default": 2}
        assert queue_counts(storage) == expected_counts(pending=3, completed=1, discarded=1)
        storage.cancel(scheduled, None, at(11))
        storage.retry(pending[2], at(11))
        assert queue_counts(storage) == expected_counts(pending=3, completed=1, cancelled=1)
        storage.claim("default", 2, RUNTIME, at(12))
        storage.release(RUNTIME, None, at(13), rescue=False)
        assert queue_counts(storage) == expected_counts(pending=3, completed=1, cancelled=1)
        removed = storage.delete_finished(FINISHED_STATES, at(100), 10)
        assert removed == 2
        assert queue_counts(storage) == expected_counts(pending=3)

    def test_every_state_is_present_for_each_queue(self, storage: Storage) -> None:
        insert(storage, queue="a")
        insert(storage, queue="b", scheduled_at=at(5))
        counts = storage.counts()
        assert counts["a"] == expected_counts(pending=1)
        assert counts["b"] == expected_counts(scheduled=1)
        assert all(set(per_state) == set(TaskState) for per_state in counts.values())


def nonzero(per_queue: dict[str, int]) -> dict[str, int]:
    """Queues with failures; a backend may list the others with zero."""
    return {queue: n for queue, n in per_queue.items() if n}


class TestFailedToday:
    def test_counts_failed_attempts_per_queue_per_utc_day(self, storage: Storage) -> None:
        """Every failed attempt counts, whether it will be retried or not."""
        late = datetime(2030, 1, 1, 23, 59, tzinfo=UTC)
        retried = job_in(storage, TaskState.RETRYABLE, late, queue="a")
        job_in(storage, TaskState.DISCARDED, late, queue="a")
        job_in(storage, TaskState.DISCARDED, late, queue="b")
        job_in(storage, TaskState.COMPLETED, late, queue="c")
        assert nonzero(storage.failed_today(late)) == {"a": 2, "b": 1}
        next_day = late + timedelta(minutes=10)
        storage.promote(next_day, 10)
        claim_only(storage, retried, next_day)
        storage.settle([Fail(retried, RUNTIME, 2, "again", None)], next_day)
        assert nonzero(storage.failed_today(next_day)) == {"a": 1}
        assert nonzero(storage.failed_today(late)) == {"a": 2, "b": 1}

    def test_is_empty_without_failures(self, storage: Storage) -> None:
        job_in(storage, TaskState.COMPLETED)
        assert nonzero(storage.failed_today(T0)) == {}


class TestDeleteFinished:
    def test_only_finished_jobs_completed_before_the_cut_go(self, storage: Storage) -> None:
        old_done = job_in(storage, TaskState.COMPLETED, at(0), queue="a")
        old_dead = job_in(storage, TaskState.DISCARDED, at(1), queue="b")
        old_cancelled = job_in(storage, TaskState.CANCELLED, at(2), queue="c")
        new_done = job_in(storage, TaskState.COMPLETED, at(50), queue="d")
        pending = insert(storage, at(0), queue="e")
        running = job_in(storage, TaskState.RUNNING, at(0), queue="f")
        assert storage.delete_finished(frozenset({TaskState.COMPLETED}), at(10), 100) == 1
        assert storage.get(old_done) is None
        every_state = frozenset(TaskState)
        assert storage.delete_finished(every_state, at(50), 100) == 2
        assert storage.get(old_dead) is None
        assert storage.get(old_cancelled) is None
        for kept in (new_done, pending, running):
            assert storage.get(kept) is not None
        assert storage.list_jobs(ALL, offset=0, limit=10)[1] == 3

    def test_deletes_at_most_limit_oldest_first(self, storage: Storage) -> None:
        """The oldest completions are deleted first."""
        done = [job_in(storage, TaskState.COMPLETED, at(n), queue=f"q{n}") for n in (3, 1, 2)]
        assert storage.delete_finished(FINISHED_STATES, at(10), 2) == 2
        assert [storage.get(job_id) is not None for job_id in done] == [True, False, False]
        assert storage.delete_finished(FINISHED_STATES, at(10), 2) == 1
        assert storage.delete_finished(FINISHED_STATES, at(10), 2) == 0

    def test_a_deleted_job_is_gone_everywhere(self, storage: Storage) -> None:
        job_id = job_in(storage, TaskState.DISCARDED)
        storage.delete_finished(FINISHED_STATES, at(1), 10)
        assert storage.cancel(job_id, None, at(2)) is None
        assert storage.retry(job_id, at(2)) is None
        assert storage.list_jobs(JobFilter(states=FINISHED_STATES), offset=0, limit=5) == ([], 0)


def recurring(name: str = "nightly", next_fire_at: datetime = T0) -> RecurringRecord:
    return RecurringRecord(
        name=name,
        cron_expression="0 3 * * *",
        timezone="Europe/Lisbon",
        worker="app.reports",
        function="build",
        args=("daily", [1, 2]),
        options={"queue": "reports", "max_attempts": 2},
        next_fire_at=next_fire_at,
    )


class TestRecurring:
    def test_upsert_get_list_and_delete(self, storage: Storage) -> None:
        assert storage.get_recurring("nightly") is None
        storage.upsert_recurring(recurring("nightly"))
        storage.upsert_recurring(recurring("hourly"))
        assert storage.get_recurring("nightly") == recurring("nightly")
        assert [r.name for r in storage.list_recurring()] == ["hourly", "nightly"]
        replaced = recurring("nightly", next_fire_at=at(999))
        storage.upsert_recurring(replaced)
        assert storage.get_recurring("nightly") == replaced
        assert storage.delete_recurring("nightly") is True
        assert storage.delete_recurring("nightly") is False
        assert storage.get_recurring("nightly") is None
        assert [r.name for r in storage.list_recurring()] == ["hourly"]

    def test_declaring_again_keeps_the_fire_times_of_the_same_schedule_only(
        self, storage: Storage
    ) -> None:
        fired = replace(recurring(next_fire_at=at(120)), last_fire_at=at(60))
        storage.upsert_recurring(fired)
        again = replace(recurring(next_fire_at=at(999)), args=("new",))
        storage.upsert_recurring(again, keep_fire_times=True)
        kept = replace(again, next_fire_at=at(120), last_fire_at=at(60))
        assert storage.get_recurring("nightly") == kept  # the new args, the owed fire times
        hourly = replace(again, cron_expression="0 * * * *")
        storage.upsert_recurring(hourly, keep_fire_times=True)
        assert storage.get_recurring("nightly") == hourly  # a new schedule starts afresh
        storage.upsert_recurring(recurring("fresh"), keep_fire_times=True)
        assert storage.get_recurring("fresh") == recurring("fresh")

    def test_a_fire_inserts_one_job_and_moves_the_schedule(self, storage: Storage) -> None:
        storage.upsert_recurring(recurring())
        job = new_job(queue="reports", meta={"recurring": "nightly", "fire_at": at(60).isoformat()})
        job_id = storage.fire_recurring(recurring(), at(60), job, at(120), at(61))
        assert job_id is not None
        stored = get(storage, job_id)
        assert stored.state is TaskState.PENDING
        assert stored.meta["recurring"] == "nightly"
        moved = storage.get_recurring("nightly")
        assert moved is not None
        assert (moved.next_fire_at, moved.last_fire_at) == (at(120), at(60))

    def test_each_fire_time_fires_once(self, storage: Storage) -> None:
        storage.upsert_recurring(recurring())
        job = new_job(queue="reports")
        first = storage.fire_recurring(recurring(), at(60), job, at(120), at(61))
        current = storage.get_recurring("nightly")
        assert current is not None
        assert storage.fire_recurring(current, at(60), job, at(120), at(62)) is None
        second = storage.fire_recurring(current, at(120), job, at(180), at(121))
        assert first is not None
        assert second is not None
        assert first != second
        assert queue_counts(storage, "reports") == expected_counts(pending=2)

    def test_racing_threads_fire_once(self, storage: Storage) -> None:
        storage.upsert_recurring(recurring())
        barrier = threading.Barrier(6)
        fired: list[str | None] = []

        def fire() -> None:
            barrier.wait()
            fired.append(
                storage.fire_recurring(
                    recurring(), at(60), new_job(queue="reports"), at(120), at(61)
                )
            )

        threads = [threading.Thread(target=fire) for _ in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len([job_id for job_id in fired if job_id is not None]) == 1
        assert queue_counts(storage, "reports") == expected_counts(pending=1)

    def test_an_unknown_or_deleted_task_does_not_fire(self, storage: Storage) -> None:
        job = new_job(queue="reports")
        assert storage.fire_recurring(recurring(), at(60), job, at(120), at(61)) is None
        storage.upsert_recurring(recurring())
        storage.delete_recurring("nightly")
        assert storage.fire_recurring(recurring(), at(60), job, at(120), at(61)) is None
        assert storage.get_recurring("nightly") is None
        assert queue_counts(storage, "reports") == expected_counts()

    def test_a_task_redefined_since_it_was_read_does_not_fire_and_keeps_its_definition(
        self, storage: Storage
    ) -> None:
        storage.upsert_recurring(recurring())
        read = storage.get_recurring("nightly")
        assert read is not None
        redefined = replace(recurring(next_fire_at=at(3600)), args=("weekly",))
        storage.upsert_recurring(redefined)
        assert (
            storage.fire_recurring(read, at(60), new_job(queue="reports"), at(120), at(61)) is None
        )
        assert storage.get_recurring("nightly") == redefined
        assert queue_counts(storage, "reports") == expected_counts()

    def test_a_fire_from_a_record_read_before_the_last_fire_is_refused(
        self, storage: Storage
    ) -> None:
        """The caller fires from what it read; another fire since then makes that stale."""
        storage.upsert_recurring(recurring())
        job = new_job(queue="reports")
        assert storage.fire_recurring(recurring(), at(60), job, at(120), at(61)) is not None
        assert storage.fire_recurring(recurring(), at(120), job, at(180), at(121)) is None
        moved = storage.get_recurring("nightly")
        assert moved is not None
        assert (moved.next_fire_at, moved.last_fire_at) == (at(120), at(60))
        assert queue_counts(storage, "reports") == expected_counts(pending=1)

    def test_a_record_read_back_matches_itself_whatever_its_args(self, storage: Storage) -> None:
        """Tuples come back as lists and NaN is not equal to itself: still the same record."""
        record = replace(
            recurring(), args=(float("nan"), (1, (2, 3))), options={"queue": "reports"}
        )
        storage.upsert_recurring(record)
        read = storage.get_recurring("nightly")
        assert read is not None
        assert storage.advance_recurring(read, at(30)) is True
        (read,) = storage.list_recurring()
        assert storage.fire_recurring(read, at(60), new_job(queue="reports"), at(120), at(61))

    def test_advance_moves_only_the_next_fire(self, storage: Storage) -> None:
        fired = replace(recurring(), last_fire_at=at(-60))
        storage.upsert_recurring(fired)
        assert storage.advance_recurring(fired, at(120)) is True
        assert storage.get_recurring("nightly") == replace(fired, next_fire_at=at(120))
        assert queue_counts(storage, "reports") == expected_counts()

    def test_advance_leaves_a_deleted_task_deleted(self, storage: Storage) -> None:
        storage.upsert_recurring(recurring())
        storage.delete_recurring("nightly")
        assert storage.advance_recurring(recurring(), at(120)) is False
        assert storage.get_recurring("nightly") is None
        assert storage.list_recurring() == []

    def test_advance_leaves_a_redefined_or_moved_task_as_it_is(self, storage: Storage) -> None:
        storage.upsert_recurring(recurring())
        redefined = replace(recurring(next_fire_at=at(3600)), cron_expression="0 4 * * *")
        storage.upsert_recurring(redefined)
        assert storage.advance_recurring(recurring(), at(120)) is False
        assert storage.get_recurring("nightly") == redefined
        assert storage.fire_recurring(redefined, at(60), new_job(), at(180), at(61)) is not None
        assert storage.advance_recurring(redefined, at(120)) is False
        moved = storage.get_recurring("nightly")
        assert moved is not None
        assert (moved.next_fire_at, moved.last_fire_at) == (at(180), at(60))


def runtime(runtime_id: str) -> RuntimeInfo:
    return RuntimeInfo(id=runtime_id, pid=4242, hostname="worker-1", started_at=T0)


class TestRuntimes:
    def test_rescue_releases_only_claims_of_runtimes_not_alive(self, storage: Storage) -> None:
        """Alive: registered and not unregistered. A never-registered claimer is dead."""
        storage.register_runtime(runtime("alive"))
        storage.register_runtime(runtime("stopped"))
        storage.unregister_runtime("stopped")
        held = {
            name: job_in(storage, TaskState.PENDING, queue=name)
            for name in ("alive", "stopped", "ghost")
        }
        for name, job_id in held.items():
            assert ids(storage.claim(name, 1, name, T0)) == [job_id]
        rescued = storage.rescue_orphans(at(5))
        assert sorted(ids(rescued)) == sorted([held["stopped"], held["ghost"]])
        assert all(job.state is TaskState.PENDING and job.attempts == 1 for job in rescued)
        for job in rescued:
            assert [(entry.attempt, entry.at) for entry in job.errors] == [(1, at(5))]
            assert job.last_error is not None
            assert "interrupted" in job.last_error
        assert state_of(storage, held["alive"]) is TaskState.RUNNING
        assert storage.rescue_orphans(at(6)) == []

    def test_rescue_discards_jobs_without_attempts_left(self, storage: Storage) -> None:
        job_id = insert(storage, max_attempts=1)
        storage.claim("default", 1, "ghost", T0)
        (rescued,) = storage.rescue_orphans(at(1))
        assert rescued.id == job_id
        assert rescued.state is TaskState.DISCARDED

    def test_registering_twice_and_unregistering_unknown_are_harmless(
        self, storage: Storage
    ) -> None:
        storage.register_runtime(runtime("alive"))
        storage.register_runtime(runtime("alive"))
        storage.unregister_runtime("never-registered")
        job_id = insert(storage)
        storage.claim("default", 1, "alive", T0)
        assert storage.rescue_orphans(at(1)) == []
        assert state_of(storage, job_id) is TaskState.RUNNING
        storage.unregister_runtime("alive")
        assert ids(storage.rescue_orphans(at(2))) == [job_id]


class TestLifecycle:
    def test_close_is_idempotent_and_later_calls_fail_cleanly(self, storage: Storage) -> None:
        """After ``close`` a backend raises :class:`StorageError`, never crashes."""
        insert(storage)
        storage.close()
        storage.close()
        with pytest.raises(StorageError):
            storage.get("anything")
        with pytest.raises(StorageError):
            storage.insert(new_job(), T0)


def test_new_job_defaults_match_the_design() -> None:
    job = NewJob(queue="q", worker="w", function="f")
    assert (job.priority, job.max_attempts, job.args, job.scheduled_at) == (0, 5, (), None)
