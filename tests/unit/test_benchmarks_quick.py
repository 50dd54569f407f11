"""The benchmark harness's own logic, and one tiny run of each system (no timing checks)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import lmdb
import pytest
from rich.console import Console

from benchmarks import bounds, end_to_end, instructions, lmdb_floor
from benchmarks.__main__ import main, scenario_names
from benchmarks._measure import Stats, percentile
from benchmarks._registry import SCENARIOS, select
from benchmarks._table import Row, Target, markdown
from benchmarks.cleanup_pause import longest_gap
from benchmarks.hotspots import Profile, function_of, stacks, thread_kind


def test_stats_summarise_the_repeats() -> None:
    stats = Stats.of([3.0, 1.0, 2.0])
    assert (stats.min, stats.median, stats.max) == (1.0, 2.0, 3.0)


def test_stats_need_a_value() -> None:
    with pytest.raises(ValueError, match="no values"):
        Stats.of([])


@pytest.mark.parametrize(
    ("q", "expected"),
    [(50, 50.0), (99, 99.0), (100, 100.0), (0, 1.0), (1, 1.0)],
)
def test_percentile_is_nearest_rank(q: float, expected: float) -> None:
    assert percentile([float(v) for v in range(100, 0, -1)], q) == expected


def test_longest_gap_counts_the_window_edges() -> None:
    assert longest_gap([1.0, 1.5, 4.0], 0.0, 5.0) == 2.5
    assert longest_gap([], 2.0, 3.0) == 1.0
    assert longest_gap([0.5, 10.0], 1.0, 2.0) == 1.0


def test_ratio_says_how_much_better_burro_is() -> None:
    faster = Row("s", "c", "m", "/s", Stats.of([20.0]), Stats.of([10.0]))
    quicker = Row("s", "c", "m", "ms", Stats.of([1.0]), Stats.of([4.0]), higher_is_better=False)
    alone = Row("s", "c", "m", "ms", Stats.of([1.0]))
    assert faster.ratio == 2.0
    assert quicker.ratio == 4.0
    assert alone.ratio is None


def test_targets_check_the_median_or_the_worst_repeat() -> None:
    row = Row("s", "c", "m", "ms", Stats.of([50.0, 60.0, 150.0]), Stats.of([10.0]))
    assert Target("at_most", 100, "median").met(row) is True
    assert Target("at_most", 100, "worst", worst=True).met(row) is False
    assert Target("at_least", 5, "x Huey").met(row) is True
    assert Target("at_least", 1, "unknown").met(Row("s", "c", "m", "", None)) is None


def test_markdown_has_one_line_per_row() -> None:
    rows = [Row("1 e2e", "process", "jobs/s", "/s", Stats.of([1.0]), None, note="n")]
    lines = markdown(rows).splitlines()
    assert len(lines) == 3
    assert "n/a" in lines[2]


def test_every_scenario_is_selectable_by_name() -> None:
    names = [scenario.name for scenario in SCENARIOS]
    assert len(set(names)) == 8
    assert select(scenario_names([",".join(names[:2])])) == list(SCENARIOS[:2])
    with pytest.raises(ValueError, match="unknown scenario"):
        select(["nope"])


def test_list_exits_cleanly(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    assert "end_to_end" in capsys.readouterr().out


@pytest.mark.parametrize("measure", [end_to_end.burro_rate, end_to_end.huey_rate])
def test_both_systems_run_the_same_workload(measure: end_to_end.RateFunction) -> None:
    assert measure("process", 2, 20, 30.0) > 0


def test_a_profile_is_tallied_by_function_and_thread() -> None:
    profile = Profile()
    lines = [
        "thread (0x1): WorkerActor-3 (urn:uuid:1);run (a.py:1);claim (b.py:2) 3",
        "thread (0x2): MainThread;run (a.py:5);claim (b.py:9);pack (c.py:1) 2",
    ]
    for frames, count in stacks(lines):
        profile.add(frames, count)
    assert profile.samples == 5
    assert profile.threads == {"WorkerActor-N": 3, "MainThread": 2}
    assert profile.own == {"claim (b.py)": 3, "pack (c.py)": 2}
    assert profile.total["run (a.py)"] == 5
    assert function_of("f (x.py:12)") == "f (x.py)"
    assert thread_kind("thread (0x9): Thread-12") == "Thread-N"


@pytest.mark.parametrize("name", ["burro", "huey"])
@pytest.mark.parametrize("what", ["producer alone", "workers alone", "end to end"])
def test_each_bound_is_measured_for_both_systems(name: str, what: str) -> None:
    found = bounds.measure(name, what, jobs=20, concurrency=2)
    assert found["jobs/s"] > 0
    # Running jobs costs CPU on the side that runs them: the producer, or the workers.
    side = "others µs/job" if what == "workers alone" else "producer µs/job"
    assert found[side] > 0
    assert found["switches/job"] >= 0


def test_the_cpu_meter_splits_the_callers_time_from_other_threads() -> None:
    def spin(seconds: float) -> None:
        end = time.thread_time() + seconds
        while time.thread_time() < end:
            pass

    with bounds.CpuMeter() as meter:
        spin(0.05)
        helper = threading.Thread(target=spin, args=(0.1,))
        helper.start()
        helper.join(timeout=10)
    per_job = meter.per_job(10)
    assert 4_000 <= per_job["producer µs/job"] < 9_000  # 0.05 s over 10 jobs
    assert 9_000 <= per_job["others µs/job"] < 20_000  # the helper's 0.1 s
    assert per_job["switches/job"] >= 0.1  # at least the join waited once


def test_the_cpu_table_shows_each_side_and_their_sum() -> None:
    usage = {
        (name, what): {"producer µs/job": 10.0, "others µs/job": 30.0, "switches/job": 1.5}
        for name in ("burro", "huey")
        for what in bounds._MEASURES
    }
    console = Console(record=True, width=200)
    console.print(bounds.cpu_table(usage))
    text = console.export_text()
    assert "10.0 + 30.0 = 40.0" in text
    assert "1.50" in text


def test_the_bounds_table_adds_what_both_sides_alone_would_give() -> None:
    results = {(name, what): 100.0 for name in ("burro", "huey") for what in bounds._MEASURES}
    console = Console(record=True, width=200)
    console.print(bounds.table(results, 20, 1))
    text = console.export_text()
    assert "end to end, one CPU" in text
    assert "50" in text.splitlines()[-2]  # 1 / (1/100 + 1/100)


@pytest.mark.parametrize(
    ("case", "system"),
    [(case.name, system) for case in instructions.CASES for system in case.systems],
)
def test_every_instruction_count_case_runs_its_workload(case: str, system: str) -> None:
    instructions.run_case(case, system, units=20)


def test_instructions_per_job_cancel_out_what_both_runs_share(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []

    def counted(name: str, system: str, units: int) -> int:
        seen.append(units)
        return 5_000_000 + 300 * units  # start-up, then 300 per job

    monkeypatch.setattr(instructions, "_counted", counted)
    assert instructions.per_unit("settle_and_claim", "burro", 100) == 300
    assert seen == [100, 200]


def _keys(directory: Path) -> dict[bytes, list[bytes]]:
    env = lmdb.open(str(directory / "floor"), max_dbs=8, readonly=True, lock=False)
    try:
        with env.begin() as txn:
            return {
                name: list(txn.cursor(db=env.open_db(name, txn=txn)).iternext(values=False))
                for name in (b"ready", b"claims", b"by_state", b"by_time", b"jobs")
            }
    finally:
        env.close()


def test_the_lmdb_floor_moves_jobs_as_the_store_does(tmp_path: Path) -> None:
    """The floor's transactions leave the entries burro's own would."""
    lmdb_floor.prepare_pending(tmp_path, 10)
    lmdb_floor.settle_and_claim(tmp_path, 10)
    moved = _keys(tmp_path)
    assert len(moved[b"jobs"]) == 11
    assert len(moved[b"claims"]) == 1  # the job claimed last, still running
    assert len(moved[b"ready"]) == 1  # the first job's: it was settled, never claimed
    assert [key[0] for key in moved[b"by_state"]].count(4) == 10  # completed
    lmdb_floor.insert(tmp_path / "inserts", 5)
    inserted = _keys(tmp_path / "inserts")
    assert [len(inserted[name]) for name in (b"jobs", b"by_state", b"by_time", b"ready")] == [5] * 4
