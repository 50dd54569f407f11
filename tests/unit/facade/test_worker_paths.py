"""``worker_path`` and ``WorkerResolver``: what a worker object or path may stand for."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import burro
from burro.facade._worker import WorkerResolver, worker_options, worker_path

HERE = __name__


@burro.worker(max_attempts=2)
class Marked:
    """A marked class with every kind of method."""

    def method(self) -> str:
        return "method"

    @staticmethod
    def static() -> str:
        return "static"

    @classmethod
    def klass(cls) -> str:
        return cls.__name__

    def generates(self) -> Iterator[int]:
        yield 1

    class Nested:
        def method(self) -> None: ...


class UnmarkedChild(Marked):
    """Inherits the mark as an attribute; never marked itself."""


@burro.worker
class MarkedChild(Marked):
    """Marked itself."""


@burro.worker
def module_level() -> None: ...


def make_local() -> Any:
    @burro.worker
    def module_level() -> None: ...

    return module_level


class Replaced:
    """What ``Shadowed`` names once the marked class of that name is replaced."""


@burro.worker
class Shadowed: ...


ShadowedOriginal = Shadowed
Shadowed = Replaced  # type: ignore[misc]


@pytest.mark.parametrize(
    "define",
    [
        lambda: burro.worker(_generator),
        lambda: burro.worker(_async_generator),
        lambda: burro.worker(queue="default")(_generator),
    ],
    ids=["generator", "async generator", "with options"],
)
def test_a_generator_function_cannot_be_marked(define: Any) -> None:
    with pytest.raises(burro.InvalidTaskError, match="is a generator function"):
        define()
    assert worker_options(_generator) is None


def _generator() -> Iterator[int]:
    yield 1


async def _async_generator() -> AsyncIterator[int]:
    yield 1


def test_an_async_function_can_be_marked() -> None:
    async def job() -> None: ...

    assert worker_options(burro.worker(job)) == {}


def test_a_class_counts_as_marked_only_if_marked_itself() -> None:
    assert worker_options(Marked) == {"max_attempts": 2}
    assert worker_options(UnmarkedChild) is None
    assert worker_options(MarkedChild) == {}


@pytest.mark.parametrize(
    ("ref", "function", "expected"),
    [
        (module_level, "perform", (HERE, "module_level")),
        (module_level, "module_level", (HERE, "module_level")),
        (Marked.method, "perform", (f"{HERE}:Marked", "method")),
        (Marked.static, "static", (f"{HERE}:Marked", "static")),
        (Marked.klass, "perform", (f"{HERE}:Marked", "klass")),
        (MarkedChild.klass, "perform", (f"{HERE}:MarkedChild", "klass")),
        (UnmarkedChild.method, "perform", (f"{HERE}:Marked", "method")),  # the base's own
        (Marked, "method", (f"{HERE}:Marked", "method")),
        (sys.modules[HERE], "module_level", (HERE, "module_level")),
        (f"{HERE}:Marked", "method", (f"{HERE}:Marked", "method")),
    ],
)
def test_worker_path_names_the_object_itself(
    ref: object, function: str, expected: tuple[str, str]
) -> None:
    assert worker_path(ref, function) == expected


@pytest.mark.parametrize(
    ("ref", "function", "message"),
    [
        (make_local(), "perform", "local function"),
        (Marked.Nested.method, "perform", "not a method of a module-level class"),
        (Marked.Nested, "method", "nested or shadowed class"),
        (ShadowedOriginal, "perform", "nested or shadowed class"),
        (Marked().method, "perform", "bound to an instance"),
        (module_level, "other", "'other' does not name"),
        (Marked.method, "static", "'static' does not name"),
        (Marked.klass, "method", "'method' does not name"),
        (":Marked", "method", "is not 'pkg.mod'"),
        (f"{HERE}:", "method", "is not 'pkg.mod'"),
        (f".{HERE}", "method", "is not 'pkg.mod'"),
        (f"{HERE}:Marked.Nested", "method", "is not 'pkg.mod'"),
    ],
)
def test_worker_path_refuses_what_its_path_would_not_name(
    ref: object, function: str, message: str
) -> None:
    with pytest.raises(burro.InvalidTaskError, match=message):
        worker_path(ref, function)


def test_static_and_class_methods_resolve_to_calls_without_an_instance() -> None:
    resolver = WorkerResolver()
    assert resolver.resolve(f"{HERE}:Marked", "static", may_import=False).call() == "static"
    assert resolver.resolve(f"{HERE}:MarkedChild", "klass", may_import=False).call() == (
        "MarkedChild"
    )
    target = resolver.resolve(f"{HERE}:Marked", "method", may_import=False)
    assert (target.call(), target.options) == ("method", {"max_attempts": 2})


@pytest.mark.parametrize(
    ("worker", "function", "message"),
    [
        (f"{HERE}:UnmarkedChild", "method", "not marked with @burro.worker itself"),
        (f"{HERE}:Marked", "generates", "is a generator function"),
        (HERE, "Marked", "has no public function"),  # a class is not a function
    ],
)
def test_the_resolver_refuses_what_may_not_run(worker: str, function: str, message: str) -> None:
    with pytest.raises(burro.InvalidTaskError, match=message):
        WorkerResolver().resolve(worker, function, may_import=False)


BROKEN = {
    "paths_raises": ('raise RuntimeError("no config")\n', "RuntimeError: no config"),
    "paths_exits": ("raise SystemExit(3)\n", "SystemExit: 3"),
    "paths_syntax": ("def f(:\n", "SyntaxError: "),
}


@pytest.mark.parametrize("module", sorted(BROKEN))
@pytest.mark.parametrize("may_import", [True, False], ids=["enqueue", "execution"])
def test_a_module_that_fails_to_import_is_an_invalid_task_naming_it_and_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, module: str, may_import: bool
) -> None:
    source, cause = BROKEN[module]
    (tmp_path / f"{module}.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    resolver = WorkerResolver(() if may_import else ["paths_*"])
    with pytest.raises(burro.InvalidTaskError, match=f"'{module}' cannot be imported") as info:
        resolver.resolve(module, "f", may_import=may_import)
    assert cause in str(info.value)
    assert module not in sys.modules


def test_a_module_attribute_that_raises_is_an_invalid_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = "def __getattr__(name):\n    raise RuntimeError('lazy import failed')\n"
    (tmp_path / "paths_lazy.py").write_text(source)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with pytest.raises(burro.InvalidTaskError, match="RuntimeError: lazy import failed"):
            WorkerResolver().resolve("paths_lazy", "job", may_import=True)
    finally:
        sys.modules.pop("paths_lazy", None)
