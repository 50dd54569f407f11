"""Running one job's code and judging its outcome (no storage, no actors)."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import threading
import traceback
from collections.abc import Callable, Coroutine
from typing import Any, Literal, NamedTuple

import msgpack

from burro.actors._context import AbandonedThreads
from burro.errors import TaskCancelled
from burro.facade._worker import WorkerTarget
from burro.facade.context import TaskContext, bind_task
from burro.facade.results import Failure

__all__ = ["Outcome", "execute"]

_TRACEBACK_LINES = 30
_ERROR_CHARS = 8_000
#: The ints msgpack encodes.
_INT_MIN, _UINT_MAX = -(2**63), 2**64 - 1
#: Result types that are never a generator or an awaitable.
_PLAIN_RESULTS = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict})


#: Builds an Outcome from all its fields, in order (defaults are not filled in).
_outcome = tuple.__new__


class Outcome(NamedTuple):
    """How one attempt ended, before anything is stored (a named tuple: one per attempt)."""

    kind: Literal["completed", "failed", "cancelled"]
    result: Any = None
    error: str | None = None
    error_type: str | None = None


def execute(
    target: WorkerTarget,
    args: tuple[Any, ...],
    context: TaskContext,
    timeout: float | None,
    abandoned: AbandonedThreads,
) -> Outcome:
    """Run the job in this thread, or in its own thread when it has a timeout."""
    if timeout is None:
        bind_task(context)
        try:
            return call_worker(target, args)
        finally:
            bind_task(None)
    return _execute_with_timeout(target, args, context, timeout, abandoned)


def call_worker(
    target: WorkerTarget, args: tuple[Any, ...], timeout: float | None = None
) -> Outcome:
    """Call the worker and classify what it returned or raised.

    A coroutine it returns (an ``async def`` worker) is run to completion in this thread,
    cancelled after ``timeout`` seconds.
    """
    try:
        value = target.call(*args)
        if type(value) not in _PLAIN_RESULTS and inspect.iscoroutine(value):
            value = asyncio.run(_awaited(value, timeout))
    except TaskCancelled:
        return Outcome("cancelled")
    except _AttemptTimedOut:
        return timed_out(timeout or 0.0)
    except BaseException as exc:
        # Even KeyboardInterrupt or GeneratorExit: escaping a Pykka actor, they would stop
        # every actor of the process. Signals interrupt the main thread, never a job's.
        return failed_outcome(exc)
    kind = type(value)
    if kind in _PLAIN_RESULTS and kind is not tuple:  # most results: nothing more to check
        # Built by tuple.__new__, in field order: the named tuple's __new__ is a Python call.
        result = None if value is None else _storable(value)
        return _outcome(Outcome, ("completed", result, None, None))
    return _returned_outcome(value)


def _returned_outcome(value: Any) -> Outcome:
    """The outcome of a worker that returned ``value``."""
    if isinstance(value, Failure):
        return Outcome(
            "failed", error=f"Failure: {_render(repr, value.reason)}", error_type="Failure"
        )
    if _is_error_pair(value):
        # Its type is the tuple's tag: shown as "error: 'reason'", as it is stored.
        return Outcome("failed", error=f"error: {_render(repr, value[1])}", error_type="error")
    if _never_ran(value):
        return _unrun_outcome(value)
    return Outcome("completed", result=_storable(value))


def timed_out(timeout: float) -> Outcome:
    """The outcome of an attempt that ran over ``timeout_seconds``."""
    message = f"TimeoutError: attempt exceeded timeout_seconds={timeout:g}"
    return Outcome("failed", error=message, error_type="TimeoutError")


class _AttemptTimedOut(Exception):
    """The attempt's own deadline cancelled its coroutine (not a TimeoutError of the job)."""


async def _awaited(coroutine: Coroutine[Any, Any, Any], timeout: float | None) -> Any:
    """Await ``coroutine``; past ``timeout`` it is cancelled, so its thread ends too."""
    deadline = asyncio.timeout(timeout)
    try:
        async with deadline:
            return await coroutine
    except TimeoutError:
        if deadline.expired():
            raise _AttemptTimedOut from None
        raise


def _never_ran(value: Any) -> bool:
    """Whether ``value`` is work deferred to its caller: a generator or an awaitable."""
    if type(value) in _PLAIN_RESULTS:  # the usual results, without the ABC checks
        return False
    return inspect.isgenerator(value) or inspect.isasyncgen(value) or inspect.isawaitable(value)


def _unrun_outcome(value: Any) -> Outcome:
    """A job whose worker handed back a generator or awaitable did not do its work."""
    # Closing one that never started runs none of its code, and silences Python's
    # "coroutine ... was never awaited" warning.
    if inspect.iscoroutine(value) and inspect.getcoroutinestate(value) == inspect.CORO_CREATED:
        value.close()
    kind = type(value).__name__
    error = (
        f"InvalidTaskError: the worker returned a {kind} object instead of running: burro "
        "does not iterate generators or await anything but the coroutine of an async worker"
    )
    return Outcome("failed", error=error, error_type="InvalidTaskError")


def failed_outcome(exc: BaseException) -> Outcome:
    """The outcome of an exception: type, message and a trimmed traceback."""
    lines = traceback.format_exception(exc)
    if len(lines) > _TRACEBACK_LINES:
        lines = [lines[0], "  ...\n", *lines[-_TRACEBACK_LINES:]]
    text = "".join(lines)
    if len(text) > _ERROR_CHARS:
        text = "…" + text[-_ERROR_CHARS:]
    summary = f"{type(exc).__name__}: {_render(str, exc)}"
    return Outcome("failed", error=f"{summary}\n{text}", error_type=type(exc).__name__)


def _is_error_pair(value: Any) -> bool:
    """Whether ``value`` is an ``("error", reason)`` tuple."""
    return (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], str)
        and value[0] == "error"
    )


def _render(render: Callable[[Any], str], value: Any) -> str:
    """``render(value)``, or a placeholder: the job's own ``__str__``/``__repr__`` may raise."""
    try:
        return render(value)
    except Exception as error:
        return f"<{render.__name__}() failed: {type(error).__name__}>"


def _storable(value: Any) -> Any:
    """The return value if msgpack can store it, else None (the job still completed)."""
    if value is None or isinstance(value, (float, bool)):
        return value
    if isinstance(value, int) and _INT_MIN <= value <= _UINT_MAX:
        return value
    # Anything else, a str too: msgpack refuses huge ints and unencodable (surrogate) text.
    try:
        msgpack.packb(value, datetime=True)
    except (TypeError, ValueError, OverflowError):
        return None
    return value


def _execute_with_timeout(
    target: WorkerTarget,
    args: tuple[Any, ...],
    context: TaskContext,
    timeout: float,
    abandoned: AbandonedThreads,
) -> Outcome:
    box: list[Outcome] = []
    done = threading.Event()

    def body() -> None:
        bind_task(context)
        try:
            box.append(call_worker(target, args, timeout))
        finally:
            bind_task(None)
            done.set()

    # The job's thread runs in a copy of this context, so the attempt's span stays current.
    job_context = contextvars.copy_context()
    thread = threading.Thread(
        target=job_context.run, args=(body,), name=f"burro-job-{context.id}", daemon=True
    )
    thread.start()
    if done.wait(timeout):
        return box[0]
    # Python cannot kill a thread: the slot is freed now and the thread is accounted for.
    abandoned.add(thread)
    return timed_out(timeout)
