"""A process whose LMDB map cannot grow, driven by ``test_lmdb_failed_growth``.

Run as ``python -m tests.integration.storage._failed_growth <limit> <data_dir>``, where
``<limit>`` names how the growth fails:

    file-size         RLIMIT_FSIZE: the data file cannot take the grown map's length.
    address-space     RLIMIT_AS: the grown map does not fit in the address space.
    remap-file-size   as file-size, with the store's reservation of the file switched
                      off, so that LMDB's own remap is what fails.
    remap-address-space
                      as address-space, with the store's trial mapping switched off.

The child inserts small jobs, then batches until one is refused, lifts the limit, tries
a read, a write and a second open, closes the store and prints one JSON line: the error,
the ids it committed, the data file's length after the failure and what each later step
did. It then exits normally: a crash on
closing (or on freeing the environment at exit) shows in its exit status.
"""

from __future__ import annotations

import json
import mmap
import resource
import signal
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from burro.errors import StorageError
from burro.storage import JobFilter, NewJob
from burro.storage import _lmdb_env as lmdb_env
from burro.storage.lmdb import LmdbStorage

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
MAP_SIZE = 16 << 20
#: Over the initial map, below the doubled one: the first growth fails.
FILE_LIMIT = MAP_SIZE + (4 << 20)
#: Address space left beyond what the process maps already: less than a doubled map.
ADDRESS_SPACE_LEFT = 8 << 20


def mapped_bytes() -> int:
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith("VmSize:"))
    return int(line.split()[1]) * 1024


def set_limit(limit: str) -> None:
    if limit.endswith("file-size"):
        # Ignored as a shell's `ulimit -f` user would: the write fails with EFBIG instead.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_LIMIT, resource.RLIM_INFINITY))
    else:
        room = mapped_bytes() + ADDRESS_SPACE_LEFT
        resource.setrlimit(resource.RLIMIT_AS, (room, resource.RLIM_INFINITY))


def lift_limit(limit: str) -> None:
    unlimited = (resource.RLIM_INFINITY, resource.RLIM_INFINITY)
    which = resource.RLIMIT_FSIZE if limit.endswith("file-size") else resource.RLIMIT_AS
    resource.setrlimit(which, unlimited)


def switch_guard_off(limit: str) -> None:
    """Leave LMDB's remap to fail, as it would if the store's own guard missed a case."""
    if limit == "remap-file-size":
        lmdb_env._reserve = lambda directory, size: None
    elif limit == "remap-address-space":
        lmdb_env._check_address_space = lambda directory, size, extra: None


def outcome(step: Callable[[], object]) -> str:
    """What ``step`` returned, or the StorageError it raised."""
    try:
        result = step()
    except StorageError as error:
        return f"StorageError: {error}"
    return f"ok: {result}"


def main(limit: str, data_dir: str) -> None:
    store = LmdbStorage(Path(data_dir), durability="process", map_size=MAP_SIZE)
    small = [NewJob(queue="small", worker="w", function="f", args=(n,)) for n in range(10)]
    committed = [inserted.id for inserted in store.insert_many(small, NOW)]
    switch_guard_off(limit)
    set_limit(limit)
    error = None
    try:
        for batch_number in range(1000):
            batch = [
                NewJob(queue="big", worker="w", function="f", args=(batch_number, "x" * 20_000))
                for _ in range(10)
            ]
            committed.extend(inserted.id for inserted in store.insert_many(batch, NOW))
    except StorageError as raised:
        error = str(raised)
    file_length = (Path(data_dir) / "data.mdb").stat().st_size
    lift_limit(limit)
    # Memory mapped now may take the addresses of the map LMDB gave up: if anything
    # unmapped that range later, touching these would crash.
    fillers = [mmap.mmap(-1, 1 << 20) for _ in range(64)]
    for filler in fillers:
        filler[0] = 1
    first = committed[0]
    read = outcome(lambda: getattr(store.get(first), "state", None))
    listed = outcome(lambda: store.list_jobs(JobFilter(), offset=0, limit=0)[1])
    write = outcome(lambda: store.insert(NewJob(queue="small", worker="w", function="f"), NOW).id)
    if write.startswith("ok: "):
        committed.append(write.removeprefix("ok: "))
    reopen = outcome(lambda: LmdbStorage(Path(data_dir), durability="process").close())
    report = {
        "error": error,
        "committed": committed,
        "file_length": file_length,
        "read": read,
        "listed": listed,
        "write": write,
        "reopen": reopen,
    }
    store.close()
    for filler in fillers:
        filler[0] = 2
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:])
