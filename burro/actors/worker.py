"""WorkerActor: runs one job at a time for its queue, then commits the outcome.

A job's run is claim (done by the QueueActor) → execute → settle. The worker slot is
freed only once the outcome is committed, so after a crash at most the jobs that were
running can run again, never finished ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sized
from datetime import datetime
from queue import Queue
from typing import Any, NamedTuple, TypeVar

from burro.actors._base import BurroActor
from burro.actors._context import RuntimeContext
from burro.actors._execute import Outcome, execute
from burro.actors._retry import retry_at
from burro.errors import InvalidTaskError, StorageError
from burro.facade.context import TaskContext
from burro.observability.reporter import Attempt
from burro.states import TaskState
from burro.storage.base import Cancel, Complete, Fail, Job, Settlement

__all__ = ["Run", "WorkerActor"]

logger = logging.getLogger("burro.worker")

_T = TypeVar("_T")

#: Read once: an enum member read off its class costs about a Python call.
_RETRYABLE = TaskState.RETRYABLE

#: Builds a Complete from its fields in order, without the named tuple's Python __new__.
_complete = tuple.__new__


class Run(NamedTuple):
    """Message: run this claimed job."""

    job: Job


class WorkerActor(BurroActor):
    """Slot ``index`` of queue ``queue``: executes the jobs its QueueActor assigns."""

    def __init__(self, context: RuntimeContext, queue: str, index: int) -> None:
        super().__init__()
        self._ctx = context
        self._hub = context.hubs[queue]
        self._index = index
        # Read once, for the hot path: pykka's actor_ref is a property, and Queue.empty
        # takes the queue's lock and makes two calls to say whether its deque is empty.
        self._ref = self.actor_ref
        inbox = self.actor_inbox
        assert isinstance(inbox, Queue)  # a ThreadingActor's inbox
        self._messages: Sized = inbox.queue

    def on_start(self) -> None:
        """Take the slot over; jobs held by a crashed predecessor are put back."""
        running, claimed = self._hub.attach_worker(self._index, self.actor_ref)
        if running is not None:
            self._stored(lambda: self._rescue(running))  # its attempt was interrupted: it counts
        if claimed is not None:
            self._stored(lambda: self._give_back(claimed))
        self._hub.wake()

    def handle(self, message: Any) -> Any:
        """Run a job."""
        if isinstance(message, Run):
            self._run(message.job)
            return None
        return super().handle(message)

    def _run(self, job: Job | None) -> None:
        # Run jobs back to back while the inbox is empty: each outcome is committed
        # together with the claim of this slot's next job (no QueueActor round trip).
        while job is not None:
            inserts = self._hub.inserts  # before the claim: see _continue_with
            next_job = self._run_one(job)
            job = self._continue_with(job, next_job, inserts)

    def _run_one(self, job: Job) -> Job | None:
        """Execute one job and commit its outcome; returns the next job claimed for this slot."""
        # The attempt's CONSUMER span (reporter.attempt(job), without that method's call).
        with Attempt(self._ctx.reporter, job) as attempt:
            outcome = self._execute(job)
            attempt.executed()
            self.crash_point()  # a fault here loses the outcome: the job is rescued, runs again
            settled, next_job = self._settle(job, outcome)
            attempt.settled(settled, outcome)
        if settled is not None and settled.state is _RETRYABLE:
            self._ctx.wake_scheduler()
        return next_job

    def _continue_with(self, finished: Job, next_job: Job | None, inserts: int) -> Job | None:
        """Hand this still-held slot to ``next_job``, or free it.

        ``inserts``: the queue's insert count before this slot's claim. Jobs inserted
        since then may have found this slot busy and woken nobody: then wake the
        QueueActor now that the slot is free.
        """
        hub = self._hub
        if next_job is not None:
            if hub.replace(self._index, finished.id, next_job.id):
                if not self._messages:  # Queue.empty, without its lock: as racy
                    return next_job
                self._ref.tell(Run(next_job))  # let crash/stop messages in first
                return None
            self._give_back(next_job.id)
        hub.free(self._index, finished.id)
        if next_job is None and hub.inserts == inserts:
            return None  # nothing was inserted that this slot's claim could have missed
        hub.wake()
        return None

    def _execute(self, job: Job) -> Outcome:
        try:
            target = self._ctx.resolver.resolve(job.worker, job.function, may_import=False)
        except InvalidTaskError as exc:
            return Outcome(
                "failed", error=f"InvalidTaskError: {exc}", error_type="InvalidTaskError"
            )
        context = TaskContext(job.id, job.attempts, job.queue, self._ctx.cancel_check(job.id))
        return execute(target, job.args, context, job.timeout_seconds, self._ctx.abandoned)

    def _settle(self, job: Job, outcome: Outcome) -> tuple[Job | None, Job | None]:
        hub = self._hub
        next_from = hub.name if hub.may_claim(self._index, self._ref) else None
        if outcome.kind == "completed":  # _settlement's common case, without its call
            settlement: Settlement = _complete(
                Complete, (job.id, self._ctx.runtime_id, job.attempts, outcome.result)
            )
        else:
            settlement = self._settlement(job, outcome)
        commit = self._ctx.commit
        try:
            try:
                return commit.finish(settlement, next_from, self._index)
            except StorageError as error:
                # The slot stays busy until the outcome is stored, however long that takes.
                return self._ride_out(
                    lambda: commit.finish(settlement, next_from, self._index), error
                )
        except StorageError:
            # The runtime stopped first, and released this job: it runs again later.
            logger.warning("job %s finished after shutdown; its outcome was not recorded", job.id)
            return None, None
        finally:
            self._ctx.cancel_requests.discard(job.id)

    def _stored(self, write: Callable[[], _T]) -> _T:
        """Run a storage write, riding out a storage outage (see :mod:`burro.actors._outage`)."""
        try:
            return write()
        except StorageError as error:
            return self._ride_out(write, error)

    def _ride_out(self, write: Callable[[], _T], error: StorageError) -> _T:
        """Try a failed write again after growing pauses until it succeeds.

        Raises the last error once the runtime stops waiting for running jobs.
        """
        outage = self._ctx.outage
        where = f"worker {self._hub.name}:{self._index}"
        while True:
            outage.pause(outage.failed(error, where))
            if outage.halted:
                raise error
            try:
                result = write()
            except StorageError as again:
                error = again
                continue
            outage.recovered()
            return result

    def _settlement(self, job: Job, outcome: Outcome) -> Settlement:
        runtime_id = self._ctx.runtime_id
        if outcome.kind == "completed":
            return Complete(job.id, runtime_id, job.attempts, outcome.result)
        if outcome.kind == "cancelled":
            return Cancel(job.id, runtime_id, job.attempts)
        return Fail(
            job.id, runtime_id, job.attempts, outcome.error or "", self._retry_at(job, outcome)
        )

    def _retry_at(self, job: Job, outcome: Outcome) -> datetime | None:
        # A job naming a worker that may not run is hopeless: straight to the dead letters.
        if outcome.error_type == "InvalidTaskError" or job.attempts >= job.max_attempts:
            return None
        config = self._ctx.config
        return retry_at(
            self._ctx.clock.now(),
            job.retry_delay_seconds,
            job.attempts,
            config.max_retry_delay_seconds,
            self._ctx.rng,
        )

    def _give_back(self, job_id: str) -> None:
        """Put back a job claimed for this slot that never started (its attempt returned)."""
        ctx = self._ctx
        ctx.storage.release(ctx.runtime_id, [job_id], ctx.clock.now(), rescue=False)

    def _rescue(self, job_id: str) -> None:
        jobs = self._ctx.storage.release(
            self._ctx.runtime_id, [job_id], self._ctx.clock.now(), rescue=True
        )
        for job in jobs:
            logger.warning(
                "rescued job %s after its worker crashed (now %s)",
                job.id,
                job.state,
                extra={"task_id": job.id, "queue": job.queue, "worker": job.worker},
            )
        self._ctx.notify_activity()
