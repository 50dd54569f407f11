"""The base class of every supervised actor: its exits are observable."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

import pykka

from burro.supervision._lifeline import NORMAL_EXIT, Exit, Lifeline, LifelineRef, lifeline_of

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["InjectedFailure", "SupervisedActor", "inject_failure"]


@dataclass(frozen=True)
class InjectedFailure:
    """The message that makes a supervised actor raise ``error`` in its own thread."""

    error: BaseException


class SupervisedActor(pykka.ThreadingActor):
    """A Pykka actor whose every exit is reported, with its reason, to its supervisor.

    An exit is normal after ``stop()`` (from outside or from itself) and abnormal after
    an exception: in ``on_receive`` from a ``tell``, in ``on_start`` (where Pykka calls
    no ``on_failure``) or in ``on_stop``. The report is made by the actor's own thread
    as its very last act, so it never races a message still being handled.

    ``start()`` returns once ``on_start`` has finished, as OTP's ``start_link`` does,
    and raises what ``on_start`` raised (or TimeoutError after ``start_timeout``
    seconds). So ``on_start`` must not wait for an answer from the supervisor that
    is starting the actor.

    Threads are daemon threads: a child abandoned because it would not stop (stuck in
    user code) must not keep the interpreter alive. Orderly shutdown goes through the
    supervision tree, which stops every child in reverse start order.
    """

    use_daemon_thread = True
    start_timeout: ClassVar[float | None] = 60.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._lifeline = Lifeline()
        # Replaces the plain ref Pykka just made, before anything (the registry) saw it.
        self._actor_ref = LifelineRef(self, self._lifeline)

    @classmethod
    def start(cls, *args: Any, **kwargs: Any) -> pykka.ActorRef[Self]:
        """Start the actor and wait for its ``on_start`` to finish."""
        ref = super().start(*args, **kwargs)
        try:
            _lifeline_of(ref).await_start(str(ref), cls.start_timeout)
        except TimeoutError:
            # It stops once on_start returns, if ever; nobody waits for it any longer.
            ref.stop(block=False)
            raise
        return ref

    def _actor_loop(self) -> None:
        try:
            super()._actor_loop()
        finally:
            self._lifeline.close()

    def _actor_loop_setup(self) -> None:
        super()._actor_loop_setup()
        # Pykka marks the actor stopped when on_start raised.
        self._lifeline.mark_started(succeeded=not self.actor_stopped.is_set())

    def _handle_receive(self, message: Any) -> Any:
        if isinstance(message, InjectedFailure):
            raise message.error
        return super()._handle_receive(message)

    def _handle_failure(
        self,
        exception_type: type[BaseException] | None,
        exception_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        failure = exception_value if exception_value is not None else RuntimeError("unknown")
        self._lifeline.record(Exit.failure(failure))
        super()._handle_failure(exception_type, exception_value, traceback)

    def _stop(self) -> None:
        # Pykka stops an actor from inside its handler for a BaseException (e.g.
        # KeyboardInterrupt in on_receive): that exit is not a normal one.
        escaping = sys.exc_info()[1]
        if escaping is not None:
            self._lifeline.record(Exit.failure(escaping))
        super()._stop()
        self._lifeline.record(NORMAL_EXIT)


def _lifeline_of(ref: pykka.ActorRef[Any]) -> Lifeline:
    lifeline = lifeline_of(ref)
    assert lifeline is not None, f"{ref} was not created by SupervisedActor.__init__"
    return lifeline


def inject_failure(ref: pykka.ActorRef[Any], exc: BaseException | None = None) -> None:
    """Make a supervised actor raise ``exc`` in its own thread, from a tell, as a bug would.

    Args:
        ref: The actor; it raises once it reaches this message in its inbox.
        exc: What it raises; a RuntimeError by default.

    Raises:
        TypeError: If ``ref`` is not a :class:`SupervisedActor`.
        pykka.ActorDeadError: If the actor is no longer running.
    """
    if not issubclass(ref.actor_class, SupervisedActor):
        raise TypeError(f"inject_failure needs a SupervisedActor, got {ref}")
    error = exc if exc is not None else RuntimeError(f"failure injected into {ref}")
    ref.tell(InjectedFailure(error))
