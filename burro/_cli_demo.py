"""``burro demo``: the README's first command."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import click

from burro._cli_support import CliError, NotFoundError, stdout_console


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="A new or empty directory for the store and the outbox (default: a temp dir).",
)
@click.option("--verbose", "-v", is_flag=True, help="Print a line per lifecycle event.")
@click.option("--trace", is_flag=True, help="Print the run's spans (needs opentelemetry-sdk).")
def demo(data_dir: Path | None, verbose: bool, trace: bool) -> None:
    """Watch burro run a shop's jobs: emails, videos, retries, DLQ.

    Runs on a fresh LMDB store (a temporary directory unless --data-dir is given) and
    leaves it there, with the outbox of .eml files, for the other commands to explore.
    """
    from burro.demo import run_demo

    if trace and importlib.util.find_spec("opentelemetry.sdk") is None:
        raise CliError("--trace needs opentelemetry-sdk: pip install opentelemetry-sdk")
    try:
        report = run_demo(stdout_console(), data_dir=data_dir, verbose=verbose, trace=trace)
    except FileExistsError as exc:
        raise CliError(str(exc)) from None
    if not report.ok:
        raise NotFoundError("the demo did not go as expected (see above)")
