"""The Supervisor actor: OTP's ``supervisor`` behaviour for Pykka actors."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import pykka

from burro.supervision._children import ChildKind, ChildRecord, ChildTable, ChildView
from burro.supervision._intensity import RestartIntensity, RestartIntensityExceeded
from burro.supervision._lifeline import Exit, Lifeline, lifeline_of
from burro.supervision._messages import ChildExited, RetryRestart
from burro.supervision._spec import STRATEGIES, ChildSpec, RestartEvent, Strategy
from burro.supervision._strategy import restart_group
from burro.supervision._supervised import SupervisedActor

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["Supervisor"]

logger = logging.getLogger("burro.supervision")


class Supervisor(SupervisedActor):
    """Starts, watches and restarts child actors, as an OTP supervisor does.

    Children start in order, in ``on_start``: ``Supervisor.start(...)`` returns with
    all of them up, or raises what the first failing child raised (the children
    already started are stopped first). They stop in reverse order, each within its
    ``shutdown_timeout``, when the supervisor stops or fails.

    When a child exits, its restart type decides whether it is restarted and the
    strategy decides which siblings restart with it. More than ``max_restarts``
    restarts within ``max_seconds`` make the supervisor stop its children and fail,
    which its own supervisor sees as an abnormal exit of a child. Once started, any
    abnormal exit of this supervisor is passed (as its reason) to ``on_failure``, which
    its thread calls as it exits: the root of a tree reports its failure that way.

    The supervisor never asks a child anything: exits arrive as messages from the
    children's own threads, and stops are bounded waits on their lifelines.
    """

    # Its on_start is bounded by its children's own start and shutdown timeouts.
    start_timeout: ClassVar[float | None] = None

    def __init__(
        self,
        name: str,
        children: Sequence[ChildSpec] = (),
        *,
        strategy: Strategy = "one_for_one",
        max_restarts: int = 3,
        max_seconds: float = 5.0,
        on_restart: Callable[[RestartEvent], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
        self._name = name
        self._strategy: Strategy = strategy
        self._intensity = RestartIntensity(max_restarts, max_seconds)
        self._children = ChildTable(children)
        self._on_restart = on_restart
        self._on_failure = on_failure
        self._lifeline.subtree = self.tree

    def __str__(self) -> str:
        return f"Supervisor {self._name!r} ({self.actor_urn})"

    # -- lifecycle hooks -------------------------------------------------------------

    def on_start(self) -> None:
        """Start every child, in order; on a failure, stop those started and raise."""
        for record in self._children.in_start_order():
            try:
                self._start(record)
            except Exception as error:
                error.add_note(f"while supervisor {self._name!r} started child {record.id!r}")
                self._stop_children()
                raise
        # Armed only now: a failed start is reported by start() raising, not twice.
        if self._on_failure is not None:
            self._lifeline.watch(partial(_report_failure, self._name, self._on_failure))

    def on_stop(self) -> None:
        """Stop every child, in reverse start order."""
        self._stop_children()

    def on_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop every child, in reverse start order: they do not outlive their supervisor."""
        self._stop_children()

    def on_receive(self, message: Any) -> Any:
        """Handle exits of children and retries of failed restarts."""
        if isinstance(message, ChildExited):
            return self._handle_exit(message)
        if isinstance(message, RetryRestart):
            return self._retry_restart(message)
        return super().on_receive(message)

    # -- the proxy API ---------------------------------------------------------------

    def start_child(self, spec: ChildSpec) -> pykka.ActorRef[Any]:
        """Add a child after the others and start it; raise (adding nothing) if that fails."""
        record = self._children.add(spec)
        try:
            self._start(record)
        except Exception:
            self._children.remove(spec.id)
            raise
        assert record.ref is not None
        return record.ref

    def terminate_child(self, child_id: str) -> None:
        """Stop a child and keep its spec (a temporary child's spec is dropped, as in OTP)."""
        record = self._require(child_id)
        self._stop_child(record)
        if record.spec.restart == "temporary":
            self._children.remove(child_id)

    def restart_child(self, child_id: str) -> pykka.ActorRef[Any]:
        """Start again a child that is not running (terminated, or not restarted)."""
        record = self._require(child_id)
        if record.ref is not None:
            raise RuntimeError(f"child {child_id!r} of {self._name!r} is running")
        self._start(record)
        assert record.ref is not None
        return record.ref

    def delete_child(self, child_id: str) -> None:
        """Forget the spec of a child that is not running."""
        if self._require(child_id).ref is not None:
            raise RuntimeError(f"child {child_id!r} of {self._name!r} is running")
        self._children.remove(child_id)

    def which_children(self) -> list[tuple[str, pykka.ActorRef[Any] | None, ChildKind]]:
        """``(id, ref or None, "supervisor" | "worker")`` of every child, in start order."""
        return [(view.id, view.ref, view.kind) for view in self._children.views()]

    def count_children(self) -> dict[str, int]:
        """How many child ``specs``, ``active`` children, ``supervisors`` and ``workers``."""
        views = self._children.views()
        supervisors = sum(1 for view in views if view.kind == "supervisor")
        return {
            "specs": len(views),
            "active": sum(1 for view in views if _is_alive(view)),
            "supervisors": supervisors,
            "workers": len(views) - supervisors,
        }

    def child_ref(self, child_id: str) -> pykka.ActorRef[Any] | None:
        """The current incarnation of a child, or None while it is not running."""
        return self._require(child_id).ref

    def tree(self) -> dict[str, Any]:
        """A snapshot of this supervisor and everything under it.

        Safe from any thread and never waits for a child: nested supervisors are read
        through their lifelines. ``restarts`` counts the restarts this supervisor made.
        """
        return {
            "name": self._name,
            "strategy": self._strategy,
            "restarts": self._children.total_restarts(),
            "alive": self.actor_ref.is_alive(),
            "children": [_child_node(view) for view in self._children.views()],
        }

    # -- starting and stopping children ----------------------------------------------

    def _start(self, record: ChildRecord) -> None:
        ref = record.spec.start()
        lifeline = self._lifeline_of_child(record, ref)
        self._children.set_running(record, ref, lifeline, _kind_of(ref))
        lifeline.watch(partial(_tell_exit, self.actor_ref, record.id, ref.actor_urn))

    def _lifeline_of_child(self, record: ChildRecord, ref: pykka.ActorRef[Any]) -> Lifeline:
        lifeline = lifeline_of(ref)
        if lifeline is None:
            # Without a lifeline its exits would go unnoticed: refuse it.
            with contextlib.suppress(pykka.Timeout):
                ref.stop(timeout=record.spec.shutdown_timeout)
            raise TypeError(
                f"child {record.id!r} of {self._name!r}: start() must return the ref of a "
                f"SupervisedActor, got {ref}"
            )
        return lifeline

    def _stop_children(self) -> None:
        for record in reversed(self._children.in_start_order()):
            self._stop_child(record)

    def _stop_child(self, record: ChildRecord) -> None:
        # Detached first: the exit this stop causes is then a stale one, ignored.
        ref, lifeline = self._children.set_stopped(record)
        if ref is None or lifeline is None:
            return
        ref.stop(block=False)
        timeout = record.spec.shutdown_timeout
        if not lifeline.wait_exited(timeout):
            logger.warning(
                "supervisor %r: child %r did not stop within %s s; abandoned",
                self._name,
                record.id,
                timeout,
            )

    def _require(self, child_id: str) -> ChildRecord:
        record = self._children.get(child_id)
        if record is None:
            raise LookupError(f"supervisor {self._name!r} has no child {child_id!r}")
        return record

    # -- exits and restarts ----------------------------------------------------------

    def _handle_exit(self, message: ChildExited) -> None:
        record = self._children.current(message.child_id, message.actor_urn)
        if record is None:
            return  # an incarnation already replaced, stopped on purpose or abandoned
        self._children.set_stopped(record)
        if record.spec.restarts_after(normal=message.exit.normal):
            self._restart(record, message.exit.reason)
        else:
            self._let_go(record, message.exit)

    def _let_go(self, record: ChildRecord, exit_: Exit) -> None:
        logger.info(
            "supervisor %r: %s child %r exited (%s); not restarted",
            self._name,
            record.spec.restart,
            record.id,
            exit_.reason,
        )
        if record.spec.restart == "temporary":
            self._children.remove(record.id)

    def _retry_restart(self, message: RetryRestart) -> None:
        record = self._children.get(message.child_id)
        if record is not None and record.ref is None:
            self._restart(record, message.reason)

    def _restart(self, failed: ChildRecord, reason: str) -> None:
        if not self._intensity.allow(time.monotonic()):
            self._give_up(failed, reason)
        group = restart_group(self._strategy, self._children.ids(), failed.id)
        records = [r for r in self._children.in_start_order() if r.id in group]
        for record in reversed(records):
            self._stop_sibling(record, failed)
        for record in records:
            if record is not failed and record.spec.restart == "temporary":
                continue
            if not self._restart_one(record, failed, reason):
                return

    def _stop_sibling(self, record: ChildRecord, failed: ChildRecord) -> None:
        if record is failed:
            return
        self._stop_child(record)
        # A temporary child is never restarted, even when a sibling's exit stopped it.
        if record.spec.restart == "temporary":
            self._children.remove(record.id)

    def _restart_one(self, record: ChildRecord, failed: ChildRecord, reason: str) -> bool:
        why = reason if record is failed else f"restarted with {failed.id!r} ({reason})"
        try:
            self._start(record)
        except Exception as error:
            self._schedule_retry(record, error)
            return False
        event = RestartEvent(self._name, record.id, why, self._children.count_restart(record))
        # A child that crashed is a runtime fault (ERROR); a sibling restarted with it is not.
        logger.log(
            logging.ERROR if record is failed else logging.WARNING,
            "supervisor %r restarted child %r (restart %d): %s",
            self._name,
            record.id,
            event.count,
            why,
        )
        self._publish(event)
        return True

    def _schedule_retry(self, record: ChildRecord, error: Exception) -> None:
        failure = Exit.failure(error).reason
        logger.warning(
            "supervisor %r: restarting child %r failed (%s); trying again",
            self._name,
            record.id,
            failure,
        )
        # Through the inbox, as OTP does, so that a stop request can come in between.
        self.actor_ref.tell(RetryRestart(record.id, f"restart failed: {failure}"))

    def _give_up(self, failed: ChildRecord, reason: str) -> None:
        summary = (
            f"supervisor {self._name!r}: {self._intensity.describe()} "
            f"(last: child {failed.id!r}, {reason})"
        )
        logger.error("%s; stopping its children and failing", summary)
        # Raised from a tell: Pykka calls on_failure, which stops the children.
        raise RestartIntensityExceeded(summary)

    def _publish(self, event: RestartEvent) -> None:
        if self._on_restart is None:
            return
        try:
            self._on_restart(event)
        except Exception:
            logger.exception("supervisor %r: on_restart callback failed", self._name)


def _tell_exit(supervisor: pykka.ActorRef[Any], child_id: str, actor_urn: str, exit_: Exit) -> None:
    # A dead supervisor has already stopped (or abandoned) its children itself.
    with contextlib.suppress(pykka.ActorDeadError):
        supervisor.tell(ChildExited(child_id, actor_urn, exit_))


def _report_failure(name: str, callback: Callable[[str], None], exit_: Exit) -> None:
    if exit_.normal:
        return
    try:
        callback(exit_.reason)
    except Exception:
        logger.exception("supervisor %r: on_failure callback failed", name)


def _kind_of(ref: pykka.ActorRef[Any]) -> ChildKind:
    return "supervisor" if issubclass(ref.actor_class, Supervisor) else "worker"


def _is_alive(view: ChildView) -> bool:
    return view.ref is not None and view.ref.is_alive()


def _child_node(view: ChildView) -> dict[str, Any]:
    alive = _is_alive(view)
    if alive and view.lifeline is not None and view.lifeline.subtree is not None:
        return view.lifeline.subtree()
    # Every node has the same keys: an actor (or a supervisor not running) has no strategy.
    return {
        "name": view.id,
        "strategy": None,
        "restarts": view.restarts,
        "alive": alive,
        "children": [],
    }
