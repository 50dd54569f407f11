"""A queue's slot table: which worker holds which job, shared by its actors.

The hub is plain, lock-protected bookkeeping that outlives actor restarts: a restarted
QueueActor reads which slots are busy, a restarted WorkerActor finds the job its dead
incarnation held and has it rescued. Storage stays the source of truth; the hub only
says which claims this runtime is actually running.
"""

from __future__ import annotations

import threading
from typing import Any

import pykka

__all__ = ["QueueHub", "Wake"]


class Wake:
    """Message: look for work (coalesced: at most one is in flight per queue)."""

    __slots__ = ()


WAKE = Wake()


class QueueHub:
    """The slots of one queue in one runtime."""

    def __init__(self, name: str, concurrency: int, activity: threading.Condition) -> None:
        self.name = name
        self.concurrency = concurrency
        self.paused = False
        self.stopping = False
        self._lock = threading.Lock()
        self._activity = activity
        self._slots: dict[int, str | None] = {}
        #: Slot -> the job claimed for it in a settlement, until the slot takes it over.
        self._claimed: dict[int, str] = {}
        self._workers: dict[int, pykka.ActorRef[Any]] = {}
        #: Slot -> the job still running on the worker scaling down removed from it: the
        #: slot stays busy until that job is freed, even if a new worker takes it over.
        self._retiring: dict[int, str] = {}
        #: Held while claims for this queue's slots are committed and recorded, and while
        #: the QueueActor looks for claims no slot holds: a claim in between is not lost.
        self.claims_lock = threading.Lock()
        self._queue_ref: pykka.ActorRef[Any] | None = None
        self._wake_pending = False
        #: Jobs this runtime inserted into the queue so far (see :meth:`inserted`).
        self.inserts = 0

    # -- actors announce themselves -------------------------------------------------
    def attach_queue(self, ref: pykka.ActorRef[Any]) -> None:
        """Record the current QueueActor incarnation."""
        with self._lock:
            self._queue_ref = ref
            self._wake_pending = False

    def attach_worker(self, index: int, ref: pykka.ActorRef[Any]) -> tuple[str | None, str | None]:
        """Record a WorkerActor incarnation; returns what its predecessor left behind.

        That is the job it was running, and the job claimed for it next if it died
        before taking that one over (each ``None`` if there is none). A worker removed
        by scaling down left nothing behind: it settles its job and claim itself.
        """
        with self._lock:
            running = self._slots.get(index)
            claimed = None if index in self._retiring else self._claimed.pop(index, None)
            self._slots[index] = None
            self._workers[index] = ref
        return running, claimed

    def detach_worker(self, index: int) -> None:
        """Forget a worker slot removed by scaling down.

        Its job, if any, runs on and keeps the slot busy: a worker taking the slot over
        later starts work only once that job is freed, and does not rescue it as a
        crashed predecessor's. The removed worker claims nothing more (:meth:`may_claim`).
        """
        with self._lock:
            self._workers.pop(index, None)
            job = self._slots.pop(index, None)
            if job is not None:
                self._retiring[index] = job

    # -- the QueueActor assigns, the WorkerActor frees ---------------------------------
    def idle_slots(self) -> list[int]:
        """Slots that may take a job now, lowest index first."""
        with self._lock:
            return [
                index
                for index, ref in sorted(self._workers.items())
                if self._free(index) and ref.is_alive()
            ]

    def _free(self, index: int) -> bool:
        # Under the lock: slot ``index`` holds no job, nor does the worker scaling down
        # removed from it, and may take one.
        return self._open(index) and self._slots.get(index) is None and index not in self._retiring

    def _open(self, index: int) -> bool:
        # Slot ``index`` counts towards the queue's concurrency, which is taking jobs.
        return not (self.paused or self.stopping) and index < self.concurrency

    def assign(self, index: int, job_id: str) -> pykka.ActorRef[Any] | None:
        """Give ``job_id`` to slot ``index``; returns the worker to tell, or None if gone."""
        with self._lock:
            ref = self._workers.get(index)
            if ref is None or self._slots.get(index) is not None or index in self._retiring:
                return None
            self._slots[index] = job_id
            return ref

    def dispatch(self, index: int, job: Any) -> bool:
        """Hand ``job`` (claimed) to slot ``index``'s worker; False if it could not take it."""
        from burro.actors.worker import Run

        ref = self.assign(index, job.id)
        if ref is None:
            return False
        try:
            ref.tell(Run(job))
        except pykka.ActorDeadError:
            # False only if the slot still holds it: a restarted worker may have rescued it.
            return not self.free(index, job.id)
        return True

    def may_claim(self, index: int, worker: pykka.ActorRef[Any]) -> bool:
        """Whether ``worker``, finishing a job of slot ``index``, may claim the next one now.

        Never once scaling down removed it, even if a new worker took its slot over.
        """
        with self._lock:  # _open inline: this runs for every job a worker finishes
            return (
                self._workers.get(index) is worker
                and not (self.paused or self.stopping)
                and index < self.concurrency
            )

    def claimed_for(self, index: int, job_id: str) -> None:
        """``job_id`` was claimed for slot ``index``, which has yet to take it over."""
        with self._lock:
            self._claimed[index] = job_id

    def replace(self, index: int, finished: str, claimed: str) -> bool:
        """Hand slot ``index`` from ``finished`` straight to ``claimed`` (no idle moment).

        False if the slot moved on meanwhile: the caller must then release ``claimed``.
        """
        with self._lock:
            if self._claimed.get(index) == claimed:
                del self._claimed[index]
            if self._slots.get(index) != finished:
                return False
            self._slots[index] = claimed
        return True

    def free(self, index: int, job_id: str) -> bool:
        """Free slot ``index`` if it still holds ``job_id``; wakes waiters (drain, stop).

        The job of a worker removed by scaling down frees the slot for its new worker.
        """
        with self._lock:
            retired = self._retiring.get(index) == job_id
            if retired:
                del self._retiring[index]
            elif self._slots.get(index) == job_id:
                self._slots[index] = None
            else:
                return False
        with self._activity:
            self._activity.notify_all()
        if retired:
            self.wake()  # the slot's new worker, if any, was waiting for this job
        return True

    def running_jobs(self) -> dict[int, str]:
        """Slot → job id for every busy slot (a retiring job keeps its slot busy)."""
        with self._lock:
            running = {index: job for index, job in self._slots.items() if job is not None}
            running.update(self._retiring)
            return running

    def held_jobs(self) -> set[str]:
        """Every job a slot runs, or was claimed for a slot that has yet to take it."""
        with self._lock:
            running = {job for job in self._slots.values() if job is not None}
            return running | set(self._retiring.values()) | set(self._claimed.values())

    def worker_refs(self) -> dict[int, pykka.ActorRef[Any]]:
        """Slot → current WorkerActor incarnation."""
        with self._lock:
            return dict(self._workers)

    # -- waking the QueueActor -------------------------------------------------------
    def inserted(self) -> None:
        """Jobs were just committed to this queue: wake the QueueActor if a slot is idle.

        Busy workers claim their next job themselves. A worker whose claim came too early
        for these jobs, and which frees its slot only after this check, sees ``inserts``
        changed and wakes the QueueActor itself.
        """
        with self._lock:
            self.inserts += 1
            idle = any(self._free(index) for index in self._workers)
        if idle:  # a slot whose worker just died is fine: the QueueActor looks again
            self.wake()

    def wake(self) -> None:
        """Ask the QueueActor to look for work, unless a wake is already on its way."""
        with self._lock:
            if self._wake_pending or self._queue_ref is None:
                return
            self._wake_pending = True
            ref = self._queue_ref
        try:
            ref.tell(WAKE)
        except pykka.ActorDeadError:
            with self._lock:
                self._wake_pending = False

    def woken(self) -> None:
        """Called by the QueueActor when it handles a wake, so the next one is sent."""
        with self._lock:
            self._wake_pending = False
