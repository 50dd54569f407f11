"""LMDB group commit: concurrent writers share one transaction, each rolled back alone."""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import pytest

from burro._group_commit import Ticket
from burro.clock import utcnow
from burro.errors import InvalidTaskError, StorageError
from burro.states import TaskState
from burro.storage import NewJob, open_storage
from burro.storage.lmdb import LmdbStorage
from tests.unit.test_group_commit import wait_for_queued


@pytest.fixture
def storage(tmp_path: Path) -> Any:
    store = open_storage("lmdb", tmp_path, durability="fsync")
    yield store
    store.close()


def _job(args: tuple[Any, ...]) -> NewJob:
    return NewJob(queue="default", worker="w", function="f", args=args)


def test_concurrent_inserts_commit_together_and_a_bad_one_fails_alone(
    storage: LmdbStorage,
) -> None:
    shared = storage._shared
    release = threading.Event()
    commits: list[int] = []
    real_write_once = shared._write_once

    def counting_write_once(tickets: list[Any]) -> Any:
        commits.append(len(tickets))
        return real_write_once(tickets)

    shared._write_once = counting_write_once  # type: ignore[method-assign]
    holder = threading.Thread(
        target=shared.write, args=(lambda txn: release.wait(10),), kwargs={"fsync": True}
    )
    holder.start()
    outcomes: dict[str, Any] = {}

    def insert(name: str, args: tuple[Any, ...]) -> None:
        try:
            outcomes[name] = storage.insert(_job(args), utcnow()).id
        except InvalidTaskError as error:
            outcomes[name] = error

    writers = [threading.Thread(target=insert, args=(f"good{i}", (i,))) for i in range(4)] + [
        threading.Thread(target=insert, args=("bad", (object(),)))
    ]
    for writer in writers:
        writer.start()
    wait_for_queued(shared._group, 5)
    release.set()
    for thread in [holder, *writers]:
        thread.join(10)
    # The five writers shared one transaction; the bad one's error rolled it back, the
    # bad one then failed alone and the four good ones committed together.
    assert commits == [1, 5, 1, 4]
    assert isinstance(outcomes.pop("bad"), InvalidTaskError)
    assert all(storage.get(job_id) is not None for job_id in outcomes.values())
    assert storage.counts()["default"][TaskState.PENDING] == 4


def test_an_fsync_write_returns_once_its_commit_is_made_durable(storage: LmdbStorage) -> None:
    shared = storage._shared
    flushes: list[bool] = []
    real_make_durable = shared._group._make_durable
    assert real_make_durable is not None  # fsync: commits leave their meta page to a flush

    def recording_make_durable() -> None:
        real_make_durable()
        flushes.append(True)

    shared._group._make_durable = recording_make_durable
    storage.insert(_job((1,)), utcnow())
    assert flushes == [True]  # the lone write waited for the flush of its meta page


def test_only_a_commit_that_wrote_counts_as_a_flush(storage: LmdbStorage) -> None:
    shared = storage._shared
    assert shared._commit_batch([Ticket(lambda txn: txn.put(b"k", b"v"))]) is True
    assert shared._commit_batch([Ticket(lambda txn: txn.get(b"k"))]) is False


def test_a_process_store_neither_holds_nor_flushes(tmp_path: Path) -> None:
    store = open_storage("lmdb", tmp_path, durability="process")
    try:
        assert store._shared._group._make_durable is None
        assert store.insert(_job((1,)), utcnow()).created
    finally:
        store.close()


@contextlib.contextmanager
def _environment(store: LmdbStorage, fake: Any) -> Iterator[None]:
    """``store`` writes through ``fake`` (a wrapper of its LMDB environment) meanwhile."""
    shared = store._shared
    real_env, shared.env = shared.env, fake
    try:
        yield
    finally:
        shared.env = real_env


class _Wrapped:
    """An LMDB environment or transaction, passed through but for what a subclass defines."""

    def __init__(self, wrapped: Any) -> None:
        self._wrapped = wrapped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class _FailingSync(_Wrapped):
    """An LMDB environment whose explicit flushes fail (a disk that reports EIO)."""

    def sync(self, force: bool = False) -> None:
        raise lmdb.Error("mdb_env_sync: Input/output error")


def test_a_failed_flush_fails_the_write_and_every_later_one(storage: LmdbStorage) -> None:
    with (
        _environment(storage, _FailingSync(storage._shared.env)),
        pytest.raises(StorageError, match="Input/output error"),
    ):
        storage.insert(_job((1,)), utcnow())
    # The disk may have dropped what it could not write: nothing later is trusted to it.
    with pytest.raises(StorageError, match="a flush to disk failed"):
        storage.insert(_job((2,)), utcnow())


def test_a_failed_flush_of_an_fsync_write_to_a_process_store_refuses_later_writes(
    tmp_path: Path,
) -> None:
    """On a store first opened without flushes, a write asking for one flushes after it."""
    first = LmdbStorage(tmp_path, durability="process")
    second = LmdbStorage(tmp_path, durability="fsync")
    try:
        with _environment(first, _FailingSync(first._shared.env)):
            with pytest.raises(StorageError, match="Input/output error"):
                second.insert(_job((1,)), utcnow())
            for store in (first, second):
                with pytest.raises(StorageError, match="a flush to disk failed"):
                    store.insert(_job((2,)), utcnow())
    finally:
        second.close()
        first.close()


class _CommitFailingTxn(_Wrapped):
    """A write transaction whose commit fails to flush: LMDB rolls it back and raises."""

    def commit(self) -> None:
        self._wrapped.abort()
        raise lmdb.Error("mdb_txn_commit: Input/output error")


class _FailingCommit(_Wrapped):
    """An LMDB environment whose next write transaction, once armed, fails its commit."""

    def __init__(self, env: Any, *, armed: bool = True) -> None:
        super().__init__(env)
        self.armed = armed

    def begin(self, db: Any = None, parent: Any = None, write: bool = False) -> Any:
        txn = self._wrapped.begin(db, parent, write)
        if write and self.armed:
            self.armed = False
            return _CommitFailingTxn(txn)
        return txn


def test_a_commit_whose_flush_fails_refuses_every_later_write_until_reopened(
    tmp_path: Path,
) -> None:
    store = LmdbStorage(tmp_path, durability="fsync")
    try:
        with _environment(store, _FailingCommit(store._shared.env)):
            with pytest.raises(StorageError, match="Input/output error"):
                store.insert(_job((1,)), utcnow())
            for args in [(2,), (3,)]:
                with pytest.raises(StorageError, match="a flush to disk failed"):
                    store.insert(_job(args), utcnow())
    finally:
        store.close()
    reopened = LmdbStorage(tmp_path, durability="fsync")
    try:
        assert reopened.insert(_job((4,)), utcnow()).created
    finally:
        reopened.close()


def test_a_commit_whose_flush_fails_fails_the_writer_held_for_it(storage: LmdbStorage) -> None:
    shared = storage._shared
    failing = _FailingCommit(shared.env, armed=False)
    entered, release = threading.Event(), threading.Event()
    held: list[BaseException] = []

    def put_a(txn: lmdb.Transaction[bytes]) -> None:
        entered.set()
        assert release.wait(10)
        txn.put(b"a", b"1")

    def write_held() -> None:
        # Committed while the insert waits: held until the insert's commit flushes it.
        try:
            shared.write(put_a, fsync=True)
        except lmdb.Error as error:
            held.append(error)

    first = threading.Thread(target=write_held)
    outcome: list[BaseException] = []

    def insert_next() -> None:
        try:
            storage.insert(_job((1,)), utcnow())
        except StorageError as error:
            outcome.append(error)

    with _environment(storage, failing):
        first.start()
        assert entered.wait(10)
        second = threading.Thread(target=insert_next)
        second.start()
        wait_for_queued(shared._group, 1)
        failing.armed = True  # for the insert's transaction, begun after a's commit
        release.set()
        first.join(10)
        second.join(10)
    assert [str(error) for error in held] == ["mdb_txn_commit: Input/output error"]
    assert len(outcome) == 1


class _RecordingSync(_Wrapped):
    """An LMDB environment that notes the last committed transaction at each flush."""

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        self.flushed_up_to: list[int] = []

    def sync(self, force: bool = False) -> None:
        self._wrapped.sync(force)
        self.flushed_up_to.append(self._wrapped.info()["last_txnid"])


def test_an_fsync_write_to_a_store_first_opened_without_flushes_is_flushed(
    tmp_path: Path,
) -> None:
    """The flush follows the fsync writer's own commit, whatever commits next to it."""
    first = LmdbStorage(tmp_path, durability="process")
    second = LmdbStorage(tmp_path, durability="fsync")
    shared = first._shared
    assert second._shared is shared and not shared.synced
    entered, release = threading.Event(), threading.Event()
    recording = _RecordingSync(shared.env)
    committed: list[int] = []

    def durable_write(txn: lmdb.Transaction[bytes]) -> None:
        txn.put(b"durable", b"1")
        committed.append(txn.id())

    def hold(txn: lmdb.Transaction[bytes]) -> None:
        entered.set()
        release.wait(10)

    holder = threading.Thread(target=shared.write, args=(hold,), kwargs={"fsync": False})
    writer = threading.Thread(target=shared.write, args=(durable_write,), kwargs={"fsync": True})
    try:
        with _environment(first, recording):
            holder.start()
            assert entered.wait(10)
            writer.start()
            wait_for_queued(shared._group, 1)  # behind the open transaction
            release.set()
            holder.join(10)
            writer.join(10)
        assert committed
        assert recording.flushed_up_to
        assert max(recording.flushed_up_to) >= committed[-1]
    finally:
        release.set()
        for thread in (holder, writer):
            if thread.ident is not None:  # started
                thread.join(10)
        second.close()
        first.close()


@pytest.mark.parametrize("durability", ["process", "fsync"])
def test_a_writer_that_loops_lets_another_writer_in_at_once(
    tmp_path: Path, durability: str
) -> None:
    """Writers take their turns in the order they came (the clean-up deletes in a loop)."""
    store = LmdbStorage(tmp_path, durability=durability)  # type: ignore[arg-type]
    shared = store._shared
    stop, looping = threading.Event(), threading.Event()
    written = [0]

    def batch(txn: lmdb.Transaction[bytes]) -> None:
        for n in range(200):  # each put lets go of the GIL: others run meanwhile
            txn.put(b"loop%d" % n, b"x")

    def loop() -> None:
        while not stop.is_set() and written[0] < 5_000:
            shared.write(batch, fsync=False)
            written[0] += 1
            looping.set()

    seen: list[int] = []  # the looper's count when the other writer's body ran

    def other(txn: lmdb.Transaction[bytes]) -> None:
        seen.append(written[0])  # read in the commit: no race with the looper after it
        txn.put(b"other", b"y")

    looper = threading.Thread(target=loop)
    looper.start()
    # A collection in this thread between reading the count and queueing would let the
    # looper write on meanwhile, through no fault of the turn order.
    gc.disable()
    try:
        assert looping.wait(10)
        for _ in range(50):
            before = written[0]
            seen.clear()
            shared.write(other, fsync=False)
            # Behind the looper's write in flight, if any, and ahead of its next one.
            assert seen[0] - before <= 1
    finally:
        gc.enable()
        stop.set()
        looper.join(10)
        store.close()
