"""The LMDB job store (the default, persistent backend).

Each operation is one LMDB transaction: writes are serialised (by LMDB across processes,
by a lock within one), reads run on consistent snapshots in parallel. Jobs live in the
``jobs`` database under their 64-bit insertion sequence (the id is that number in
fixed-width hex); every way the runtime reads them is an ordered index of fixed-width
big-endian keys read by cursor (layouts in ``_lmdb_writer``), so claiming, promoting and
listing a page touch ``O(log n + k)`` keys and memory does not grow with the number of
stored jobs. Counts per queue and state are counters kept in the same transactions, so
:meth:`LmdbStorage.counts` reads ``O(queues)`` keys.

A process opens one LMDB environment per data directory, shared by every
:class:`LmdbStorage` on it. Several processes may share one data directory; a process
must not use a store it opened before ``fork()`` (the child gets :class:`StorageError`):
start workers with the ``spawn`` method, or open the store after forking.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal, TypeVar

import lmdb

from burro.errors import ConfigError, StorageError
from burro.states import WAITING_STATES, TaskState
from burro.storage import _lmdb_jobs as transitions
from burro.storage import _lmdb_read as read
from burro.storage import _lmdb_recurring as recurring
from burro.storage._codec import CorruptRecord
from burro.storage._lmdb_bulk import insert_batch
from burro.storage._lmdb_env import (
    DEFAULT_MAP_SIZE,
    SharedEnvironment,
    open_shared,
    release_shared,
)
from burro.storage._lmdb_keys import STATE_CODES, U64, bounded, from_micros, parse_job_id
from burro.storage._lmdb_liveness import is_alive
from burro.storage._lmdb_records import decode_runtime, encode_recurring, encode_runtime, utc
from burro.storage._lmdb_writer import JobWriter
from burro.storage.base import (
    CancelOutcome,
    Inserted,
    Job,
    JobFilter,
    NewJob,
    RecurringRecord,
    RuntimeInfo,
    Settlement,
    SortField,
)

__all__ = ["LmdbStorage"]

_T = TypeVar("_T")
#: Free space below which a failed write is blamed on a full disk.
_DISK_FULL_BYTES = 1 << 20
_WAITING = tuple(sorted(STATE_CODES[state] for state in WAITING_STATES))


class LmdbStorage:
    """A :class:`~burro.storage.base.Storage` kept in LMDB under one data directory.

    Args:
        path: The data directory; created if missing.
        durability: ``"fsync"`` syncs every commit to disk (survives power loss);
            ``"process"`` leaves flushing to the OS (survives a crash of the process).
        map_size: The initial size of the memory map in bytes; it doubles when full.
    """

    def __init__(
        self,
        path: Path,
        durability: Literal["fsync", "process"] = "fsync",
        *,
        map_size: int = DEFAULT_MAP_SIZE,
    ) -> None:
        if durability not in ("fsync", "process"):
            raise ConfigError(f"durability must be 'fsync' or 'process', not {durability!r}")
        self._fsync = durability == "fsync"
        self._shared = open_shared(Path(path), fsync=self._fsync, map_size=map_size)
        self._dbs = self._shared.dbs
        self._closed = False
        self._lifecycle = threading.Lock()
        #: Runtimes registered through this object: their locks go when it closes.
        self._runtimes: set[str] = set()

    def __repr__(self) -> str:
        return f"LmdbStorage({str(self._shared.path)!r})"

    @property
    def path(self) -> Path:
        """The data directory (resolved)."""
        return self._shared.path

    # -- transactions --------------------------------------------------------------
    def _usable(self) -> SharedEnvironment:
        if self._closed:
            raise StorageError(f"{self._shared.path}: the store is closed")
        if self._shared.forked:
            raise StorageError(
                f"{self._shared.path}: this store was opened before fork(); "
                "open it again in the child (or start children with 'spawn')"
            )
        return self._shared

    def _write(self, body: Callable[[JobWriter], _T]) -> _T:
        shared = self._shared
        if self._closed or shared.forked:  # _usable()'s checks, without its call per write
            self._usable()

        def transaction(txn: lmdb.Transaction[bytes]) -> tuple[_T, JobWriter]:
            writer = JobWriter(txn, shared)
            result = body(writer)
            writer.flush()
            return result, writer

        try:
            result, writer = shared.write(transaction, fsync=self._fsync)
        except (lmdb.Error, CorruptRecord, OSError) as error:
            raise self._failure(error) from error
        if writer.new_queues:
            writer.publish()
        return result

    def _read(self, body: Callable[[lmdb.Transaction[bytes]], _T]) -> _T:
        shared = self._usable()
        try:
            return shared.read(body)
        except (lmdb.Error, CorruptRecord) as error:
            raise self._failure(error) from error

    def _failure(self, error: Exception) -> StorageError:
        path = self._shared.path
        if isinstance(error, CorruptRecord):
            return StorageError(f"{path}: corrupt record: {error}")
        message = f"{path}: {type(error).__name__}: {error}"
        # LMDB reports a short write as EIO: say so when the real cause is a full disk.
        if isinstance(error, lmdb.Error) and _disk_nearly_full(path):
            message += " (no space left on device)"
        return StorageError(message)

    # -- inserting -----------------------------------------------------------------
    def insert(self, job: NewJob, now: datetime) -> Inserted:
        """Store one job (honouring its uniqueness rule)."""
        now = now if now.tzinfo is UTC else utc(now)  # the clock's times need no call
        return self._write(lambda writer: transitions.insert_job(writer, job, now))

    def insert_many(self, jobs: Sequence[NewJob], now: datetime) -> list[Inserted]:
        """Store many jobs in one transaction; all or nothing."""
        now = utc(now)
        batch = list(jobs)
        if not batch:
            self._usable()
            return []
        return self._write(lambda writer: insert_batch(writer, batch, now))

    # -- running -------------------------------------------------------------------
    def claim(self, queue: str, limit: int, runtime_id: str, now: datetime) -> list[Job]:
        """Mark up to ``limit`` pending jobs of ``queue`` ``running`` for ``runtime_id``."""
        now = utc(now)
        return self._write(
            lambda writer: transitions.claim_jobs(writer, queue, limit, runtime_id, now)
        )

    def settle(self, settlements: Sequence[Settlement], now: datetime) -> list[Job | None]:
        """Record the outcome of running jobs, all in one transaction."""
        now = utc(now)
        batch = list(settlements)
        if not batch:
            self._usable()
            return []
        return self._write(
            lambda writer: [transitions.settle_job(writer, item, now) for item in batch]
        )

    def settle_and_claim(
        self,
        settlements: Sequence[Settlement],
        claims: Mapping[str, int],
        runtime_id: str,
        now: datetime,
    ) -> tuple[list[Job | None], dict[str, list[Job]]]:
        """Settle, then claim per queue, in one transaction."""
        now = now if now.tzinfo is UTC else utc(now)  # the clock's times need no call
        batch = list(settlements)
        # Loops, not comprehensions: one call fewer each, on every worker's settlement.
        wanted = {}
        for queue, limit in claims.items():
            if limit > 0:
                wanted[queue] = limit

        def body(writer: JobWriter) -> tuple[list[Job | None], dict[str, list[Job]]]:
            settled = []
            for item in batch:
                settled.append(transitions.settle_job(writer, item, now))
            claimed = {}
            for queue, limit in wanted.items():
                claimed[queue] = transitions.claim_jobs(writer, queue, limit, runtime_id, now)
            return settled, claimed

        return self._write(body)

    def release(
        self, runtime_id: str, job_ids: Iterable[str] | None, now: datetime, *, rescue: bool
    ) -> list[Job]:
        """Put ``running`` jobs claimed by ``runtime_id`` back to ``pending``."""
        now = utc(now)
        # Materialised first: a transaction retried after growing the map reads it again.
        named = None if job_ids is None else list(job_ids)
        return self._write(
            lambda writer: transitions.release_jobs(writer, runtime_id, named, now, rescue=rescue)
        )

    def promote(self, now: datetime, limit: int) -> dict[str, int]:
        """Make up to ``limit`` due ``scheduled``/``retryable`` jobs ``pending``."""
        now = utc(now)
        return self._write(lambda writer: transitions.promote_jobs(writer, now, limit))

    def next_due_at(self) -> datetime | None:
        """The earliest ``scheduled_at`` of any scheduled or retryable job."""

        def earliest(txn: lmdb.Transaction[bytes]) -> datetime | None:
            queues = read.queue_table(txn, self._dbs)
            first = next(read.timeline_entries(txn, self._dbs, _WAITING, queues), None)
            return None if first is None else from_micros(U64.unpack(first[5:13])[0])

        return self._read(earliest)

    # -- operator actions ----------------------------------------------------------
    def cancel(self, job_id: str, reason: str | None, now: datetime) -> CancelOutcome | None:
        """Cancel a job; ``None`` if unknown."""
        now = utc(now)
        key = parse_job_id(job_id)
        self._usable()
        if key is None:
            return None
        return self._write(lambda writer: transitions.cancel_job(writer, key, reason, now))

    def retry(self, job_id: str, now: datetime) -> Job | None:
        """Put a ``discarded`` or ``cancelled`` job back to ``pending`` with fresh attempts."""
        now = utc(now)
        key = parse_job_id(job_id)
        self._usable()
        if key is None:
            return None
        return self._write(lambda writer: transitions.retry_job(writer, key, now))

    # -- reading -------------------------------------------------------------------
    def get(self, job_id: str) -> Job | None:
        """One job, or ``None``."""
        key = parse_job_id(job_id)
        self._usable()
        if key is None:
            return None

        def one(txn: lmdb.Transaction[bytes]) -> Job | None:
            job = read.load_job(txn, self._dbs, key)
            return None if job is None else job.to_job(JobWriter.job_id(key))

        return self._read(one)

    def list_jobs(
        self,
        filters: JobFilter,
        *,
        offset: int,
        limit: int,
        sort_by: SortField = "inserted_at",
        descending: bool = False,
    ) -> tuple[list[Job], int]:
        """A page of jobs matching ``filters`` and the total number matching.

        Ties (and jobs not yet attempted or completed, which sort last ascending) are
        ordered by insertion; ``descending`` reverses the whole order. Sorting by
        insertion, or by the time that orders the chosen states (``scheduled_at`` for
        waiting and pending jobs, ``completed_at`` for finished ones), reads an index;
        other orders read each matching record once.
        """
        start = max(offset, 0)
        # islice refuses a stop beyond sys.maxsize; no store holds that many jobs anyway.
        page = slice(start, min(start + max(limit, 0), sys.maxsize))
        return self._read(
            lambda txn: read.list_page(
                txn, self._dbs, filters, page=page, sort_by=sort_by, descending=descending
            )
        )

    def counts(self) -> dict[str, dict[TaskState, int]]:
        """Jobs per queue per state (every state present, zeros included), not a scan."""
        return self._read(lambda txn: read.count_jobs(txn, self._dbs))

    def failed_today(self, now: datetime) -> dict[str, int]:
        """Failed attempts per queue since midnight UTC of ``now``'s day."""
        return self._read(lambda txn: read.failures_on(txn, self._dbs, now))

    def delete_finished(self, states: frozenset[TaskState], before: datetime, limit: int) -> int:
        """Delete up to ``limit`` finished jobs in ``states`` completed before ``before``.

        The oldest completions go first.
        """
        before = utc(before)
        return self._write(
            lambda writer: transitions.delete_finished_jobs(writer, states, before, limit)
        )

    # -- recurring tasks -----------------------------------------------------------
    def upsert_recurring(self, record: RecurringRecord, *, keep_fire_times: bool = False) -> None:
        """Create or replace the recurring task ``record.name`` (see the protocol)."""
        key = recurring.recurring_key(record.name)

        def body(writer: JobWriter) -> None:
            chosen = record
            if keep_fire_times:
                stored = recurring.read_recurring(writer.txn, self._dbs, record.name)
                chosen = record.declared_over(stored)
            writer.txn.put(key, encode_recurring(chosen), db=self._dbs.recurring)

        self._write(body)

    def delete_recurring(self, name: str) -> bool:
        """Remove a recurring task (and its record of fires); False if there was none."""
        return self._write(lambda writer: recurring.delete_recurring(writer, name))

    def get_recurring(self, name: str) -> RecurringRecord | None:
        """One recurring task, or ``None``."""
        return self._read(lambda txn: recurring.read_recurring(txn, self._dbs, name))

    def list_recurring(self) -> list[RecurringRecord]:
        """Every recurring task, by name."""

        def every(txn: lmdb.Transaction[bytes]) -> list[RecurringRecord]:
            found = [
                recurring.decode_named(key.hex(), data)
                for key, data in read.key_range(txn, self._dbs.recurring, b"", values=True)
            ]
            return sorted(found, key=lambda record: record.name)

        return self._read(every)

    def fire_recurring(
        self,
        record: RecurringRecord,
        fire_at: datetime,
        job: NewJob,
        next_fire_at: datetime,
        now: datetime,
    ) -> str | None:
        """Record fire ``(record.name, fire_at)``, insert its job and move ``next_fire_at``.

        Returns ``None`` if ``record`` is no longer the one stored (deleted, redefined or
        moved since it was read), if that fire was already recorded, or if it is older
        than the last fire recorded (superseded).
        """
        now, fire_at = utc(now), utc(fire_at)
        return self._write(
            lambda writer: recurring.fire_recurring(
                writer, record, fire_at, job, next_fire_at=next_fire_at, now=now
            )
        )

    def advance_recurring(self, record: RecurringRecord, next_fire_at: datetime) -> bool:
        """Move ``record``'s next fire to ``next_fire_at`` if it is still the one stored."""
        return self._write(lambda writer: recurring.advance_recurring(writer, record, next_fire_at))

    # -- runtimes ------------------------------------------------------------------
    def register_runtime(self, info: RuntimeInfo) -> None:
        """Record a live runtime and take its lock file, held until it stops."""
        shared = self._usable()
        shared.runtime_locks.acquire(info.id)
        encoded = encode_runtime(info)
        try:
            self._write(
                lambda writer: writer.txn.put(
                    bounded(info.id.encode()), encoded, db=self._dbs.runtimes
                )
            )
        except BaseException:
            shared.runtime_locks.release(info.id, remove=True)
            raise
        with self._lifecycle:
            self._runtimes.add(info.id)

    def unregister_runtime(self, runtime_id: str) -> None:
        """Forget a runtime that stopped cleanly and release its lock file."""
        shared = self._usable()
        self._write(
            lambda writer: writer.txn.delete(bounded(runtime_id.encode()), db=self._dbs.runtimes)
        )
        shared.runtime_locks.release(runtime_id, remove=True)
        with self._lifecycle:
            self._runtimes.discard(runtime_id)

    def runtimes(self) -> list[RuntimeInfo]:
        """Every registered runtime, alive or not yet found dead."""
        return self._read(
            lambda txn: [
                decode_runtime(data)
                for _, data in read.key_range(txn, self._dbs.runtimes, b"", values=True)
            ]
        )

    def rescue_orphans(self, now: datetime) -> list[Job]:
        """Release (``rescue=True``) the claims of every runtime that is not alive.

        A runtime is alive while some process holds its lock file; claims by a runtime
        that never registered are judged by the same lock. Dead runtimes are unregistered,
        and the LMDB reader slots of dead processes freed.
        """
        now = utc(now)
        try:
            self._usable().clear_stale_readers()
        except lmdb.Error as error:
            raise self._failure(error) from error
        return self._write(lambda writer: self._rescue(writer, now))

    def _rescue(self, writer: JobWriter, now: datetime) -> list[Job]:
        registered = {
            decode_runtime(data).id: key
            for key, data in read.key_range(writer.txn, self._dbs.runtimes, b"", values=True)
        }
        suspects = sorted(set(registered) | set(transitions.runtimes_with_claims(writer)))
        locks = self._shared.runtime_locks
        rescued: list[Job] = []
        for runtime_id in suspects:
            if locks.holds(runtime_id) or is_alive(locks.directory, runtime_id):
                continue
            rescued.extend(transitions.release_jobs(writer, runtime_id, None, now, rescue=True))
            if runtime_id in registered:
                writer.txn.delete(registered[runtime_id], db=self._dbs.runtimes)
        return rescued

    # -- lifecycle -----------------------------------------------------------------
    def close(self) -> None:
        """Release the environment and the locks of runtimes registered here; idempotent.

        A runtime still registered when its store closes is left for a survivor (or the
        next start) to find dead and rescue.
        """
        with self._lifecycle:
            if self._closed:
                return
            self._closed = True
            registered, self._runtimes = self._runtimes, set()
        if not self._shared.forked:
            for runtime_id in registered:
                self._shared.runtime_locks.release(runtime_id, remove=False)
        release_shared(self._shared)


def _disk_nearly_full(path: Path) -> bool:
    try:
        usage = os.statvfs(path)
    except OSError:
        return False
    return usage.f_bavail * usage.f_frsize < _DISK_FULL_BYTES
