"""The LMDB store under faults: a full map, bad directories, corrupt files and records."""

from __future__ import annotations

import os
import shutil
import threading
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import lmdb
import msgpack
import pytest

from burro.errors import ConfigError, StorageError
from burro.states import TaskState
from burro.storage import JobFilter, NewJob
from burro.storage.lmdb import LmdbStorage
from tests.integration.storage.conftest import Child

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
ALL = JobFilter()


def job(n: int, queue: str = "default", payload: int = 0) -> NewJob:
    return NewJob(queue=queue, worker="w", function="f", args=(n, "x" * payload))


def map_size(store: LmdbStorage) -> int:
    return int(store._shared.env.info()["map_size"])


def allocated_bytes(store_dir: Path) -> int:
    """Disk blocks of the data file (LMDB writes through the map: holes would be fatal)."""
    return (store_dir / "data.mdb").stat().st_blocks * 512


def test_a_new_store_has_disk_blocks_for_its_whole_map(store_dir: Path) -> None:
    store = LmdbStorage(store_dir, durability="process", map_size=1 << 20)
    try:
        assert allocated_bytes(store_dir) >= map_size(store) >= 1 << 20
    finally:
        store.close()


# -- a full map --------------------------------------------------------------------------
def test_a_full_map_grows_and_nothing_is_lost(store_dir: Path) -> None:
    store = LmdbStorage(store_dir, durability="process", map_size=256 << 10)
    initial = map_size(store)
    single = [store.insert(job(n, payload=300), NOW).id for n in range(300)]
    # One transaction bigger than the whole initial map: rolled back, grown, redone.
    batch = [item.id for item in store.insert_many([job(n, payload=300) for n in range(3000)], NOW)]
    claimed = store.claim("default", 1000, "rt", NOW)
    assert map_size(store) >= 8 * initial
    assert allocated_bytes(store_dir) >= map_size(store)  # a full disk fails a growth, not a write
    assert len(set(single + batch)) == 3300
    assert len(claimed) == 1000
    assert store.counts()["default"] == {
        **dict.fromkeys(TaskState, 0),
        TaskState.PENDING: 2300,
        TaskState.RUNNING: 1000,
    }
    store.close()
    reopened = LmdbStorage(store_dir, durability="process", map_size=256 << 10)
    try:
        jobs, total = reopened.list_jobs(ALL, offset=0, limit=5000)
        assert total == 3300
        assert [found.id for found in jobs] == single + batch
        assert reopened.get(batch[-1]).args == (2999, "x" * 300)  # type: ignore[union-attr]
    finally:
        reopened.close()


def test_readers_in_other_threads_survive_the_map_growing(store_dir: Path) -> None:
    """Growing the map replaces it under every open transaction: it waits for readers."""
    store = LmdbStorage(store_dir, durability="process", map_size=256 << 10)
    first = store.insert(job(0), NOW).id
    initial = map_size(store)
    stop = threading.Event()
    failures: list[BaseException] = []
    reads = [0]

    def read_until_stopped() -> None:
        try:
            while not stop.is_set():
                assert store.get(first) is not None
                store.list_jobs(ALL, offset=0, limit=5)
                store.counts()
                reads[0] += 1
        except BaseException as error:
            failures.append(error)

    readers = [threading.Thread(target=read_until_stopped) for _ in range(4)]
    for reader in readers:
        reader.start()
    try:
        for n in range(30):
            store.insert_many([job(n, payload=500) for _ in range(100)], NOW)
    finally:
        stop.set()
        for reader in readers:
            reader.join()
    try:
        assert failures == []
        assert reads[0] > 0
        assert map_size(store) >= 8 * initial
        assert store.counts()["default"][TaskState.PENDING] == 3001
    finally:
        store.close()


# -- directories -------------------------------------------------------------------------
def test_a_missing_directory_is_created(tmp_path: Path) -> None:
    nested = tmp_path / "a" / "b" / "store"
    store = LmdbStorage(nested)
    try:
        store.insert(job(1), NOW)
        assert (nested / "data.mdb").is_file()
    finally:
        store.close()


def test_a_directory_below_a_regular_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("not a directory")
    with pytest.raises(StorageError, match="Not a directory") as raised:
        LmdbStorage(tmp_path / "plain" / "store")
    assert str(tmp_path / "plain" / "store") in str(raised.value)


def test_a_file_where_the_directory_should_be_is_refused(tmp_path: Path) -> None:
    (tmp_path / "store").write_text("in the way")
    with pytest.raises(StorageError, match="File exists") as raised:
        LmdbStorage(tmp_path / "store")
    assert str(tmp_path / "store") in str(raised.value)


def in_private_mount(mount: str) -> tuple[str, ...]:
    """A command prefix running the rest in a private mount namespace after ``mount``
    (a shell command), so the mount vanishes with the process."""
    unshare = shutil.which("unshare")
    if os.geteuid() != 0 or unshare is None:
        pytest.skip("needs root and unshare(1) to mount")
    script = f'{mount} && exec "$@"'
    return (unshare, "--mount", "--propagation", "private", "sh", "-c", script, "-")


def read_only_mount(directory: Path) -> tuple[str, ...]:
    """Run with ``directory`` read-only (as root, file modes alone would not stop a write)."""
    return in_private_mount(
        f"mount --bind {directory} {directory} && mount -o remount,bind,ro {directory}"
    )


@pytest.mark.slow
def test_a_read_only_data_directory_is_refused(
    store_dir: Path, spawn: Callable[..., Child]
) -> None:
    store_dir.mkdir()
    prefix = read_only_mount(store_dir)
    message = spawn("open", str(store_dir), prefix=prefix).read()
    if message == "opened":
        pytest.fail("a store on a read-only mount should not open")
    assert str(store_dir) in message
    assert "Read-only file system" in message


@pytest.mark.slow
def test_an_existing_store_on_a_read_only_mount_is_refused(
    store_dir: Path, spawn: Callable[..., Child]
) -> None:
    LmdbStorage(store_dir).close()
    prefix = read_only_mount(store_dir)
    message = spawn("open", str(store_dir), prefix=prefix).read()
    assert str(store_dir) in message
    assert "Read-only file system" in message or "ReadonlyError" in message


@pytest.mark.slow
def test_a_full_disk_fails_the_batch_cleanly(store_dir: Path, spawn: Callable[..., Child]) -> None:
    """The batch the disk cannot hold is refused whole; every earlier one stays readable."""
    store_dir.mkdir()
    prefix = in_private_mount(f"mount -t tmpfs -o size=2m tmpfs {store_dir}")
    outcome = spawn("flood", str(store_dir), prefix=prefix).read()
    assert str(store_dir) in outcome["error"]
    assert "no space left on device" in outcome["error"].lower()
    assert outcome["stored"] > 0
    assert outcome["total"] == outcome["stored"]


# -- corrupt files and records -----------------------------------------------------------
def test_a_corrupt_data_file_is_refused(store_dir: Path) -> None:
    store_dir.mkdir()
    (store_dir / "data.mdb").write_bytes(os.urandom(64 << 10))
    with pytest.raises(StorageError, match="MDB_INVALID") as raised:
        LmdbStorage(store_dir)
    assert str(store_dir) in str(raised.value)


def overwrite_record(store_dir: Path, job_id: str, value: bytes) -> None:
    """Write ``value`` under a job's key with raw LMDB (no store open in this process)."""
    env = lmdb.open(str(store_dir), max_dbs=32)
    try:
        jobs = env.open_db(b"jobs")
        with env.begin(write=True) as txn:
            txn.put(bytes.fromhex(job_id), value, db=jobs)
    finally:
        env.close()


@pytest.mark.parametrize(
    "garbage",
    [
        pytest.param(b"\xc1\xc1\xc1 not msgpack", id="invalid-msgpack"),
        pytest.param(msgpack.packb([1, 2, 3]), id="wrong-shape"),
        # A 4 GiB string header over a few bytes: must fail fast, not allocate.
        pytest.param(b"\xdb\xff\xff\xff\xff" + b"x" * 16, id="huge-length"),
        pytest.param(b"", id="empty"),
    ],
)
def test_a_corrupt_record_raises_naming_directory_and_key(store_dir: Path, garbage: bytes) -> None:
    store = LmdbStorage(store_dir)
    job_ids = [store.insert(job(n), NOW).id for n in range(3)]
    store.close()
    overwrite_record(store_dir, job_ids[1], garbage)
    store = LmdbStorage(store_dir)
    try:
        assert store.get(job_ids[0]) is not None
        with pytest.raises(StorageError) as raised:
            store.get(job_ids[1])
        assert str(store.path) in str(raised.value)
        assert job_ids[1] in str(raised.value)
        with pytest.raises(StorageError, match=job_ids[1]):
            store.list_jobs(ALL, offset=0, limit=10)
        with pytest.raises(StorageError, match=job_ids[1]):
            store.claim("default", 10, "rt", NOW)
        # The failed claim changed nothing: the healthy job is still pending.
        assert store.get(job_ids[0]).state is TaskState.PENDING  # type: ignore[union-attr]
    finally:
        store.close()


# -- sharing and lifecycle ---------------------------------------------------------------
def test_stores_on_one_directory_share_one_environment(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    first = LmdbStorage(tmp_path / "real")
    second = LmdbStorage(tmp_path / "link" / ".." / "real", durability="process")
    job_id = first.insert(job(1), NOW).id
    assert second.get(job_id) is not None
    assert first._shared is second._shared
    first.close()
    assert second.claim("default", 1, "rt", NOW)[0].id == job_id
    second.close()
    # The last close really closed the environment: raw LMDB may open it again.
    lmdb.open(str(tmp_path / "real"), max_dbs=32).close()


def test_persists_across_close_and_reopen(store_dir: Path) -> None:
    store = LmdbStorage(store_dir)
    kept = store.insert(job(7, queue="kept"), NOW).id
    store.claim("kept", 1, "rt", NOW)
    store.close()
    reopened = LmdbStorage(store_dir)
    try:
        found = reopened.get(kept)
        assert found is not None
        assert (found.state, found.claimed_by, found.args) == (TaskState.RUNNING, "rt", (7, ""))
        assert reopened.insert(job(8, queue="kept"), NOW).id > kept
    finally:
        reopened.close()


def test_a_store_opened_before_fork_refuses_to_work_in_the_child(store_dir: Path) -> None:
    store = LmdbStorage(store_dir)
    try:
        job_id = store.insert(job(1), NOW).id
        with warnings.catch_warnings():
            # Python 3.12+ warns about forking a process that runs threads; this child
            # only checks that the inherited store refuses to work, then exits.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            try:
                store.get(job_id)
            except StorageError as error:
                os._exit(0 if "fork" in str(error) else 2)
            os._exit(1)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
        assert store.get(job_id) is not None
    finally:
        store.close()


def test_an_unknown_durability_is_refused(store_dir: Path) -> None:
    with pytest.raises(ConfigError, match="durability"):
        LmdbStorage(store_dir, durability="sometimes")  # type: ignore[arg-type]


@pytest.mark.parametrize(("durability", "synced"), [("fsync", True), ("process", False)])
def test_durability_maps_to_lmdb_sync(store_dir: Path, durability: str, synced: bool) -> None:
    store = LmdbStorage(store_dir, durability=durability)  # type: ignore[arg-type]
    try:
        assert store._shared.env.flags()["sync"] is synced
    finally:
        store.close()


class _SignallingLock:
    """A lock that sets ``contended`` when a thread has to wait for it."""

    def __init__(self, lock: threading.Lock, contended: threading.Event) -> None:
        self._lock = lock
        self._contended = contended

    def __enter__(self) -> None:
        if not self._lock.acquire(blocking=False):
            self._contended.set()
            self._lock.acquire()

    def __exit__(self, *exc_info: object) -> None:
        self._lock.release()


def test_a_store_opened_while_the_last_one_closes_opens(
    store_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Opening and closing stores from several threads (a producer per request) is safe."""
    from burro.storage import _lmdb_env

    closing = LmdbStorage(store_dir)
    job_id = closing.insert(job(1), NOW).id
    opened: list[LmdbStorage] = []
    failed: list[BaseException] = []
    # Set once the opener waits for the closing store, or once its attempt is over.
    waiting_or_tried = threading.Event()

    def open_another() -> None:
        try:
            opened.append(LmdbStorage(store_dir))
        except BaseException as error:
            failed.append(error)
        finally:
            waiting_or_tried.set()

    real_close = _lmdb_env.SharedEnvironment.close

    def close_while_another_opens(shared: _lmdb_env.SharedEnvironment) -> None:
        opener.start()
        assert waiting_or_tried.wait(10)
        real_close(shared)

    monkeypatch.setattr(
        _lmdb_env._registry, "lock", _SignallingLock(_lmdb_env._registry.lock, waiting_or_tried)
    )

    opener = threading.Thread(target=open_another)
    monkeypatch.setattr(_lmdb_env.SharedEnvironment, "close", close_while_another_opens)
    closing.close()
    monkeypatch.setattr(_lmdb_env.SharedEnvironment, "close", real_close)
    opener.join(timeout=10)
    assert failed == []
    (store,) = opened
    try:
        assert store.get(job_id) is not None
    finally:
        store.close()
