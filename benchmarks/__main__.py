"""``python -m benchmarks``: run the scenarios and print burro and Huey side by side."""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback
from pathlib import Path

from rich.console import Console

from benchmarks._measure import progress
from benchmarks._plan import FULL, QUICK, Scenario, Settings
from benchmarks._registry import SCENARIOS, select
from benchmarks._table import Row, markdown, render


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: proves the harness")
    parser.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help="run only this scenario (repeatable, or comma-separated)",
    )
    parser.add_argument("--repeats", type=int, help="repeats per measurement (full: 3)")
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    options = parser.parse_args(argv)
    if options.repeats is not None and options.repeats < 1:
        parser.error("--repeats must be at least 1")
    return options


def scenario_names(only: list[str] | None) -> list[str] | None:
    """``--only`` values, comma-separated ones split."""
    if not only:
        return None
    return [name.strip() for value in only for name in value.split(",") if name.strip()]


def load_average() -> str:
    """The machine's 1-minute load average: other work skews every figure."""
    return f"{os.getloadavg()[0]:.2f}"


def run_all(scenarios: list[Scenario], settings: Settings) -> tuple[list[Row], list[str]]:
    """Run each scenario; a failing one is reported and the others still run."""
    rows: list[Row] = []
    failed: list[str] = []
    for scenario in scenarios:
        progress(f"scenario {scenario.name}: {scenario.title}")
        started = time.perf_counter()
        try:
            rows.extend(scenario.run(settings))
        except Exception:
            traceback.print_exc()
            failed.append(scenario.name)
        progress(f"scenario {scenario.name} took {time.perf_counter() - started:.1f}s")
    return rows, failed


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios; 1 if any of them failed."""
    options = parse(sys.argv[1:] if argv is None else argv)
    if options.list:
        for scenario in SCENARIOS:
            print(f"{scenario.name:16} {scenario.title}")
        return 0
    try:
        scenarios = select(scenario_names(options.only))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    settings = (QUICK if options.quick else FULL).with_repeats(options.repeats)
    load_before = load_average()
    rows, failed = run_all(scenarios, settings)
    mode = "quick" if settings.quick else "full"
    title = f"burro vs Huey ({mode}, {settings.repeats} repeat(s))"
    caption = f"load average (1 min) before: {load_before}, after: {load_average()}"
    render(rows, Console(width=200), title, caption)
    if options.markdown is not None:
        options.markdown.write_text(markdown(rows), encoding="utf-8")
    if failed:
        print(f"failed scenario(s): {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
