"""Records of the LMDB store and their msgpack layout.

A job record is one msgpack array (field order below, fixed on disk). The caller's
values - args, meta, result - are nested in it as already-encoded binaries, so moving a
job between states re-encodes a few scalars and copies those bytes untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

from burro.states import TaskState
from burro.storage._codec import CorruptRecord, array_header, pack, pack_value, unpack
from burro.storage._job_view import PACKED_NO_META, PACKED_NONE, frozen_job
from burro.storage._lmdb_keys import STATE_CODES, STATES_BY_CODE
from burro.storage.base import ErrorEntry, NewJob, RecurringRecord, RuntimeInfo

__all__ = [
    "RecordFrame",
    "StoredJob",
    "decode_recurring",
    "decode_runtime",
    "encode_recurring",
    "encode_runtime",
    "utc",
]

#: Version tag, the first element of every job record.
_JOB_FORMAT = 1
_FIELDS = 23
#: The positions of the packed args and the packed meta in a record.
_ARGS, _META = 5, 11
#: A new job's states (an enum member read off its class is a slow attribute lookup).
_SCHEDULED, _PENDING = TaskState.SCHEDULED, TaskState.PENDING


def utc(moment: datetime) -> datetime:
    """An aware datetime in UTC (the form every stored time is read back in)."""
    return moment if moment.tzinfo is UTC else moment.astimezone(UTC)


class RecordFrame(NamedTuple):
    """A job record's bytes around its args and meta, which sit in it as binaries.

    ``frame.fill(packed_args, packed_meta)`` is the record :meth:`StoredJob.encode` would
    write with those args and meta: the jobs of a bulk insert that differ only in them
    are encoded without packing the rest again.
    """

    head: bytes
    middle: bytes
    tail: bytes

    def fill(self, packed_args: bytes, packed_meta: bytes) -> bytes:
        """The record with these (already encoded) args and meta."""
        return self.head + pack(packed_args) + self.middle + pack(packed_meta) + self.tail


def _elements(values: list[Any]) -> bytes:
    """The msgpack encodings of ``values``, one after the other (an array without header)."""
    return pack(values)[len(array_header(len(values))) :]


@dataclass(slots=True)
class StoredJob:
    """A job record as kept in the ``jobs`` database, changed inside a write transaction."""

    state: TaskState
    queue: str
    worker: str
    function: str
    packed_args: bytes
    priority: int
    attempts: int
    max_attempts: int
    retry_delay_seconds: float
    timeout_seconds: float | None
    packed_meta: bytes
    inserted_at: datetime
    scheduled_at: datetime
    attempted_at: datetime | None = None
    completed_at: datetime | None = None
    last_error: str | None = None
    errors: list[ErrorEntry] | None = None
    packed_result: bytes = PACKED_NONE
    claimed_by: str | None = None
    cancel_requested: bool = False
    cancel_reason: str | None = None
    unique_key: bytes | None = None

    @classmethod
    def create(cls, job: NewJob, now: datetime) -> StoredJob:
        """A new record for ``job`` inserted at ``now``: ``pending`` unless due later."""
        scheduled_at = now if job.scheduled_at is None else utc(job.scheduled_at)
        # The fields by position, in order: keyword arguments would cost a dict per job,
        # on every insert. The unique key, last and mostly unset, is set apart.
        record = cls(
            _SCHEDULED if scheduled_at > now else _PENDING,
            job.queue,
            job.worker,
            job.function,
            pack_value(list(job.args), "args") if job.packed_args is None else job.packed_args,
            job.priority,
            0,  # attempts
            job.max_attempts,
            job.retry_delay_seconds,
            job.timeout_seconds,
            pack_value(dict(job.meta), "meta") if job.meta else PACKED_NO_META,
            now,  # inserted_at
            scheduled_at,
        )
        if job.unique_key is not None:
            record.unique_key = job.unique_key
        return record

    @classmethod
    def decode(cls, data: bytes) -> StoredJob:
        """Read a record; :class:`CorruptRecord` if the bytes are not one."""
        fields = unpack(data)
        if not isinstance(fields, list) or len(fields) != _FIELDS or fields[0] != _JOB_FORMAT:
            raise CorruptRecord("not a job record of a known format")
        try:
            fields[1] = STATES_BY_CODE[fields[1]]
            if fields[17] is not None:
                fields[17] = [ErrorEntry(*entry) for entry in fields[17]]
            return cls(*fields[1:])
        except (KeyError, TypeError) as error:
            raise CorruptRecord(f"malformed job record: {error!r}") from error

    def encode(self) -> bytes:
        """The record as stored."""
        return pack(self._fields())

    def frame(self) -> RecordFrame:
        """The stored bytes around the args and the meta (see :class:`RecordFrame`)."""
        fields = self._fields()
        return RecordFrame(
            array_header(len(fields)) + _elements(fields[:_ARGS]),
            _elements(fields[_ARGS + 1 : _META]),
            _elements(fields[_META + 1 :]),
        )

    def _fields(self) -> list[Any]:
        errors = None if self.errors is None else [(e.attempt, e.at, e.error) for e in self.errors]
        return [
            _JOB_FORMAT,
            STATE_CODES[self.state],
            self.queue,
            self.worker,
            self.function,
            self.packed_args,
            self.priority,
            self.attempts,
            self.max_attempts,
            self.retry_delay_seconds,
            self.timeout_seconds,
            self.packed_meta,
            self.inserted_at,
            self.scheduled_at,
            self.attempted_at,
            self.completed_at,
            self.last_error,
            errors,
            self.packed_result,
            self.claimed_by,
            self.cancel_requested,
            self.cancel_reason,
            self.unique_key,
        ]

    def finish(self, state: TaskState, now: datetime) -> None:
        """Move to a finished state at ``now``, giving up any claim."""
        self.state = state
        self.completed_at = now
        self.claimed_by = None

    def record_failure(self, error: str, now: datetime) -> None:
        """Append a failed attempt to ``errors`` and make it ``last_error``."""
        entry = ErrorEntry(attempt=self.attempts, at=now, error=error)
        self.errors = [entry] if self.errors is None else [*self.errors, entry]
        self.last_error = error

    #: ``to_job(job_id)``: a frozen copy of this record, with freshly decoded values
    #: (:func:`frozen_job` itself, not a method calling it: one call fewer per view).
    to_job = frozen_job


def encode_recurring(record: RecurringRecord) -> bytes:
    """A recurring task definition as stored."""
    return pack(
        [
            record.name,
            record.cron_expression,
            record.timezone,
            record.worker,
            record.function,
            pack_value(list(record.args), "args"),
            pack_value(dict(record.options), "options"),
            utc(record.next_fire_at),
            None if record.last_fire_at is None else utc(record.last_fire_at),
        ]
    )


def decode_recurring(data: bytes) -> RecurringRecord:
    """Read a recurring task definition; :class:`CorruptRecord` if malformed."""
    fields = unpack(data)
    try:
        name, cron, timezone, worker, function, args, options, next_fire, last_fire = fields
        return RecurringRecord(
            name=name,
            cron_expression=cron,
            timezone=timezone,
            worker=worker,
            function=function,
            args=tuple(unpack(args)),
            options=unpack(options),
            next_fire_at=next_fire,
            last_fire_at=last_fire,
        )
    except (TypeError, ValueError) as error:
        raise CorruptRecord(f"malformed recurring task: {error!r}") from error


def encode_runtime(info: RuntimeInfo) -> bytes:
    """A runtime registry entry as stored."""
    return pack([info.id, info.pid, info.hostname, utc(info.started_at)])


def decode_runtime(data: bytes) -> RuntimeInfo:
    """Read a runtime registry entry; :class:`CorruptRecord` if malformed."""
    try:
        runtime_id, pid, hostname, started_at = unpack(data)
        return RuntimeInfo(id=runtime_id, pid=pid, hostname=hostname, started_at=started_at)
    except (TypeError, ValueError) as error:
        raise CorruptRecord(f"malformed runtime entry: {error!r}") from error
