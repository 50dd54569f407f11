"""A second process using an LMDB store, driven by the integration tests over pipes.

Run as ``python -m tests.integration.storage._child <command> <data_dir> [argument]``.
Every command prints one JSON line on stdout when it has done its part; commands that
must wait for the test read a line (or end of file) on stdin, so the test never sleeps.

Commands:
    claim <runtime>   print "ready", wait for "go", claim one batch, print "first",
                      wait for "go" again, claim batches until the queue is empty,
                      print the ids claimed.
    unique <runtime>  print "ready", wait for "go", insert one unique job 50 times,
                      print how many inserts created a job.
    hold <runtime>    register the runtime, claim 3 jobs, print their ids, then hold
                      them until stdin closes (the test may SIGKILL it instead).
    fill <count>      insert ``count`` jobs with large arguments, print their ids.
    flood             insert batches until the store refuses one, then print the error,
                      how many jobs were stored and how many a listing finds.
    grow              open with a 1 MiB map, insert until it has grown to 4 MiB, print
                      "grown", wait for "go", insert as much again, print how many.
    read              open a read transaction, print "reading", keep it open until stdin
                      closes (the test SIGKILLs it instead).
    open [map_size]   open the store, print "opened" or the StorageError's message.
    cancel <job id>   ask for the job's cancellation, print its state then.
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import UTC, datetime
from pathlib import Path

from burro.errors import StorageError
from burro.storage import JobFilter, NewJob, RuntimeInfo
from burro.storage.lmdb import DEFAULT_MAP_SIZE, LmdbStorage

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)


def say(value: object) -> None:
    print(json.dumps(value), flush=True)


def wait_for_go() -> None:
    say("ready")
    sys.stdin.readline()


def claim(store: LmdbStorage, runtime: str) -> None:
    wait_for_go()
    claimed = [job.id for job in store.claim("default", 5, runtime, NOW)]
    say("first")
    sys.stdin.readline()
    while batch := store.claim("default", 5, runtime, NOW):
        claimed.extend(job.id for job in batch)
    say(claimed)


def unique(store: LmdbStorage, runtime: str) -> None:
    job = NewJob(
        queue="unique", worker="w", function="f", unique_key=b"same", unique_for_seconds=60
    )
    wait_for_go()
    say(sum(store.insert(job, NOW).created for _ in range(50)))


def hold(store: LmdbStorage, runtime: str) -> None:
    info = RuntimeInfo(id=runtime, pid=os.getpid(), hostname=socket.gethostname(), started_at=NOW)
    store.register_runtime(info)
    say([job.id for job in store.claim("default", 3, runtime, NOW)])
    sys.stdin.read()
    store.unregister_runtime(runtime)


def fill(store: LmdbStorage, count: str) -> None:
    jobs = [
        NewJob(queue="filled", worker="w", function="f", args=("x" * 2000, n))
        for n in range(int(count))
    ]
    say([inserted.id for inserted in store.insert_many(jobs, NOW)])


def flood(store: LmdbStorage, _: str) -> None:
    batch = [NewJob(queue="flood", worker="w", function="f", args=("x" * 2000,))] * 100
    stored = 0
    try:
        while stored < 1_000_000:
            store.insert_many(batch, NOW)
            stored += len(batch)
    except StorageError as error:
        _, total = store.list_jobs(JobFilter(queue="flood"), offset=0, limit=0)
        say({"error": str(error), "stored": stored, "total": total})


def grow(store: LmdbStorage, _: str) -> None:
    batch = [NewJob(queue="grown", worker="w", function="f", args=("x" * 2000,))] * 100
    stored = 0
    while store._shared.env.info()["map_size"] < 4 << 20:
        stored += len(store.insert_many(batch, NOW))
    wait_for_go()
    for _ in range(stored // len(batch)):
        stored += len(store.insert_many(batch, NOW))
    say(stored)


def read(store: LmdbStorage, _: str) -> None:
    with store._shared.env.begin():
        say("reading")
        sys.stdin.read()


def cancel(store: LmdbStorage, task_id: str) -> None:
    outcome = store.cancel(task_id, "from another process", NOW)
    say(None if outcome is None else outcome.job.state.value)


def main(command: str, data_dir: str, argument: str = "") -> None:
    try:
        # A flooded disk is tiny: start with a map it can hold, so the store opens.
        map_size = {"flood": 256 << 10, "grow": 1 << 20}.get(command, DEFAULT_MAP_SIZE)
        if command == "open" and argument:
            map_size = int(argument)
        store = LmdbStorage(Path(data_dir), durability="process", map_size=map_size)
    except StorageError as error:
        say(str(error))
        return
    if command == "open":
        say("opened")
    else:
        commands = {
            "claim": claim,
            "unique": unique,
            "hold": hold,
            "fill": fill,
            "flood": flood,
            "grow": grow,
            "read": read,
            "cancel": cancel,
        }
        commands[command](store, argument)
    store.close()


if __name__ == "__main__":
    main(*sys.argv[1:])
