"""What every actor of one runtime shares: storage, clock, identity, the queue hubs."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pykka

from burro._turns import turns_for
from burro.actors._commit import SettlementBatcher, shares_commits
from burro.actors._hub import QueueHub
from burro.actors._outage import StorageOutage
from burro.clock import Clock
from burro.facade._worker import WorkerResolver
from burro.observability.events import EventBus
from burro.observability.reporter import LifecycleReporter
from burro.states import TaskState
from burro.storage.base import Storage

if TYPE_CHECKING:
    from burro.config import Config

__all__ = ["AbandonedThreads", "RuntimeContext"]


class AbandonedThreads:
    """Threads left running by timed-out jobs: counted, never silently forgotten."""

    def __init__(self) -> None:
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self.total = 0

    def add(self, thread: threading.Thread) -> None:
        """Account for a thread whose job timed out."""
        with self._lock:
            self._threads.add(thread)
            self.total += 1

    def alive(self) -> int:
        """How many abandoned threads are still running."""
        with self._lock:
            self._threads = {t for t in self._threads if t.is_alive()}
            return len(self._threads)


@dataclass(eq=False)
class RuntimeContext:
    """The state one runtime's actors share; rebuilt never, outlives actor restarts."""

    config: Config
    storage: Storage
    clock: Clock
    runtime_id: str
    resolver: WorkerResolver
    events: EventBus
    activity: threading.Condition = field(default_factory=threading.Condition)
    hubs: dict[str, QueueHub] = field(default_factory=dict)
    abandoned: AbandonedThreads = field(default_factory=AbandonedThreads)
    rng: random.Random = field(default_factory=random.Random)
    scheduler_ref: pykka.ActorRef[Any] | None = None
    #: Running jobs of this runtime whose cancel was asked here (a fast path; storage
    #: holds the truth for cancels asked by other processes).
    cancel_requests: set[str] = field(default_factory=set)
    #: A storage failure the actors are riding out (see :mod:`burro.actors._outage`).
    outage: StorageOutage = field(default_factory=StorageOutage)
    reporter: LifecycleReporter = field(init=False)
    commit: SettlementBatcher = field(init=False)
    #: Taken around each enqueue, settlement and claim (see :mod:`burro._turns`).
    turn: AbstractContextManager[object] = field(init=False)

    def __post_init__(self) -> None:
        self.reporter = LifecycleReporter(self.events)
        self.turn = turns_for(self.config.backend, self.config.durability)
        self.commit = SettlementBatcher(
            self.storage,
            self.runtime_id,
            self.clock,
            self.turn,
            self.hubs,
            grouped=shares_commits(self.config.backend, self.config.durability),
        )

    def cancel_check(self, job_id: str) -> Callable[[], bool]:
        """A cheap predicate telling a running job whether its cancel was asked."""

        def cancelled() -> bool:
            if job_id in self.cancel_requests:
                return True
            job = self.storage.get(job_id)
            return job is None or job.cancel_requested or job.state is not TaskState.RUNNING

        return cancelled

    def notify_activity(self) -> None:
        """Wake whoever waits for jobs to move (drain, stop)."""
        with self.activity:
            self.activity.notify_all()

    def wake_scheduler(self) -> None:
        """Ask the SchedulerActor to re-read the earliest due time."""
        from burro.actors.scheduler import TICK

        ref = self.scheduler_ref
        if ref is not None:
            # a restarting scheduler re-reads due times on start
            with contextlib.suppress(pykka.ActorDeadError):
                ref.tell(TICK)
