"""The ``burro`` command: run a runtime, look inside its store, operate on its tasks.

``burro demo`` shows what burro does; ``burro run --app myapp.workers`` runs an app's
queues; ``status``, ``list``, ``stats``, ``dlq`` and ``cron list`` inspect a data
directory (safely, while a runtime uses it); ``enqueue``, ``cancel``, ``retry``,
``cleanup`` and ``cron cancel`` act on it. Every command takes ``--data-dir`` and
``--config``, and ``--json`` for scripts. Exit codes: 0 ok, 1 not found, 2 bad input,
3 storage error.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

from burro import __version__
from burro._cli_demo import demo
from burro._cli_inspect import cron_list, dlq, list_tasks, stats, status
from burro._cli_operate import cancel, cleanup, cron_cancel, enqueue, retry
from burro._cli_run import run
from burro._cli_support import BurroGroup

__all__ = ["cli", "main"]


@click.group(cls=BurroGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="burro")
def cli() -> None:
    """burro: an embedded, supervised background-task runtime."""


@cli.group(cls=BurroGroup)
def cron() -> None:
    """Recurring tasks: list them, cancel one."""


for command in (demo, run, status, list_tasks, stats, dlq, enqueue, cancel, retry, cleanup):
    cli.add_command(command)
cron.add_command(cron_list)
cron.add_command(cron_cancel)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``burro`` console script and of ``python -m burro``."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="burro")
