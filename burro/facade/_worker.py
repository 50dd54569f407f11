"""The ``@burro.worker`` marker and the resolver that turns a stored job back into a callable.

Only marked callables (or public callables of modules matched by
``allowed_worker_modules``) ever run: the store is data, never a way to run arbitrary code.
"""

from __future__ import annotations

import fnmatch
import importlib
import inspect
import logging
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

logger = logging.getLogger("burro.workers")

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
        _refuse_generator(obj, f"{obj.__module__}.{obj.__qualname__}")
        setattr(obj, _MARK, WorkerOptions(dict(options)))
        return obj

    return mark(target) if target is not None else mark


def worker_options(obj: object) -> dict[str, Any] | None:
    """The options of a marked worker, or None if ``obj`` is not marked.

    A class counts only if it was marked itself: a subclass inherits its base's mark as
    an attribute, but nobody marked it.
    """
    marker = vars(obj).get(_MARK) if inspect.isclass(obj) else getattr(obj, _MARK, None)
    return marker.options if isinstance(marker, WorkerOptions) else None


def _refuse_generator(obj: object, name: str) -> None:
    """Generator functions return before their body runs: a job would "complete" unrun."""
    if inspect.isgeneratorfunction(obj) or inspect.isasyncgenfunction(obj):
        raise InvalidTaskError(
            f"{name} is a generator function: a job runs its worker to completion and keeps "
            "one return value (return a list instead of yielding)"
        )


def worker_path(worker_ref: object, function: str) -> tuple[str, str]:
    """Normalise what the caller named into ``("pkg.mod" | "pkg.mod:Class", function)``.

    ``worker_ref`` may be a module, a class, a marked function or method (then
    ``function`` is its name, or the default ``"perform"``) or an import path string.
    An object must be what its path names, or another object would run in its place.
    """
    if isinstance(worker_ref, str):
        _split_worker_path(worker_ref)
        return worker_ref, function
    if isinstance(worker_ref, types.ModuleType):
        if sys.modules.get(worker_ref.__name__) is not worker_ref:
            raise InvalidTaskError(f"module {worker_ref.__name__!r} is not in sys.modules")
        return _importable_name(worker_ref, function), function
    if inspect.isclass(worker_ref):
        return _class_path(worker_ref), function
    if inspect.ismethod(worker_ref):
        return _classmethod_path(worker_ref, function)
    if inspect.isfunction(worker_ref):
        return _function_path(worker_ref, function)
    raise InvalidTaskError(
        f"worker must be a module, a class, a marked function or an import path, not {worker_ref!r}"
    )


def _split_worker_path(worker: str) -> tuple[str, str]:
    """``"pkg.mod:Class"`` as ``("pkg.mod", "Class")`` (``""`` without a class), or refused."""
    module_name, colon, class_name = worker.partition(":")
    if not _is_dotted_name(module_name) or (colon and not class_name.isidentifier()):
        raise InvalidTaskError(
            f"worker path {worker!r} is not 'pkg.mod' or 'pkg.mod:Class' (an absolute module "
            "path, and a module-level class after the colon)"
        )
    return module_name, class_name


def _is_dotted_name(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _home(obj: Any) -> types.ModuleType:
    """The loaded module ``obj`` says it was defined in."""
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    if module is None:
        raise InvalidTaskError(f"{obj!r} was not defined in a module loaded in this process")
    return module


#: Workers of a main script already warned about (see :func:`_importable_name`).
_warned_main: set[str] = set()


def _importable_name(module: types.ModuleType, what: str) -> str:
    """The name another process imports ``module`` by, to run a job naming ``what`` in it.

    A main module started with ``python -m pkg.app`` is stored as ``pkg.app``, which a
    worker process (``burro run --app pkg.app``) can import. A script started as
    ``python app.py`` has no such name: its jobs keep ``__main__``, which only a process
    started from that same script can run, and that is said once per worker.
    """
    if module.__name__ != "__main__":
        return module.__name__
    name = getattr(getattr(module, "__spec__", None), "name", None)
    if isinstance(name, str) and name != "__main__":
        return name
    if what not in _warned_main:
        _warned_main.add(what)
        logger.warning(
            "worker %s is defined in the script run as __main__: its jobs run only in a "
            "process started from that script, and any other process sharing the store "
            "discards them; start the app with 'python -m' or define workers in a module",
            what,
        )
    return "__main__"


def _main_module_named(name: str) -> types.ModuleType | None:
    """The main module, if it was started with ``python -m name`` (so not loaded as ``name``)."""
    main = sys.modules.get("__main__")
    if getattr(getattr(main, "__spec__", None), "name", None) == name:
        return main
    return None


def _class_path(cls: type) -> str:
    module, name = _home(cls), cls.__qualname__
    if not name.isidentifier() or getattr(module, name, None) is not cls:
        raise InvalidTaskError(
            f"class {module.__name__}.{name} is not its module's attribute {name!r} (a local, "
            "nested or shadowed class): only a module-level class can be a worker"
        )
    return f"{_importable_name(module, name)}:{name}"


def _function_path(fn: types.FunctionType, function: str) -> tuple[str, str]:
    """A module-level function, or a method of a module-level class, by its qualname."""
    owner, _, name = fn.__qualname__.rpartition(".")
    module = _home(fn)
    where = f"{module.__name__}.{fn.__qualname__}"
    _check_function_name(where, name, function)
    if "<" in fn.__qualname__:
        raise InvalidTaskError(
            f"{where} is a lambda or a local function: a stored job can only name a "
            "module-level function or a method of a module-level class"
        )
    if not owner:
        if getattr(module, name, None) is not fn:
            raise InvalidTaskError(
                f"{where} is not its module's attribute {name!r} (it was shadowed or deleted): "
                "the job would run whatever that name holds"
            )
        return _importable_name(module, name), name
    cls = getattr(module, owner, None) if owner.isidentifier() else None
    if not inspect.isclass(cls) or _class_function(cls, name) is not fn:
        raise InvalidTaskError(
            f"{where} is not a method of a module-level class {owner!r} (nested or replaced); "
            "pass the class and the method's name instead"
        )
    return f"{_importable_name(module, owner)}:{owner}", name


def _classmethod_path(method: types.MethodType, function: str) -> tuple[str, str]:
    """``Class.a_classmethod``: the class it is bound to, and the method's name."""
    owner, name = method.__self__, method.__name__
    if not inspect.isclass(owner):
        raise InvalidTaskError(
            f"{method!r} is bound to an instance, which a job cannot store: pass the class "
            "and the method's name (burro makes a new instance per job)"
        )
    path = _class_path(owner)
    _check_function_name(f"{path}.{name}", name, function)
    found = inspect.getattr_static(owner, name, None)
    if not (isinstance(found, classmethod) and found.__func__ is method.__func__):
        raise InvalidTaskError(f"{method!r} is not a classmethod of {path}")
    return path, name


def _check_function_name(where: str, name: str, function: str) -> None:
    """Naming a function object, ``function`` may only be its own name (or the default)."""
    if function not in ("perform", name):
        raise InvalidTaskError(
            f"function {function!r} does not name {where}: when the worker is a function "
            f"object, leave function out or pass {name!r}"
        )


def _class_function(cls: type, name: str) -> object:
    """The function ``cls`` holds as ``name`` (a staticmethod unwrapped), running no code."""
    found = inspect.getattr_static(cls, name, None)
    return found.__func__ if isinstance(found, staticmethod) else found


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
        module_name, class_name = _split_worker_path(worker)
        module = self._load_module(module_name, may_import=may_import)
        try:
            if class_name:
                return self._resolve_method(module, class_name, function, worker)
            return self._resolve_function(module, function, worker)
        except InvalidTaskError:
            raise
        except Exception as exc:
            # A module's ``__getattr__`` or a metaclass may raise anything: the job is
            # refused with the cause, the actor resolving it lives on.
            raise InvalidTaskError(
                f"{worker}:{function} cannot be resolved: {type(exc).__name__}: {exc}"
            ) from exc

    def _load_module(self, module_name: str, *, may_import: bool) -> types.ModuleType:
        module = sys.modules.get(module_name) or _main_module_named(module_name)
        if module is not None:
            return module
        if not (may_import or self._module_allowed(module_name)):
            raise InvalidTaskError(
                f"worker module {module_name!r} is not loaded in this process and not allowed by "
                "allowed_worker_modules; import the app's worker modules before starting burro"
            )
        try:
            return importlib.import_module(module_name)
        except BaseException as exc:
            # Whatever the module raises (SyntaxError, RuntimeError, SystemExit…) names a
            # worker that cannot run; only a real Ctrl-C of the main thread goes through.
            if isinstance(exc, KeyboardInterrupt) and _in_main_thread():
                raise
            raise InvalidTaskError(
                f"worker module {module_name!r} cannot be imported: {type(exc).__name__}: {exc}"
            ) from exc

    def _resolve_function(
        self, module: types.ModuleType, function: str, worker: str
    ) -> WorkerTarget:
        target = getattr(module, function, None) if _is_public(function) else None
        if target is None or not callable(target) or inspect.isclass(target):
            raise InvalidTaskError(f"{worker!r} has no public function {function!r}")
        options = worker_options(target)
        if options is None and not (inspect.isfunction(target) and self._lives_in_allowed(target)):
            raise InvalidTaskError(
                f"{worker}:{function} is not marked with @burro.worker and is not defined in a "
                "module allowed by allowed_worker_modules"
            )
        _refuse_generator(target, f"{worker}:{function}")
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
                f"class {worker!r} is not marked with @burro.worker itself and is not defined "
                "in a module allowed by allowed_worker_modules"
            )
        found = inspect.getattr_static(cls, function, None) if _is_public(function) else None
        method = found.__func__ if isinstance(found, (staticmethod, classmethod)) else found
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
        _refuse_generator(method, f"{worker}.{function}")
        # A staticmethod runs without an instance, a classmethod with the class.
        per_instance = found is method
        call = _method_caller(cls, function) if per_instance else _class_caller(cls, function)
        return WorkerTarget(call, dict(options or {}))


def _is_public(name: str) -> bool:
    return bool(name) and name.isidentifier() and not name.startswith("_")


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _method_caller(cls: type, function: str) -> Callable[..., Any]:
    """A callable that instantiates ``cls`` (no arguments) per job and calls the method."""

    def call(*args: Any) -> Any:
        return getattr(cls(), function)(*args)

    call.__qualname__ = f"{cls.__qualname__}.{function}"
    return call


def _class_caller(cls: type, function: str) -> Callable[..., Any]:
    """A callable that calls a staticmethod or classmethod of ``cls``, with no instance."""

    def call(*args: Any) -> Any:
        return getattr(cls, function)(*args)

    call.__qualname__ = f"{cls.__qualname__}.{function}"
    return call
