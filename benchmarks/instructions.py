"""Instructions per job, counted by valgrind: the cost of each side, free of timing noise.

Wall-clock rates on a shared virtual machine drift by tens of percent between runs (and
by twice that between days); the number of instructions a piece of work executes does
not. Each case runs twice under ``valgrind --tool=callgrind`` in a fresh interpreter,
once doing ``jobs`` units of work and once ``2 * jobs``, from the same starting state;
the difference divided by ``jobs`` is the cost of one unit, with start-up, imports and
set-up cancelled out. Threads are counted together (valgrind runs them one at a time).
The hash seed is fixed, so a case on one thread counts the same in every run; the
worker's moves by a per cent or so, as its idle actors wake more or less often.

* ``enqueue_task``: one producer thread, nothing consuming (Huey: the task call);
* ``enqueue_many``: the same jobs stored in calls of 1,000 (Huey has no bulk API);
* ``full_queue_worker``: one worker running no-op jobs from a queue stored beforehand
  (Huey: one thread worker);
* ``storage_insert`` and ``settle_and_claim``: burro's store alone, called in a loop on
  one thread (the producer's and the worker's transaction);
* ``lmdb_floor_insert`` and ``lmdb_floor_settle_and_claim``: the LMDB calls of those two
  transactions alone, without burro (:mod:`benchmarks.lmdb_floor`): the floor under them.

What a run works through (the worker's backlog, the jobs to settle) is stored before
the counted interpreter starts.

Run it (it is not one of the ``python -m benchmarks`` scenarios; needs valgrind)::

    python -m benchmarks.instructions [--jobs 2000] [--only settle_and_claim,...]

"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from rich.console import Console
from rich.table import Table

from benchmarks import lmdb_floor
from benchmarks._measure import ROOT, progress, scratch
from benchmarks._systems import System, burro_system, huey_system
from benchmarks._workloads import wait_for_tally
from benchmarks.bounds import producer_alone
from benchmarks.workers import TALLY, noop
from burro.storage.base import Complete, NewJob
from burro.storage.lmdb import LmdbStorage

__all__ = ["CASES", "Case", "run_case"]

_COLLECTED = re.compile(r"Collected : (\d+)")
_TIMEOUT = 600.0
_QUEUE = "default"


class Case(NamedTuple):
    """One workload, counted in ``run(system, directory, units)``.

    ``prepare(system, directory, units)`` first stores what the run works through, in
    the parent, uncounted: a counted run that stored its own backlog could not be
    stopped at its count (valgrind runs one thread at a time, in long slices).
    """

    name: str
    systems: tuple[str, ...]
    prepare: Callable[[str, Path, int], None]
    run: Callable[[str, Path, int], None]


def _nothing(system: str, directory: Path, units: int) -> None:
    """Nothing to store beforehand."""


def _opener(system: str) -> Callable[..., contextlib.AbstractContextManager[System]]:
    return burro_system if system == "burro" else huey_system


def _producer_options(system: str) -> dict[str, bool]:
    return {"run_queues": False} if system == "burro" else {"consume": False}


def _enqueue(system: str, directory: Path, units: int) -> None:
    with _opener(system)(directory, "process", **_producer_options(system)) as producer:
        producer_alone(producer, units)


def _enqueue_many(system: str, directory: Path, units: int) -> None:
    with _opener(system)(directory, "process", **_producer_options(system)) as producer:
        for first in range(0, units, 1000):
            producer.enqueue_many(noop, [(n,) for n in range(first, min(units, first + 1000))])


def _work(system: str, directory: Path, units: int) -> None:
    TALLY.arm(units)
    with _opener(system)(directory, "process", 1):
        wait_for_tally(_TIMEOUT)


def _new_job(index: int) -> NewJob:
    return NewJob(queue=_QUEUE, worker="benchmarks.workers", function="noop", args=(index,))


@contextlib.contextmanager
def _store(directory: Path) -> Iterator[LmdbStorage]:
    store = LmdbStorage(directory / "store", durability="process")
    try:
        yield store
    finally:
        store.close()


def _store_jobs(system: str, directory: Path, units: int) -> None:
    now = datetime.now(UTC)
    with _store(directory) as store:
        for first in range(0, units + 1, 1000):
            jobs = [_new_job(n) for n in range(first, min(units + 1, first + 1000))]
            store.insert_many(jobs, now)


def _insert(system: str, directory: Path, units: int) -> None:
    with _store(directory) as store:
        for index in range(units):
            store.insert(_new_job(index), datetime.now(UTC))


def _settle_and_claim(system: str, directory: Path, units: int) -> None:
    runtime = "instructions"
    with _store(directory) as store:
        _, claimed = store.settle_and_claim([], {_QUEUE: 1}, runtime, datetime.now(UTC))
        job = claimed[_QUEUE][0]
        for _ in range(units):
            done = Complete(job.id, runtime, job.attempts)
            _, claimed = store.settle_and_claim([done], {_QUEUE: 1}, runtime, datetime.now(UTC))
            job = claimed[_QUEUE][0]


def _floor_pending(system: str, directory: Path, units: int) -> None:
    lmdb_floor.prepare_pending(directory, units)


def _floor_insert(system: str, directory: Path, units: int) -> None:
    lmdb_floor.insert(directory, units)


def _floor_settle_and_claim(system: str, directory: Path, units: int) -> None:
    lmdb_floor.settle_and_claim(directory, units)


CASES = (
    Case("enqueue_task", ("burro", "huey"), _nothing, _enqueue),
    Case("enqueue_many", ("burro",), _nothing, _enqueue_many),
    Case("full_queue_worker", ("burro", "huey"), _enqueue_many, _work),
    Case("storage_insert", ("burro",), _nothing, _insert),
    Case("settle_and_claim", ("burro",), _store_jobs, _settle_and_claim),
    # The same transactions' bare LMDB calls (see benchmarks.lmdb_floor): the floor.
    Case("lmdb_floor_insert", ("burro",), _nothing, _floor_insert),
    Case("lmdb_floor_settle_and_claim", ("burro",), _floor_pending, _floor_settle_and_claim),
)
_BY_NAME = {case.name: case for case in CASES}


def run_case(name: str, system: str, units: int) -> None:
    """Prepare and do ``units`` of case ``name`` on ``system``, uncounted."""
    case = _BY_NAME[name]
    with scratch("instructions") as directory:
        case.prepare(system, directory, units)
        case.run(system, directory, units)


def _counted(name: str, system: str, units: int) -> int:
    """Instructions a fresh interpreter executes doing ``units`` of the case (prepared here)."""
    case = _BY_NAME[name]
    with scratch("instructions") as directory:
        case.prepare(system, directory, units)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            "-m",
            "benchmarks.instructions",
            "--run",
            name,
            system,
            str(units),
            str(directory),
        ]
        # A fixed hash seed: a run on one thread then repeats to the instruction.
        environment = {**os.environ, "PYTHONHASHSEED": "0"}
        completed = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, check=False
        )
    found = _COLLECTED.search(completed.stderr)
    if completed.returncode != 0 or found is None:
        raise RuntimeError(f"{name} ({system}) failed under valgrind:\n{completed.stderr[-2000:]}")
    return int(found.group(1))


def per_unit(name: str, system: str, jobs: int) -> float:
    """Instructions per unit of case ``name``: ``2 * jobs`` units less ``jobs`` units."""
    once = _counted(name, system, jobs)
    twice = _counted(name, system, 2 * jobs)
    return (twice - once) / jobs


def main() -> None:
    """Count every case (or those named) for burro and Huey; print the table."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.instructions", description=__doc__)
    parser.add_argument("--jobs", type=int, default=2000)
    parser.add_argument("--only", help="comma-separated case names")
    parser.add_argument(
        "--run", nargs=4, metavar=("CASE", "SYSTEM", "UNITS", "DIRECTORY"), help=argparse.SUPPRESS
    )
    options = parser.parse_args()
    if options.run:
        name, system, units, directory = options.run
        _BY_NAME[name].run(system, Path(directory), int(units))
        return
    if shutil.which("valgrind") is None:
        sys.exit(
            "python -m benchmarks.instructions needs valgrind (Debian: apt-get install valgrind)"
        )
    names = options.only.split(",") if options.only else [case.name for case in CASES]
    unknown = sorted(set(names) - set(_BY_NAME))
    if unknown:
        sys.exit(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(_BY_NAME)}")
    table = Table(
        title=f"instructions per job (valgrind, {options.jobs:,} and {2 * options.jobs:,} jobs)"
    )
    table.add_column("case")
    table.add_column("burro", justify="right")
    table.add_column("huey", justify="right")
    for name in names:
        counts = {}
        for system in _BY_NAME[name].systems:
            progress(f"instructions: {name}, {system}")
            counts[system] = f"{per_unit(name, system, options.jobs):,.0f}"
        table.add_row(name, counts.get("burro", "n/a"), counts.get("huey", "n/a"))
    Console().print(table)


if __name__ == "__main__":
    main()
