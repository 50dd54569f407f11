"""One LMDB environment per data directory per process, shared and kept consistent.

LMDB allows a process to open an environment once: a second open would share (and, on
close, drop) the first one's file locks. :func:`open_shared` therefore keeps a process-wide
registry keyed by the directory's real path, refcounted, so every ``LmdbStorage`` on one
directory (several runtimes in one process, as in tests) uses the same
:class:`SharedEnvironment`.

Four things need care beyond LMDB's own locking:

* Growing the map (``set_mapsize``) invalidates every open transaction of this process.
  Readers pass a :class:`_ReaderGate`; a resize holds the writer lock and waits for the
  gate to empty, so no transaction is ever open while the map changes. Aborting a write
  transaction passes the same gate: py-lmdb makes it wait for a moment with no read in
  flight, which busy reader threads would otherwise never grant.
* With ``writemap`` LMDB sets the data file's length to the map size whenever it maps
  it, so a process mapping less than another would cut that one's map short, and its
  next write past the new end kills it (SIGBUS). Every map change (open, growth,
  adopting another process's growth) therefore holds ``map.lock`` and maps at least
  the data file's current length: the file never shrinks under another process.
* Growing asks the file for its new length (with disk blocks) before LMDB maps it, so
  a full disk or a file size limit fails the growth cleanly. LMDB itself unmaps the old
  map before mapping the new one: if that still fails, py-lmdb gives the environment up
  half torn down, and closing (or freeing) it could unmap memory that is no longer
  LMDB's. The environment is then replaced by :class:`_Unmapped`, which refuses every
  use with a :class:`StorageError` until the process ends.
* An environment must never be used across ``fork()``: the child inherits the mapping but
  not LMDB's locks. A fork marks every inherited environment as unusable in the child.
"""

from __future__ import annotations

import ctypes
import fcntl
import mmap
import os
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, fields
from pathlib import Path
from typing import NoReturn, TypeVar

import lmdb

from burro._group_commit import GroupCommitter, Ticket
from burro.errors import StorageError
from burro.storage._codec import CorruptRecord
from burro.storage._lmdb_claimed import ClaimedRecords
from burro.storage._lmdb_counters import CounterCache
from burro.storage._lmdb_liveness import RuntimeLocks
from burro.storage._lmdb_upgrade import upgrade

__all__ = ["DEFAULT_MAP_SIZE", "Databases", "SharedEnvironment", "open_shared"]

_T = TypeVar("_T")

#: The initial map, doubled when full. The data file is as large as the map and backed
#: by real disk blocks (see :func:`_reserve`), so this is also the smallest store on disk.
DEFAULT_MAP_SIZE = 16 << 20
#: Growing stops here: a store this large is more likely a runaway than real work.
_MAX_MAP_SIZE = 1 << 44
_MAX_READERS = 1024
_MAX_DBS = 32
#: Version of the key layouts and record formats; bump on any incompatible change, and
#: teach :mod:`._lmdb_upgrade` to bring stores of the earlier format up to it.
_FORMAT = b"2"


@dataclass(frozen=True, slots=True)
class Databases:
    """Handles of the named databases, opened once per environment.

    Slots, not a named tuple: a slot is read without the generic attribute lookup a
    named tuple's field takes, and the hot transactions name a database a dozen times.
    """

    meta: lmdb._Database
    jobs: lmdb._Database
    queues: lmdb._Database
    ready: lmdb._Database
    by_state: lmdb._Database
    by_time: lmdb._Database
    claims: lmdb._Database
    counts: lmdb._Database
    failed: lmdb._Database
    unique: lmdb._Database
    recurring: lmdb._Database
    fires: lmdb._Database
    runtimes: lmdb._Database


class _ReaderGate:
    """Many readers at once, or one exclusive action (a resize, an abort) with none inside.

    Readers pay two list operations (atomic under the GIL) and a flag check; only while
    an exclusive action is waiting or running do they touch the condition. Exclusive
    actions are rare, and their callers hold the writer lock, so one runs at a time.
    """

    def __init__(self) -> None:
        self._inside: list[None] = []
        self._exclusive = False
        self._condition = threading.Condition(threading.Lock())

    def enter(self) -> None:
        while True:
            self._inside.append(None)
            if not self._exclusive:
                return
            # An exclusive action waits for readers to drain: step out and wait for it.
            self.leave()
            with self._condition:
                while self._exclusive:
                    self._condition.wait()

    def leave(self) -> None:
        self._inside.pop()
        if self._exclusive:
            with self._condition:
                self._condition.notify_all()

    def exclusive(self, action: Callable[[], None]) -> None:
        """Run ``action`` once every reader has left, holding new ones back."""
        with self._condition:
            self._exclusive = True
            try:
                while self._inside:
                    self._condition.wait()
                action()
            finally:
                self._exclusive = False
                self._condition.notify_all()


#: Errors that roll the whole batch back to run it again (after growing the map).
_RETRY_BATCH = (lmdb.MapFullError, lmdb.MapResizedError)


class _FlushedBody:
    """A write whose commit is flushed to disk before it returns (on an unsynced store)."""

    __slots__ = ("body",)

    def __init__(self, body: Callable[[lmdb.Transaction[bytes]], object]) -> None:
        self.body = body

    def __call__(self, txn: lmdb.Transaction[bytes]) -> object:
        return self.body(txn)


def _asks_for_flush(tickets: list[Ticket]) -> bool:
    """Whether a writer of the batch asked for its commit to be flushed."""
    # A loop, not any(): this runs on every write of such a store, mostly for one writer.
    for ticket in tickets:  # noqa: SIM110
        if type(ticket.item) is _FlushedBody:
            return True
    return False


class _Unmapped:
    """Stands in for an environment LMDB failed to map again: every use raises.

    The real one is never closed nor freed: after a failed remap LMDB may still hold the
    address of the map it unmapped, and closing would unmap whatever lives there now.
    """

    def __init__(self, env: object, reason: str) -> None:
        self.reason = reason
        # A reference nothing drops, not even the interpreter's shutdown.
        ctypes.pythonapi.Py_IncRef(ctypes.py_object(env))

    def _refuse(self) -> NoReturn:
        raise StorageError(self.reason)

    def begin(self, *_: object, **__: object) -> NoReturn:
        self._refuse()

    def info(self) -> NoReturn:
        self._refuse()

    def set_mapsize(self, _: int) -> NoReturn:
        self._refuse()

    def sync(self, _: bool = False) -> NoReturn:
        self._refuse()

    def reader_check(self) -> NoReturn:
        self._refuse()

    def flags(self) -> NoReturn:
        self._refuse()

    def close(self) -> None:
        """Close nothing (see the class)."""


class SharedEnvironment:
    """An open LMDB environment and the in-process state every user of it shares."""

    def __init__(self, path: Path, env: lmdb.Environment, synced: bool) -> None:
        self.path = path
        #: The environment, or what refuses every use once LMDB failed to map it again.
        self.env: lmdb.Environment | _Unmapped = env
        #: Whether LMDB itself fsyncs on commit (the first opener's durability).
        self.synced = synced
        self.dbs = dbs = _open_databases(env)
        #: The index databases, in the order of a placement's keys (see ``_lmdb_writer``).
        self.indexes = (dbs.by_state, dbs.by_time, dbs.ready, dbs.claims)
        self.refs = 0
        self.forked = False
        self._writer = threading.Lock()
        self._gate = _ReaderGate()
        self._group = GroupCommitter(
            self._commit_batch,
            self._make_durable if synced else None,
            commit_one=None if synced else self._commit_one,
        )
        #: Whether a commit of the current batch flushed to disk (see ``_write_once``).
        self._flushed = False
        #: Why a flush failed, if one did: then no further write is accepted.
        self._flush_failure: Exception | None = None
        #: Whether a writer ever asked this unsynced store for a flush (never reset): until
        #: one does, a batch is not searched for such a writer.
        self._flushes_asked = False
        #: Queue name -> id, filled from committed transactions only.
        self.queue_ids: dict[str, int] = {}
        #: Runtime id -> its key prefix in the claims index (see ``claim_prefix``).
        self.claim_prefixes: dict[str, bytes] = {}
        #: Counter values of the open write transaction (see :mod:`._lmdb_counters`).
        self.counters = CounterCache()
        #: Records this process wrote when claiming jobs (see :mod:`._lmdb_claimed`).
        self.claimed = ClaimedRecords()
        self.runtime_locks = RuntimeLocks(path / "runtimes")

    def write(self, body: Callable[[lmdb.Transaction[bytes]], _T], *, fsync: bool) -> _T:
        """Run ``body`` in a write transaction and commit it; return what it returned.

        Concurrent writers share one transaction (group commit), and take their turns in
        the order they came: a writer that loops (the clean-up, deleting in batches)
        cannot keep the others waiting. A writer that finds nobody writing commits at
        once. If one of the bodies of a batch raises, the shared transaction is rolled
        back and every body runs again in a transaction of its own, so a failing writer
        fails alone. ``body`` may therefore run more than once (also when the map is
        full: the batch is rolled back, the map doubled and every body run again), so it
        must act on the transaction only.
        """
        item: Callable[[lmdb.Transaction[bytes]], object] = body
        if fsync and not self.synced:
            # A store first opened with durability "process": flush after this commit.
            item = _FlushedBody(body)
            self._flushes_asked = True
        result: _T = self._group.run(item)
        return result

    def _commit_batch(self, tickets: list[Ticket]) -> bool:
        """Commit the tickets' bodies; True if a commit flushed (and so every earlier one)."""
        with self._writer:
            if self._flush_failure is not None:
                self._refuse_after_failed_flush()
            self._flushed = False
            batch = tickets
            while batch:
                culprit = self._commit(batch)
                if culprit is None:
                    break
                # The others go on together; the one that raised runs alone, told its error.
                batch = [ticket for ticket in batch if ticket is not culprit]
                self._commit([culprit])
            if self._flushes_asked and _asks_for_flush(tickets):
                self._flush()
            return self._flushed

    def _commit_one(self, body: Callable[[lmdb.Transaction[bytes]], _T]) -> _T:
        """:meth:`_commit_batch` of one body, for a lone writer of an unsynced store.

        Most writes find nobody else writing: a ticket and the batch's bookkeeping would
        cost them a few calls each.
        """
        if type(body) is _FlushedBody:  # rare (see write): the batch's path flushes it
            ticket = Ticket(body)
            self._commit_batch([ticket])
            if ticket.error is not None:
                raise ticket.error
            result: _T = ticket.result
            return result
        with self._writer:
            if self._flush_failure is not None:
                self._refuse_after_failed_flush()
            while True:
                try:
                    return self._write_alone(body)
                except lmdb.MapFullError:
                    self._grow()
                except lmdb.MapResizedError:
                    self._adopt_growth()

    def _write_alone(self, body: Callable[[lmdb.Transaction[bytes]], _T]) -> _T:
        """:meth:`_write_once` of one body on an unsynced store; its error is raised."""
        txn = self.env.begin(None, None, True)
        txn_id = txn.id()
        self.counters.begin(txn_id)
        try:
            result = body(txn)
        except BaseException:
            self._abort(txn)
            raise
        txn.commit()  # unsynced: a failed commit flushed nothing, and is simply raised
        self.counters.committed(txn_id)
        return result

    def _refuse_after_failed_flush(self) -> NoReturn:
        raise StorageError(
            f"{self.path}: a flush to disk failed ({self._flush_failure}); the store "
            "takes no more writes until it is opened again"
        )

    def _flush(self) -> None:
        """Flush every commit to disk; if that fails, refuse every later write."""
        try:
            self.env.sync(True)
        except (lmdb.Error, OSError) as error:
            # After a failed flush the OS may drop the pages it could not write and
            # report the next flush clean: nothing written from here on is trusted.
            self._flush_failure = error
            raise

    def _make_durable(self) -> None:
        """Flush what the last commits left unflushed: their meta page (``metasync`` off).

        If the flush fails, the writers it held are told so although their transactions
        are committed and visible: whether those are on disk is unknown (see
        :mod:`burro._group_commit`).
        """
        with self._writer:
            self._flush()

    def _commit(self, tickets: list[Ticket]) -> Ticket | None:
        """Run every body in one transaction and commit it, growing the map as needed.

        If a body of a batch of several raises, everything is rolled back and its ticket
        returned; the lone writer of a batch of one is told its error instead.
        """
        while True:
            try:
                return self._write_once(tickets)
            except lmdb.MapFullError:
                self._grow()
            except lmdb.MapResizedError:
                self._adopt_growth()

    def _write_once(self, tickets: list[Ticket]) -> Ticket | None:
        # begin(db, parent, write) by position: py-lmdb builds a dict for keywords.
        txn = self.env.begin(None, None, True)
        txn_id = txn.id()
        self.counters.begin(txn_id)
        ticket = tickets[0]
        try:
            for ticket in tickets:
                ticket.succeed(ticket.item(txn))
        except _RETRY_BATCH:
            self._abort(txn)
            raise
        except Exception as error:
            self._abort(txn)
            if len(tickets) > 1:
                return ticket
            ticket.fail(error)
            return None
        except BaseException:
            self._abort(txn)
            raise
        try:
            txn.commit()
        except _RETRY_BATCH:
            raise  # nothing was flushed yet: the batch runs again after growing the map
        except (lmdb.Error, OSError) as error:
            if self.synced:
                # The commit's data flush was to carry the previous commit's meta page to
                # disk too: as after a failed make_durable(), nothing is trusted to it now.
                self._flush_failure = error
            raise
        self.counters.committed(txn_id)
        if self.synced:
            # A commit that wrote nothing flushes nothing; and if another process committed
            # since, which of the two flushed is unknown: then make_durable() must.
            self._flushed = self._flushed or self.env.info()["last_txnid"] == txn_id
        return None

    def _abort(self, txn: lmdb.Transaction[bytes]) -> None:
        # py-lmdb's abort of a write transaction waits until no read operation is in
        # flight, which readers in other threads can postpone for ever: hold them back.
        self.counters.rolled_back()
        self._gate.exclusive(txn.abort)

    def _grow(self) -> None:
        size = self.env.info()["map_size"]
        if size >= _MAX_MAP_SIZE:
            raise StorageError(f"{self.path}: the store is full ({size} bytes)")
        with _map_lock(self.path) as length:
            grown = max(size * 2, length)
            try:
                # The file first, so that LMDB's remap only sets the length the file has
                # already: a full disk or a file size limit fails here, with nothing lost.
                _reserve(self.path, grown)
                _check_address_space(self.path, grown, grown - size)
            except StorageError:
                # Back to the length the file had: what others map is still there.
                _cut_back(self.path, max(size, length))
                raise
            self._remap(grown)

    def _adopt_growth(self) -> None:
        """Map what another process grew the store to (the caller holds the writer lock)."""
        with _map_lock(self.path) as length:
            _check_address_space(self.path, length, length - self.env.info()["map_size"])
            self._remap(length)

    def _remap(self, size: int) -> None:
        """Map ``size`` bytes (under the map lock); if LMDB fails, the environment is lost."""
        env = self.env

        def remap() -> None:
            try:
                env.set_mapsize(size)
            except lmdb.Error as error:
                reason = (
                    f"{self.path}: LMDB failed to map the store again ({_explain(error)}); "
                    "this process can no longer use it (what was committed is safe): restart it"
                )
                # Replaced before the gate lets readers in: none reaches the lost one.
                self.env = _Unmapped(env, reason)
                raise StorageError(reason) from error

        self._gate.exclusive(remap)

    def read(self, body: Callable[[lmdb.Transaction[bytes]], _T]) -> _T:
        """Run ``body`` in one read transaction (a consistent snapshot)."""
        while True:
            self._gate.enter()
            try:
                with self.env.begin() as txn:
                    return body(txn)
            except lmdb.MapResizedError:
                pass
            finally:
                self._gate.leave()
            # Another process grew the map beyond ours: adopt its size, then read again.
            with self._writer:
                self._adopt_growth()

    def clear_stale_readers(self) -> int:
        """Free the reader slots of processes that died mid-read; returns how many.

        LMDB frees them only when asked: until then each pins its snapshot, and no page
        freed since can be reused, so the store grows for as long as it stays open.
        """
        self._gate.enter()
        try:
            cleared: int = self.env.reader_check()
            return cleared
        finally:
            self._gate.leave()

    def close(self) -> None:
        """Close the environment once no transaction of this process is open."""
        with self._writer:
            self._gate.exclusive(self.env.close)


class _Registry:
    """The open environments of this process, by resolved data directory."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.environments: dict[str, SharedEnvironment] = {}

    def forget_after_fork(self) -> None:
        # The child inherited the parent's mappings but none of LMDB's locks: any use
        # would corrupt the store, so every inherited environment is marked unusable.
        for shared in self.environments.values():
            shared.forked = True
            shared.runtime_locks.forget_after_fork()
        self.environments = {}
        # A thread of the parent may have held the lock at the fork; it does not exist here.
        self.lock = threading.Lock()


_registry = _Registry()


def open_shared(path: Path, *, fsync: bool, map_size: int) -> SharedEnvironment:
    """The environment of ``path`` for this process, opened (and created) if needed."""
    with _registry.lock:
        directory = _make_directory(path)
        shared = _registry.environments.get(str(directory))
        if shared is not None and isinstance(shared.env, _Unmapped):
            # LMDB still counts the lost environment as open here: it cannot open again.
            raise StorageError(shared.env.reason)
        if shared is None:
            shared = _open_environment(directory, fsync=fsync, map_size=map_size)
            _registry.environments[str(directory)] = shared
        shared.refs += 1
        return shared


def release_shared(shared: SharedEnvironment) -> None:
    """Drop one reference; the last one closes the environment."""
    with _registry.lock:
        shared.refs -= 1
        if shared.refs or shared.forked or isinstance(shared.env, _Unmapped):
            return
        if _registry.environments.get(str(shared.path)) is shared:
            del _registry.environments[str(shared.path)]
        # Still under the lock: LMDB refuses a second open of a directory until then.
        shared.close()


def _make_directory(path: Path) -> Path:
    try:
        path.mkdir(parents=True, exist_ok=True)
        directory = path.resolve(strict=True)
        (directory / "runtimes").mkdir(exist_ok=True)
    except OSError as error:
        raise StorageError(f"{path}: cannot create the data directory: {error}") from error
    try:
        # A real write, not os.access(): root passes permission checks, a read-only
        # mount or a full disk does not, and the error then says which it was.
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        raise StorageError(f"{directory}: the data directory is not writable: {error}") from error
    return directory


def _open_environment(directory: Path, *, fsync: bool, map_size: int) -> SharedEnvironment:
    with _map_lock(directory) as length:
        return _open_locked(directory, fsync=fsync, map_size=max(map_size, length))


def _open_locked(directory: Path, *, fsync: bool, map_size: int) -> SharedEnvironment:
    try:
        env = lmdb.open(
            str(directory),
            map_size=map_size,
            max_dbs=_MAX_DBS,
            max_readers=_MAX_READERS,
            sync=fsync,
            # A commit flushes its data but not the meta page that makes it current; the
            # next commit's flush, or make_durable(), does: see burro._group_commit.
            metasync=False,
            # Commits write through the map instead of copying every dirty page with a
            # system call: about twice as many transactions per second.
            writemap=True,
        )
    except lmdb.Error as error:
        raise StorageError(f"{directory}: cannot open the store: {_explain(error)}") from error
    try:
        _reserve(directory, env.info()["map_size"])
        return SharedEnvironment(directory, env, synced=fsync)
    except lmdb.Error as error:
        env.close()
        raise StorageError(f"{directory}: cannot open the store: {_explain(error)}") from error
    except StorageError:
        env.close()
        raise


@contextmanager
def _map_lock(directory: Path) -> Iterator[int]:
    """Hold the data directory's map lock; yields the data file's length (0 if none yet)."""
    try:
        descriptor = os.open(directory / "map.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as error:
        raise StorageError(f"{directory}: cannot open the map lock: {error}") from error
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            length = (directory / "data.mdb").stat().st_size
        except FileNotFoundError:
            length = 0
        yield length
    finally:
        os.close(descriptor)


def _reserve(directory: Path, size: int) -> None:
    """Back the first ``size`` bytes of the data file with disk blocks.

    With ``writemap`` LMDB writes to the file through shared memory, and the file is
    sparse. A write to a hole on a full disk would kill the process (SIGBUS) instead of
    failing one transaction, so the whole map is allocated up front: a full disk then
    fails the growth, cleanly, before anything is written there.
    """
    try:
        descriptor = os.open(directory / "data.mdb", os.O_RDWR)
        try:
            os.posix_fallocate(descriptor, 0, size)
        finally:
            os.close(descriptor)
    except OSError as error:
        raise StorageError(
            f"{directory}: cannot reserve {size} bytes of disk for the store: {error}"
        ) from error


def _cut_back(directory: Path, length: int) -> None:
    """Give back what a failed reservation took beyond ``length`` (which nobody maps)."""
    # The reservation's error is the one to report: if this fails, space is only wasted.
    with suppress(OSError):
        os.truncate(directory / "data.mdb", length)


def _check_address_space(directory: Path, size: int, extra: int) -> None:
    """Fail cleanly unless ``extra`` more bytes of address space can be mapped.

    LMDB unmaps the old map before it maps the new one, and a failure in between loses
    the environment (see the module): a trial mapping of the difference, inaccessible
    so that it costs no memory, fails first where an address space limit would.
    """
    if extra <= 0:
        return
    try:
        trial = mmap.mmap(-1, extra, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, prot=0)
    except OSError as error:
        message = f"{directory}: cannot map {size} bytes for the store: {error}"
        raise StorageError(message) from error
    trial.close()


def _explain(error: lmdb.Error) -> str:
    message = f"{type(error).__name__}: {error}"
    if "already open" in str(error):
        message += " (a store opened before fork() cannot be opened again in the child)"
    return message


def _open_databases(env: lmdb.Environment) -> Databases:
    with env.begin(write=True) as txn:
        handles = {
            field.name: env.open_db(field.name.encode(), txn=txn) for field in fields(Databases)
        }
        meta = handles["meta"]
        found = txn.get(b"format", db=meta)
        if found is None:
            txn.put(b"format", _FORMAT, db=meta)
        elif found != _FORMAT:
            try:
                upgraded = upgrade(txn, handles["unique"], found)
            except CorruptRecord as error:  # the transaction is aborted: nothing changed
                raise StorageError(
                    f"{env.path()}: cannot upgrade the store from format {found!r}: {error}"
                ) from error
            if not upgraded:
                raise StorageError(
                    f"{env.path()}: the store has format {found!r}, this burro reads {_FORMAT!r}"
                )
            txn.put(b"format", _FORMAT, db=meta)
    return Databases(**handles)


os.register_at_fork(after_in_child=_registry.forget_after_fork)
