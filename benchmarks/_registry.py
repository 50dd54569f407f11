"""Every scenario, numbered in the order the results table lists them."""

from __future__ import annotations

from benchmarks import (
    bulk_insert,
    cleanup_pause,
    cold_start,
    end_to_end,
    group_commit,
    instrumentation,
    latency,
    stored_jobs,
)
from benchmarks._plan import Scenario

__all__ = ["SCENARIOS", "select"]

SCENARIOS: tuple[Scenario, ...] = (
    end_to_end.SCENARIO,
    bulk_insert.SCENARIO,
    group_commit.SCENARIO,
    latency.SCENARIO,
    stored_jobs.SCENARIO,
    cold_start.SCENARIO,
    cleanup_pause.SCENARIO,
    instrumentation.SCENARIO,
)


def select(names: list[str] | None) -> list[Scenario]:
    """The scenarios named (all of them for ``None``); ValueError on an unknown name."""
    if not names:
        return list(SCENARIOS)
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown scenario(s) {unknown}; expected some of {sorted(known)}")
    return [known[name] for name in names]
