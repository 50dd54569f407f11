"""Workers for the resolution tests: look-alike names, methods, async and lazy workers.

They report through ``workers.recorder`` (looked up at each call: tests reset it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import burro
from tests.integration.runtime import workers


@burro.worker
def process(value: Any) -> None:
    """The module-level ``process``: must never run in place of a local one."""
    workers.recorder.record("module process", value)


def make_local_worker() -> Callable[[Any], None]:
    """A marked function that lives only in this factory's frame."""

    @burro.worker
    def process(value: Any) -> None:
        workers.recorder.record("local process", value)

    return process


@burro.worker
def run(value: Any) -> None:
    """A module-level ``run``, the name of ``Holder.run`` too."""
    workers.recorder.record("module run", value)


@burro.worker
class Holder:
    """A marked class whose methods share names with module-level workers."""

    def __init__(self) -> None:
        workers.recorder.record("Holder()", None)

    def run(self, value: Any) -> None:
        workers.recorder.record("Holder.run", value)

    @staticmethod
    def tally(value: Any) -> str:
        workers.recorder.record("Holder.tally", value)
        return f"static {value}"

    @classmethod
    def build(cls, value: Any) -> str:
        workers.recorder.record("Holder.build", value)
        return f"{cls.__name__} {value}"


class Unmarked(Holder):
    """Never decorated: it inherits ``Holder``'s mark as an attribute, not as a mark."""

    def extra(self, value: Any) -> None:
        workers.recorder.record("Unmarked.extra", value)


@burro.worker
def original(value: Any) -> None:
    workers.recorder.record("original", value)


alias = original
del original  # only reachable as ``alias``: its path names nothing


@burro.worker
async def async_add(a: int, b: int) -> dict[str, Any]:
    """An ``async def`` worker: returns what it computed and what it knows of its job."""
    await asyncio.sleep(0)
    task = burro.current_task()
    workers.recorder.record("async_add", (a, b))
    return {"sum": a + b, "task": task.id if task else None}


@burro.worker
async def async_stalls(value: Any) -> None:
    """Awaits forever: only its timeout (a cancellation) ends it."""
    workers.recorder.record("async_stalls", value)
    try:
        await asyncio.Event().wait()
    except asyncio.CancelledError:
        workers.recorder.record("async_stalls cancelled", value)
        raise


@burro.worker
async def async_cooperative(value: Any) -> str:
    """Loops until its job is cancelled (or the gate opens)."""
    task = burro.current_task()
    assert task is not None
    workers.recorder.record("async_cooperative", value)
    workers.recorder.started.set()
    while not workers.recorder.gate.is_set():
        task.check_cancelled()
        await asyncio.sleep(0.01)
    return "finished"


@burro.worker
def returns_generator(value: Any) -> Iterator[Any]:
    """A plain function handing back a generator: nothing of it would ever run."""
    workers.recorder.record("returns_generator", value)
    return _yields(value)


def _yields(value: Any) -> Iterator[Any]:
    workers.recorder.record("generator body", value)
    yield value


@burro.worker
def returns_coroutine(value: Any) -> Coroutine[Any, Any, str]:
    """A plain function handing back a coroutine: burro runs it."""
    return _doubled(value)


async def _doubled(value: Any) -> str:
    workers.recorder.record("coroutine body", value)
    return f"{value}{value}"
