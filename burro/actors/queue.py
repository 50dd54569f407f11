"""QueueActor: claims as many ready jobs as its queue has idle workers, never more."""

from __future__ import annotations

import logging
from typing import Any

from burro.actors._base import BurroActor
from burro.actors._context import RuntimeContext
from burro.actors._hub import Wake
from burro.errors import StorageError
from burro.states import TaskState
from burro.storage.base import Job, JobFilter

__all__ = ["QueueActor"]

logger = logging.getLogger("burro.queue")

# Bounds the reconciliation read; a runtime never holds more claims than its concurrency.
_MAX_RECONCILE = 100_000


class QueueActor(BurroActor):
    """Dispatches the claimed jobs of one queue to its WorkerActors.

    Claiming only for idle workers keeps priorities exact: a job claimed is a job started.
    """

    def __init__(self, context: RuntimeContext, queue: str) -> None:
        super().__init__()
        self._ctx = context
        self._queue = queue
        self._hub = context.hubs[queue]
        #: Whether claims of this runtime may be stranded (held by no worker): at start,
        #: a crashed predecessor may have left some.
        self._stranded = True

    def on_start(self) -> None:
        """Rescue claims a crashed predecessor never dispatched, then look for work."""
        self._hub.attach_queue(self.actor_ref)
        self._fill()

    def handle(self, message: Any) -> Any:
        """Look for work when woken."""
        if isinstance(message, Wake):
            self._hub.woken()
            self._fill()
            return None
        return super().handle(message)

    def _fill(self) -> None:
        """Rescue stranded claims if there may be some, then claim for the idle workers.

        A storage failure is ridden out (see :mod:`burro.actors._outage`): the next wake
        tries again (an enqueue, a freed worker, or the scheduler's poll, which wakes
        every queue each ``poll_interval_seconds``).
        """
        try:
            if self._stranded:
                self._rescue_undispatched()
                self._stranded = False
            self._claim()
        except StorageError as error:
            self._stranded = True  # a failed release may have left a claim undispatched
            self._ctx.outage.failed(error, f"queue {self._queue}")

    def _claim(self) -> None:
        idle = self._hub.idle_slots()
        if not idle:
            return
        ctx = self._ctx
        with ctx.turn:  # see burro._turns
            jobs = ctx.storage.claim(self._queue, len(idle), ctx.runtime_id, ctx.clock.now())
            self.crash_point()  # a fault here strands the claims: the next incarnation rescues them
            for index, job in zip(idle, jobs, strict=False):
                self._dispatch(index, job)
        if jobs and ctx.outage.error is not None:
            ctx.outage.recovered()  # a claim that wrote something: writes work again

    def _dispatch(self, index: int, job: Job) -> None:
        if not self._hub.dispatch(index, job):
            self._release([job.id], rescue=False)

    def _rescue_undispatched(self) -> None:
        ctx = self._ctx
        # Under the claims lock: a worker's claim is either not committed yet or recorded.
        with self._hub.claims_lock:
            held = self._hub.held_jobs()
            running, _ = ctx.storage.list_jobs(
                JobFilter(states=frozenset({TaskState.RUNNING}), queue=self._queue),
                offset=0,
                limit=_MAX_RECONCILE,
            )
            stranded = [
                j.id for j in running if j.claimed_by == ctx.runtime_id and j.id not in held
            ]
            if stranded:
                logger.warning(
                    "rescuing %d job(s) claimed but never started on %s",
                    len(stranded),
                    self._queue,
                )
                self._release(stranded, rescue=False)  # never started: the attempt goes back

    def _release(self, job_ids: list[str], *, rescue: bool) -> None:
        ctx = self._ctx
        ctx.storage.release(ctx.runtime_id, job_ids, ctx.clock.now(), rescue=rescue)
        ctx.notify_activity()
