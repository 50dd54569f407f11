"""The ``@burro.worker`` marker and the resolver that turns a stored job back into a callable.

Only marked callables (or public callables of modules matched by
``allowed_worker_modules``) ever run: the store is data, never a way to run arbitrary code.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import sys
import threading
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar, overload

from burro.errors import InvalidTaskError

__all__ = [
    "WORKER_OPTION_NAMES",
    "WorkerOptions",
    "WorkerResolver",
    "WorkerTarget",
    "worker",
    "worker_path",
]

_MARK = "__burro_worker__"
#: Options ``@burro.worker`` may set as defaults for its jobs (every job option but meta).
WORKER_OPTION_NAMES = (
    "queue",
    "priority",
    "max_attempts",
    "retry_delay_seconds",
    "timeout_seconds",
    "unique_for_seconds",
)
_OPTION_NAMES = frozenset(WORKER_OPTION_NAMES)

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    """Defaults a worker gives its jobs; per-call options override them."""

    options: dict[str, Any] = field(default_factory=dict)


@overload
def worker(target: F, /) -> F: ...


@overload
def worker(target: None = None, /, **options: Any) -> Callable[[F], F]: ...


def worker(target: F | None = None, /, **options: Any) -> F | Callable[[F], F]:
    """Mark a function, or every public method of a class, as runnable by burro.

    Used bare (``@burro.worker``) or with job defaults
    (``@burro.worker(queue="emails", max_attempts=3)``). The target stays directly
    callable with its own signature.
    """
    unknown = set(options) - _OPTION_NAMES
    if unknown:
        raise InvalidTaskError(
            f"unknown worker option(s) {sorted(unknown)}; expected some of {sorted(_OPTION_NAMES)}"
        )

    def mark(obj: F) -> F:
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            raise InvalidTaskError(f"@burro.worker marks functions and classes, not {obj!r}")
        setattr(obj, _MARK, WorkerOptions(dict(options)))
        return obj

    return mark(target) if target is not None else mark


def worker_options(obj: object) -> dict[str, Any] | None:
    """The options of a marked worker, or None if ``obj`` is not marked."""
    marker = getattr(obj, _MARK, None)
    return marker.options if isinstance(marker, WorkerOptions) else None


def worker_path(worker_ref: object, function: str) -> tuple[str, str]:
    """Normalise what the caller named into ``("pkg.mod" | "pkg.mod:Class", function)``.

    ``worker_ref`` may be a module, a class, a marked function (then ``function`` is its
    name) or an import path string.
    """
    if isinstance(worker_ref, str):
        if not worker_ref or worker_ref.count(":") > 1:
            raise InvalidTaskError(
                f"worker path {worker_ref!r} is not 'pkg.mod' or 'pkg.mod:Class'"
            )
        return worker_ref, function
    if isinstance(worker_ref, types.ModuleType):
        return worker_ref.__name__, function
    if inspect.isclass(worker_ref):
        return f"{worker_ref.__module__}:{worker_ref.__qualname__}", function
    if inspect.isfunction(worker_ref):
        return worker_ref.__module__, worker_ref.__name__
    raise InvalidTaskError(
        f"worker must be a module, a class, a marked function or an import path, not {worker_ref!r}"
    )


@dataclass(frozen=True, slots=True)
class WorkerTarget:
    """A resolved, runnable worker: ``call(*args)`` runs one job."""

    call: Callable[..., Any]
    options: dict[str, Any]


class WorkerResolver:
    """Resolves ``(worker, function)`` to a runnable target, refusing anything unmarked."""

    def __init__(self, allowed_modules: Iterable[str] = ()) -> None:
        self._allowed = tuple(allowed_modules)
        self._cache: dict[tuple[str, str], WorkerTarget] = {}
        self._lock = threading.Lock()

    def resolve(self, worker: str, function: str, *, may_import: bool) -> WorkerTarget:
        """The target for a job, or :class:`InvalidTaskError` saying why it may not run.

        ``may_import`` lets the caller's own code import a module by name (enqueue time).
        At execution time modules are imported only if already loaded or allowed by
        ``allowed_worker_modules``, so stored data cannot make the runtime import code.
        """
        key = (worker, function)
        target = self._cache.get(key)
        if target is None:
            target = self._resolve_uncached(worker, function, may_import=may_import)
            with self._lock:
                self._cache[key] = target
        return target

    def _module_allowed(self, module_name: str) -> bool:
        return any(fnmatch.fnmatchcase(module_name, pattern) for pattern in self._allowed)

    def _lives_in_allowed(self, target: Callable[..., Any]) -> bool:
        # Where it is defined, not where it was imported to: an allowed module that
        # imports ``subprocess.run`` does not make ``run`` a worker.
        return self._module_allowed(getattr(target, "__module__", None) or "")

    def _resolve_uncached(self, worker: str, function: str, *, may_import: bool) -> WorkerTarget:
        module_name, _, class_name = worker.partition(":")
        module = self._load_module(module_name, may_import=may_import)
        if class_name:
            return self._resolve_method(module, class_name, function, worker)
        return self._resolve_function(module, function, worker)

    def _load_module(self, module_name: str, *, may_import: bool) -> types.ModuleType:
        module = sys.modules.get(module_name)
        if module is not None:
            return module
        if not (may_import or self._module_allowed(module_name)):
            raise InvalidTaskError(
                f"worker module {module_name!r} is not loaded in this process and not allowed by "
                "allowed_worker_modules; import the app's worker modules before starting burro"
            )
        try:
            return importlib.import_module(module_name)
        except ImportError as exc:
            raise InvalidTaskError(
                f"worker module {module_name!r} cannot be imported: {exc}"
            ) from exc

    def _resolve_function(
        self, module: types.ModuleType, function: str, worker: str
    ) -> WorkerTarget:
        target = getattr(module, function, None) if _is_public(function) else None
        if target is None or not callable(target):
            raise InvalidTaskError(f"{worker!r} has no public function {function!r}")
        options = worker_options(target)
        if options is None and not (inspect.isfunction(target) and self._lives_in_allowed(target)):
            raise InvalidTaskError(
                f"{worker}:{function} is not marked with @burro.worker and is not defined in a "
                "module allowed by allowed_worker_modules"
            )
        return WorkerTarget(target, dict(options or {}))

    def _resolve_method(
        self, module: types.ModuleType, class_name: str, function: str, worker: str
    ) -> WorkerTarget:
        cls = getattr(module, class_name, None)
        if not inspect.isclass(cls):
            raise InvalidTaskError(f"{worker!r} does not name a class")
        options = worker_options(cls)
        if options is None and not self._lives_in_allowed(cls):
            raise InvalidTaskError(
                f"class {worker!r} is not marked with @burro.worker and is not defined in a "
                "module allowed by allowed_worker_modules"
            )
        method = inspect.getattr_static(cls, function, None) if _is_public(function) else None
        if not inspect.isfunction(method):
            raise InvalidTaskError(f"{worker!r} has no public method {function!r}")
        # An allowed class admits the methods defined in allowed modules, not the ones it
        # inherits from elsewhere (``class Store(shelve.Shelf)`` does not make ``close`` a
        # worker). A marked class admits every public method, as its author marked it.
        if options is None and not self._lives_in_allowed(method):
            raise InvalidTaskError(
                f"{worker}.{function} is not marked with @burro.worker and is defined in "
                f"{method.__module__!r}, a module allowed_worker_modules does not allow"
            )
        return WorkerTarget(_method_caller(cls, function), dict(options or {}))


def _is_public(name: str) -> bool:
    return bool(name) and name.isidentifier() and not name.startswith("_")


def _method_caller(cls: type, function: str) -> Callable[..., Any]:
    """A callable that instantiates ``cls`` (no arguments) per job and calls the method."""

    def call(*args: Any) -> Any:
        return getattr(cls(), function)(*args)

    call.__qualname__ = f"{cls.__qualname__}.{function}"
    return call
