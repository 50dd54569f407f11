"""SchedulerActor: makes scheduled and retryable jobs pending when they fall due, and
fires recurring tasks.

It sleeps on one timer set to the earliest due time or fire time (not a fixed-interval
poll), and
wakes every ``poll_interval_seconds`` only to find work other processes sharing the
store have added and to rescue the claims of runtimes that died.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

import pykka

from burro.actors._base import BurroActor
from burro.actors._context import RuntimeContext
from burro.actors._recurring import fire_due
from burro.clock import TimerHandle
from burro.errors import StorageError

__all__ = ["TICK", "SchedulerActor", "Tick"]

logger = logging.getLogger("burro.scheduler")

_PROMOTE_BATCH = 1_000


class Tick:
    """Message: the earliest due time may have come or changed."""

    __slots__ = ()


TICK = Tick()


class SchedulerActor(BurroActor):
    """Promotes due jobs and keeps one timer armed for the next one."""

    def __init__(self, context: RuntimeContext) -> None:
        super().__init__()
        self._ctx = context
        self._timer: TimerHandle | None = None
        self._timer_at: datetime | None = None
        self._next_poll_at = context.clock.now()
        self._next_fire_at: datetime | None = None

    def on_start(self) -> None:
        """Announce this incarnation and catch up at once."""
        self._ctx.scheduler_ref = self.actor_ref
        self._tick()

    def on_stop(self) -> None:
        """Disarm the timer."""
        self._disarm()

    def handle(self, message: Any) -> Any:
        """Promote what is due, poll if it is time, re-arm."""
        if isinstance(message, Tick):
            self._tick()
            return None
        return super().handle(message)

    def _tick(self) -> None:
        now = self._ctx.clock.now()
        try:
            if now >= self._next_poll_at:
                self._poll(now)
            self._fire_recurring(now)
            self._promote(now)
            when = self._next_wake()
        except StorageError as error:
            # Ridden out, not crashed on (see burro.actors._outage): try again after a pause.
            pause = self._ctx.outage.failed(error, "scheduler")
            when = now + timedelta(seconds=pause)
        self._arm(when)

    def _fire_recurring(self, now: datetime) -> None:
        # A fire this late is still "on time" for catch_up="none" (the scheduler is timer
        # driven; lag beyond a couple of polls means the runtime was not running).
        grace = timedelta(seconds=max(1.0, 2 * self._ctx.config.poll_interval_seconds))
        queues, self._next_fire_at = fire_due(self._ctx.storage, now, grace, self._ctx.reporter)
        for queue in queues:
            self._wake_queue(queue)

    def _promote(self, now: datetime) -> None:
        while True:
            promoted = self._ctx.storage.promote(now, _PROMOTE_BATCH)
            for queue in promoted:
                self._wake_queue(queue)
            if sum(promoted.values()) < _PROMOTE_BATCH:
                return

    def _poll(self, now: datetime) -> None:
        ctx = self._ctx
        self._next_poll_at = now + timedelta(seconds=ctx.config.poll_interval_seconds)
        try:
            rescued = ctx.storage.rescue_orphans(now)
            if rescued:
                logger.warning("rescued %d job(s) of runtimes that died", len(rescued))
        finally:
            # Even when the rescue failed: a queue riding out a storage outage retries then.
            for hub in ctx.hubs.values():
                hub.wake()

    def _wake_queue(self, queue: str) -> None:
        """Wake the queue a promotion or a recurring fire just wrote jobs to."""
        if self._ctx.outage.error is not None:
            self._ctx.outage.recovered()  # that write went through: writes work again
        hub = self._ctx.hubs.get(queue)
        if hub is not None:
            hub.wake()

    def _next_wake(self) -> datetime:
        candidates = [self._next_poll_at, self._ctx.storage.next_due_at(), self._next_fire_at]
        return min(c for c in candidates if c is not None)

    def _arm(self, when: datetime) -> None:
        if self._timer is not None and self._timer_at == when:
            return
        self._disarm()
        self._timer_at = when
        self._timer = self._ctx.clock.call_at(when, self._fire)

    def _fire(self) -> None:
        # stopped or restarting: the next incarnation arms its own timer
        with contextlib.suppress(pykka.ActorDeadError):
            self.actor_ref.tell(TICK)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None
