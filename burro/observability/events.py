"""Lifecycle events for integrations: ``manager.events.subscribe(name, callback)``.

Callbacks run on one dispatcher thread, off the workers' hot path. A callback that
raises is logged and never breaks the runtime; one that blocks delays only other
callbacks, and a full backlog drops events (with a WARNING) rather than stall jobs.

``callback(event_name, payload)`` gets its own plain ``dict`` (it may change, keep,
serialise or pickle it; the next callback still sees the event as emitted); payloads
never hold a job's args or result (they may hold personal data):

* every ``job.*`` event: ``task_id``, ``queue``, ``worker`` (``module.function``), and
  but for ``job.enqueued``, ``attempt``;
* ``job.completed``, ``job.failed``, ``job.retry``, ``job.discarded``, and
  ``job.cancelled`` of a running job: ``state`` (what the attempt left the job in) and
  ``duration`` (seconds the attempt's code ran);
* ``job.failed``, ``job.retry``, ``job.discarded``: ``error_type`` and ``error``
  (``Type: message``, redacted as configured); ``job.retry``: ``retry_at`` (ISO 8601);
* ``actor.restarted``: ``supervisor``, ``actor``, ``reason``, ``count``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["EVENT_NAMES", "EventBus", "EventCallback"]

logger = logging.getLogger("burro.events")

EVENT_NAMES = frozenset(
    {
        "job.enqueued",
        "job.started",
        "job.completed",
        "job.failed",
        "job.retry",
        "job.discarded",
        "job.cancelled",
        "actor.restarted",
    }
)

EventCallback = Callable[[str, Mapping[str, Any]], None]
_STOP = object()


class EventBus:
    """Publish/subscribe of lifecycle events, delivered asynchronously."""

    def __init__(self, max_backlog: int = 10_000) -> None:
        self._subscribers: dict[str, tuple[EventCallback, ...]] = {}
        # Events someone listens to: emitters check this on every job, so it is one lookup.
        self._wanted: frozenset[str] = frozenset()
        self._lock = threading.Lock()
        self._backlog: queue.Queue[object] = queue.Queue(max_backlog)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._dropped = 0

    def subscribe(self, event_name: str, callback: EventCallback) -> None:
        """Call ``callback(event_name, payload)`` for every ``event_name`` event ("*": all)."""
        from burro.errors import InvalidTaskError

        if not isinstance(event_name, str) or (event_name != "*" and event_name not in EVENT_NAMES):
            raise InvalidTaskError(
                f"unknown event {event_name!r}; expected one of {sorted(EVENT_NAMES)} or '*'"
            )
        if not callable(callback):
            raise InvalidTaskError(f"the callback must be callable, not {callback!r}")
        with self._lock:
            self._subscribers[event_name] = (*self._subscribers.get(event_name, ()), callback)
            self._wanted = self._listened()
            self._ensure_dispatcher()

    def unsubscribe(self, event_name: str, callback: EventCallback) -> None:
        """Stop calling ``callback`` for ``event_name``; unknown pairs are ignored."""
        with self._lock:
            remaining = tuple(c for c in self._subscribers.get(event_name, ()) if c != callback)
            self._subscribers[event_name] = remaining
            self._wanted = self._listened()

    def wants(self, event_name: str) -> bool:
        """Whether anyone listens to ``event_name`` (lets emitters skip building payloads)."""
        return event_name in self._wanted

    def emit(self, event_name: str, payload: Mapping[str, Any]) -> None:
        """Queue an event for delivery; never blocks, never raises.

        ``payload`` is handed over: built for this event, it is not changed after.
        """
        if not self.wants(event_name):
            return
        try:
            self._backlog.put_nowait((event_name, payload))
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1 or self._dropped % 1000 == 0:
                logger.warning("event backlog full: %d events dropped", self._dropped)

    @property
    def dropped(self) -> int:
        """Events dropped because subscribers could not keep up."""
        return self._dropped

    def close(self, timeout: float = 2.0) -> None:
        """Deliver what is queued (up to ``timeout``) and stop the dispatcher, for good.

        A subscriber still busy at the deadline is left behind (its thread is a daemon),
        so a blocked subscriber never blocks the runtime's shutdown either; the
        dispatcher still ends once it is free and the backlog is delivered. Events
        emitted after ``close`` are not queued.
        """
        with self._lock:
            thread, self._thread = self._thread, None
            # The flag, not _STOP alone, ends the dispatcher: a full backlog has no room
            # for _STOP, and the dispatcher may be the thread closing the bus.
            self._closed = True
            self._wanted = frozenset()
        if thread is None:
            return
        if thread is threading.current_thread():
            # Closed by a subscriber (stop() on some event): the dispatcher cannot wait
            # for itself; it delivers what is queued and stops once that callback returns.
            return
        deadline = time.monotonic() + timeout
        with contextlib.suppress(queue.Full):
            self._backlog.put(_STOP, timeout=timeout)
        thread.join(max(deadline - time.monotonic(), 0.0))
        if thread.is_alive():
            logger.warning(
                "event subscribers still busy after %.1fs; not waiting for them", timeout
            )

    def _listened(self) -> frozenset[str]:
        if self._closed:
            return frozenset()
        if self._subscribers.get("*"):
            return EVENT_NAMES
        return frozenset(name for name, callbacks in self._subscribers.items() if callbacks)

    def _ensure_dispatcher(self) -> None:
        if self._thread is None and not self._closed:
            self._thread = threading.Thread(target=self._dispatch, name="burro-events", daemon=True)
            self._thread.start()

    def _dispatch(self) -> None:
        while (item := self._next_event()) is not _STOP:
            event_name: str
            payload: Mapping[str, Any]
            event_name, payload = item  # type: ignore[misc]
            for callback in (
                *self._subscribers.get(event_name, ()),
                *self._subscribers.get("*", ()),
            ):
                self._deliver(callback, event_name, payload)

    def _next_event(self) -> object:
        """The next queued event; once the bus is closed, _STOP when none is left."""
        if not self._closed:
            # Blocks only on an empty backlog, which leaves room for close()'s _STOP.
            return self._backlog.get()
        try:
            return self._backlog.get_nowait()
        except queue.Empty:
            return _STOP

    @staticmethod
    def _deliver(callback: EventCallback, event_name: str, payload: Mapping[str, Any]) -> None:
        try:
            # A copy per callback, on the dispatcher thread rather than the emitter's: what
            # one subscriber changes never reaches the next, and a dict serialises as is.
            callback(event_name, dict(payload))
        except (Exception, SystemExit):  # sys.exit() here would end every delivery
            logger.exception("event subscriber %r failed on %s", callback, event_name)
