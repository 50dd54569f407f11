"""Turning a caller's request into a valid :class:`NewJob`, or a clear InvalidTaskError."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

import msgpack
from opentelemetry import propagate

from burro.clock import MAX_SECONDS
from burro.config import Config
from burro.config._model import MAX_ATTEMPTS
from burro.cron import next_fire_at, parse_schedule
from burro.errors import InvalidTaskError
from burro.facade._worker import WORKER_OPTION_NAMES, WorkerResolver, worker_path
from burro.storage._codec import pack, pack_value
from burro.storage.base import NewJob, RecurringRecord

__all__ = [
    "JobRequest",
    "JobTemplates",
    "build_job",
    "check_aware",
    "check_text",
    "recurring_record",
    "retention_days",
    "scheduled_time",
    "task_request",
    "unknown_queue",
]

#: Option names accepted by enqueue_task / schedule_task / enqueue_many.
OPTION_NAMES = (*WORKER_OPTION_NAMES, "meta")
MAX_PRIORITY = 65_535


@dataclass(frozen=True, slots=True)
class JobRequest:
    """What a caller asked for, before validation."""

    worker: object
    function: str
    args: Any
    options: Mapping[str, Any]
    scheduled_at: datetime | None = None


def reject_unknown_options(options: Mapping[str, Any]) -> None:
    """Unknown option keywords are errors, not silently ignored."""
    unknown = sorted(set(options) - set(OPTION_NAMES))
    if unknown:
        raise InvalidTaskError(
            f"unknown option(s) {unknown}; expected some of {list(OPTION_NAMES)}"
        )


def build_job(request: JobRequest, config: Config, resolver: WorkerResolver) -> NewJob:
    """Validate every part of ``request`` and build the job to store."""
    reject_unknown_options(request.options)
    if not isinstance(request.function, str):
        raise InvalidTaskError(f"function must be a str, not {type(request.function).__name__}")
    worker, function = worker_path(request.worker, request.function)
    target = resolver.resolve(worker, function, may_import=True)
    opts = {**target.options, **{k: v for k, v in request.options.items() if v is not None}}
    queue = _queue(opts.get("queue", config.default_queue_name), config)
    args, packed_args = _args(request.args)
    unique_for = _optional_positive("unique_for_seconds", opts.get("unique_for_seconds"))
    return NewJob(
        queue=queue,
        worker=worker,
        function=function,
        args=args,
        priority=_priority(opts.get("priority", 0)),
        max_attempts=_max_attempts(opts.get("max_attempts", config.default_max_attempts)),
        retry_delay_seconds=_non_negative(
            "retry_delay_seconds",
            opts.get("retry_delay_seconds", config.default_retry_delay_seconds),
        ),
        timeout_seconds=_optional_positive("timeout_seconds", opts.get("timeout_seconds")),
        unique_key=_unique_key(queue, worker, function, args) if unique_for else None,
        unique_for_seconds=unique_for,
        meta=_meta(opts.get("meta")),
        scheduled_at=request.scheduled_at,
        packed_args=packed_args,
    )


#: The entries of an ``enqueue_many`` task that are each task's own, checked every time.
_OWN = ("args", "meta")


#: The meta of every job built from a template that has none: one read-only mapping, so
#: that adding the trace context to a batch of them (``JobTracer.carry``) makes one new
#: mapping, and no job can change another's.
_NO_META: Mapping[str, Any] = MappingProxyType({})
#: A NewJob's ``__new__`` without its ``__init__`` (see :func:`_new_job`).
_blank = object.__new__
#: Stands for an entry a task does not have.
_ABSENT: Any = object()


class JobTemplates:
    """Builds jobs, validating each kind of job once.

    Tasks that differ only in their args and meta share a template: the worker, function
    and other options of the first are checked and reused. Tasks with an unhashable
    option are validated in full. ``limit`` bounds the kinds kept (all are forgotten when
    it is reached): a manager keeps one set of templates for its ``enqueue_task`` calls,
    ``enqueue_many`` one per call.
    """

    def __init__(
        self, config: Config, resolver: WorkerResolver, *, limit: int | None = None
    ) -> None:
        self._config = config
        self._resolver = resolver
        self._limit = limit
        self._templates: dict[Hashable, NewJob] = {}
        #: The template the last :meth:`build` built its job from (``None``: in full),
        #: for :meth:`build_all` (whose templates are its call's own, on one thread).
        self._used: NewJob | None = None

    def __len__(self) -> int:
        return len(self._templates)

    def build(self, task: Mapping[str, Any], index: int) -> NewJob:
        """The job for task number ``index``: as :func:`build_job` would build it."""
        # A dict first: the ABC's isinstance costs more than the rest of this check.
        if not (type(task) is dict or isinstance(task, Mapping)) or "worker" not in task:
            raise InvalidTaskError(f"task #{index} must be a mapping with at least a 'worker' key")
        self._used = None
        # The kind: every entry but the args and the meta, with its value's type (``True
        # == 1``, yet ``priority=True`` is refused where ``priority=1`` is not). Built here,
        # in a loop, not by a function or a generator: one call fewer per enqueue_task.
        entries = []
        for name, value in task.items():
            if name not in _OWN:
                entries.append((name, type(value), value))
        kind = tuple(entries)
        try:
            template = self._templates.get(kind)
        except TypeError:
            return build_job(task_request(task), self._config, self._resolver)
        if template is None:
            job = build_job(task_request(task), self._config, self._resolver)
            if self._limit is not None and len(self._templates) >= self._limit:
                self._templates.clear()
            # The template keeps none of this task's own values (they may be large).
            template = replace(job, args=(), packed_args=None, meta=_NO_META)
            self._templates[kind] = self._used = template
            return job
        raw_meta = task.get("meta")
        meta = _NO_META if raw_meta is None else _meta(raw_meta)
        job = _from_template(template, task.get("args", ()), meta)
        self._used = template
        return job

    def build_all(self, tasks: Iterable[Mapping[str, Any]]) -> list[NewJob]:
        """The jobs for ``tasks``, in order, each as :meth:`build` would build it.

        This runs once per job of every ``enqueue_many``, so the common task is built in
        the loop, without the calls :meth:`build` makes: a dict whose entries other than
        the args and the meta are the very objects of the task before (then of its kind),
        whose kind has no unique key, its args a list or tuple. Any other goes to
        :meth:`build`.
        """
        jobs: list[NewJob] = []
        template: NewJob | None = None  # the kind of the task before, if the loop can reuse it
        entries: tuple[tuple[str, object], ...] = ()  # that task's entries but args and meta
        for index, task in enumerate(tasks):
            same = type(task) is dict and template is not None
            if same:
                args, meta = task.get("args", _ABSENT), task.get("meta", _ABSENT)
                # Every entry of the task before is here, and nothing more but args and meta.
                same = len(task) - (args is not _ABSENT) - (meta is not _ABSENT) == len(entries)
                for name, value in entries:  # a loop: a generator costs a call per entry
                    if not same or task.get(name, _ABSENT) is not value:
                        same = False
                        break
            if not same or template is None:
                jobs.append(self.build(task, index))
                template = self._used
                if template is not None and template.unique_key is None:
                    entries = tuple((k, v) for k, v in task.items() if k not in _OWN)
                else:
                    template = None
                continue
            if args is _ABSENT:
                args = ()
            elif type(args) is list:
                args = tuple(args)
            elif type(args) is not tuple:
                jobs.append(self.build(task, index))  # refused, or a list or tuple subclass
                continue
            try:
                packed_args = pack(args)  # a tuple packs as the list _args packs
            except (TypeError, ValueError, OverflowError):
                jobs.append(self.build(task, index))  # refused with _args's message
                continue
            meta = _NO_META if meta is _ABSENT or meta is None else _meta(meta)
            jobs.append(_new_job(template, args, packed_args, meta, None))
        return jobs


def task_request(task: Mapping[str, Any]) -> JobRequest:
    """The request an ``enqueue_many`` task mapping stands for."""
    options = {k: v for k, v in task.items() if k not in ("worker", "function", "args")}
    worker, function = task["worker"], task.get("function", "perform")
    return JobRequest(worker, function, task.get("args", ()), options)


def _from_template(template: NewJob, raw_args: Any, meta: Mapping[str, Any]) -> NewJob:
    args, packed_args = _args(raw_args)
    unique_key = None
    if template.unique_key is not None:
        unique_key = _unique_key(template.queue, template.worker, template.function, args)
    return _new_job(template, args, packed_args, meta, unique_key)


def _new_job(
    template: NewJob,
    args: tuple[Any, ...],
    packed_args: bytes,
    meta: Mapping[str, Any],
    unique_key: bytes | None,
) -> NewJob:
    """A job of ``template``'s kind with its own args, meta and unique key.

    Built field by field on a blank instance: calling the class goes through its
    dataclass ``__init__`` from C, about four times the cost, once per job enqueued.
    """
    job: NewJob = _blank(NewJob)
    job.queue = template.queue
    job.worker = template.worker
    job.function = template.function
    job.args = args
    job.priority = template.priority
    job.max_attempts = template.max_attempts
    job.retry_delay_seconds = template.retry_delay_seconds
    job.timeout_seconds = template.timeout_seconds
    job.unique_key = unique_key
    job.unique_for_seconds = template.unique_for_seconds
    job.meta = meta
    job.scheduled_at = template.scheduled_at
    job.packed_args = packed_args
    return job


def scheduled_time(scheduled_at: object, now: datetime) -> datetime:
    """An aware datetime, or seconds from ``now``, as an aware UTC datetime."""
    try:
        if isinstance(scheduled_at, datetime):
            return check_aware("scheduled_at", scheduled_at).astimezone(UTC)
        if isinstance(scheduled_at, (int, float)) and not isinstance(scheduled_at, bool):
            if not math.isfinite(scheduled_at) or scheduled_at < 0:
                raise InvalidTaskError(
                    f"scheduled_at must be >= 0 seconds from now, not {scheduled_at}"
                )
            return now + timedelta(seconds=scheduled_at)
    except OverflowError:
        # Past year 9999 (or before year 1) in UTC: no datetime can hold it.
        raise InvalidTaskError(f"scheduled_at {scheduled_at!r} is out of range") from None
    raise InvalidTaskError(
        f"scheduled_at must be an aware datetime or seconds from now, not {scheduled_at!r}"
    )


def check_aware(name: str, value: datetime) -> datetime:
    """Refuse naive datetimes: burro never guesses a timezone."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidTaskError(f"{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def unknown_queue(name: object, config: Config) -> InvalidTaskError:
    """The error for a queue name the configuration does not have."""
    configured = ", ".join(sorted(config.queues))
    return InvalidTaskError(f"unknown queue {name!r}; configured queues: {configured}")


def recurring_record(
    name: object, job: NewJob, expression: str, timezone: str, catch_up: object, now: datetime
) -> RecurringRecord:
    """Validate a recurring definition (its job is already validated) into a record."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidTaskError(f"a recurring task needs a non-empty name, not {name!r}")
    check_text("a recurring task's name", name)
    if catch_up not in ("one", "all", "none"):
        raise InvalidTaskError(f"catch_up must be 'one', 'all' or 'none', not {catch_up!r}")
    schedule = parse_schedule(expression, timezone)
    options = {
        "queue": job.queue,
        "priority": job.priority,
        "max_attempts": job.max_attempts,
        "retry_delay_seconds": job.retry_delay_seconds,
        "timeout_seconds": job.timeout_seconds,
        "meta": dict(job.meta),
        "catch_up": catch_up,
    }
    return RecurringRecord(
        name=name,
        cron_expression=schedule.expression,
        timezone=schedule.timezone,
        worker=job.worker,
        function=job.function,
        args=job.args,
        options=options,
        next_fire_at=next_fire_at(schedule, after=now),
    )


def retention_days(name: str, value: object, default: float) -> float:
    """A retention in days: ``default`` when ``value`` is None, else a finite number >= 0."""
    if value is None:
        return default
    if not _is_number(value) or value < 0:  # type: ignore[operator]
        raise InvalidTaskError(f"{name} must be a finite number of days >= 0, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def _queue(name: object, config: Config) -> str:
    if not isinstance(name, str) or name not in config.queues:
        raise unknown_queue(name, config)
    return name


def _args(args: Any) -> tuple[tuple[Any, ...], bytes]:
    """The args as a tuple, and encoded as they will be stored (checking that they can be)."""
    if not isinstance(args, (list, tuple)):
        raise InvalidTaskError(f"args must be a list or tuple, not {type(args).__name__}")
    try:
        return tuple(args), pack(list(args))
    except (TypeError, ValueError, OverflowError):
        pack_value(list(args), "args")  # raises the InvalidTaskError that names the args
        raise


def _meta(meta: Any) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping) or not all(isinstance(k, str) for k in meta):
        raise InvalidTaskError("meta must be a mapping with str keys")
    if meta:
        _check_trace_context(meta)
    _check_encodable("meta", dict(meta))
    return dict(meta)


def _check_trace_context(meta: Mapping[str, Any]) -> None:
    """Refuse meta entries the trace propagator reads that are not text.

    An attempt reads its producer's trace context from these entries (``traceparent``,
    ``tracestate``, ``baggage`` with the default propagator); the propagator takes only
    str values there.
    """
    for key in propagate.get_global_textmap().fields & meta.keys():
        if not isinstance(meta[key], str):
            raise InvalidTaskError(
                f"meta[{key!r}] is read as trace context and must be a str, "
                f"not {type(meta[key]).__name__}"
            )


def check_text(name: str, value: str) -> None:
    """Refuse text that cannot be stored: a lone surrogate has no UTF-8 form."""
    try:
        value.encode()
    except UnicodeEncodeError as error:
        raise InvalidTaskError(
            f"{name} cannot be stored: {error.reason} at position {error.start}"
        ) from None


def _check_encodable(name: str, value: Any) -> None:
    pack_value(value, name)


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _priority(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_PRIORITY:
        raise InvalidTaskError(f"priority must be an int from 0 to {MAX_PRIORITY}, not {value!r}")
    return value


def _max_attempts(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_ATTEMPTS:
        raise InvalidTaskError(
            f"max_attempts must be an int from 1 to {MAX_ATTEMPTS}, not {value!r}"
        )
    return value


def _non_negative(name: str, value: object) -> float:
    if not _is_number(value) or value < 0:  # type: ignore[operator]
        raise InvalidTaskError(f"{name} must be a number >= 0, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def _optional_positive(name: str, value: object) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or not 0 < value <= MAX_SECONDS:  # type: ignore[operator]
        raise InvalidTaskError(f"{name} must be a number > 0 and <= {MAX_SECONDS:g}, not {value!r}")
    return float(value)  # type: ignore[arg-type]


def _unique_key(queue: str, worker: str, function: str, args: tuple[Any, ...]) -> bytes:
    packed = msgpack.packb([queue, worker, function, list(args)], datetime=True)
    return hashlib.blake2b(packed, digest_size=16).digest()
