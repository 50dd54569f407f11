"""What every ``burro`` command shares: store options, opening the store, errors, output.

Exit codes are a contract for scripts: 0 ok, 1 not found, 2 bad input, 3 storage error.
Every expected failure is one line on stderr, never a traceback.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console

from burro import errors
from burro.config import Config, load_config
from burro.facade.manager import BackgroundTaskManager

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_NOT_FOUND",
    "EXIT_OK",
    "EXIT_STORAGE",
    "BurroGroup",
    "CliError",
    "NotFoundError",
    "StoreError",
    "StoreOptions",
    "add_working_directory",
    "emit_json",
    "load_settings",
    "location_options",
    "open_store",
    "stdout_console",
    "store_options",
    "to_json",
]

EXIT_OK = 0
EXIT_NOT_FOUND = 1
EXIT_BAD_INPUT = 2
EXIT_STORAGE = 3

#: LMDB keeps its data in this file; a directory without it holds no burro store.
_LMDB_DATA_FILE = "data.mdb"

F = TypeVar("F", bound=Callable[..., Any])


class CliError(click.ClickException):
    """Bad input: printed as one ``Error: ...`` line, exit code 2."""

    exit_code = EXIT_BAD_INPUT


class NotFoundError(CliError):
    """A task or recurring task that does not exist: exit code 1."""

    exit_code = EXIT_NOT_FOUND


class StoreError(CliError):
    """The store could not be read or written: exit code 3."""

    exit_code = EXIT_STORAGE


#: Which one-line error each of burro's exceptions becomes; the first match wins.
_ERROR_CLASSES: tuple[
    tuple[type[BaseException] | tuple[type[BaseException], ...], type[CliError]], ...
] = (
    (errors.TaskNotFound, NotFoundError),
    ((errors.InvalidTaskError, errors.ConfigError), CliError),
    ((errors.StorageError, errors.RuntimeNotRunning, errors.BurroError, OSError), StoreError),
)


def _as_cli_error(exc: BaseException) -> CliError | None:
    """The one-line error (and exit code) for an exception a command may raise."""
    if isinstance(exc, CliError):
        return exc
    if isinstance(exc, click.UsageError):
        return _usage_error(exc)
    for matched, error_class in _ERROR_CLASSES:
        if isinstance(exc, matched):
            prefix = "storage: " if error_class is StoreError else ""
            return error_class(f"{prefix}{_first_line(exc)}")
    return None


def _usage_error(exc: click.UsageError) -> CliError:
    hint = f" (see '{exc.ctx.command_path} --help')" if exc.ctx is not None else ""
    return CliError(f"{exc.format_message()}{hint}")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]


class BurroGroup(click.Group):
    """A command group that turns burro's exceptions and usage errors into one-line errors."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse the group's own options; usage errors become one line."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            raise _usage_error(exc) from None

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand; expected failures become one line and an exit code."""
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            error = _as_cli_error(exc)
            if error is None or error is exc:
                raise
            raise error from None


@dataclass(frozen=True, slots=True)
class StoreOptions:
    """The options every command takes: where the store is, and how to print."""

    data_dir: Path | None
    config: Path | None
    json: bool


_DATA_DIR_OPTION = click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="The data directory (default: the config's data_dir, BURRO_DATA_DIR, ./burro_data).",
)
_CONFIG_OPTION = click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="A TOML file with a [burro] table (default: BURRO_CONFIG, if set).",
)
_JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


def store_options(command: F) -> F:
    """Add ``--data-dir``, ``--config`` and ``--json``, passed as one ``store`` argument."""

    @_DATA_DIR_OPTION
    @_CONFIG_OPTION
    @_JSON_OPTION
    @functools.wraps(command)
    def wrapper(
        *args: Any, data_dir: Path | None, config_path: Path | None, as_json: bool, **kwargs: Any
    ) -> Any:
        return command(*args, store=StoreOptions(data_dir, config_path, as_json), **kwargs)

    return wrapper  # type: ignore[return-value]


def location_options(command: F) -> F:
    """Add ``--data-dir`` and ``--config`` (no ``--json``), passed as one ``store`` argument."""

    @_DATA_DIR_OPTION
    @_CONFIG_OPTION
    @functools.wraps(command)
    def wrapper(*args: Any, data_dir: Path | None, config_path: Path | None, **kwargs: Any) -> Any:
        return command(*args, store=StoreOptions(data_dir, config_path, False), **kwargs)

    return wrapper  # type: ignore[return-value]


def load_settings(store: StoreOptions) -> Config:
    """The configuration: the file (or BURRO_CONFIG), the environment, then ``--data-dir``."""
    if store.config is not None and not store.config.is_file():
        raise CliError(f"config file {store.config} does not exist")
    overrides: dict[str, Any] = {}
    if store.data_dir is not None:
        overrides["data_dir"] = store.data_dir
    return load_config(store.config, **overrides)


def require_store(config: Config, *, may_create: bool = False) -> None:
    """Refuse a store these commands cannot work on: none there, or none kept at all.

    They never create a missing data directory (a mistyped ``--data-dir`` would send an
    enqueue where no runtime looks); ``may_create`` (``burro enqueue``) lets them create
    the store in an existing, empty one.
    """
    if not config.enabled or config.backend != "lmdb":
        what = "enabled = false" if not config.enabled else f"backend = {config.backend!r}"
        raise CliError(f"this configuration ({what}) keeps no store for the command to work on")
    data_dir = Path(config.data_dir).expanduser()
    if not data_dir.is_dir():
        raise CliError(f"data directory {data_dir} does not exist")
    if not may_create and not (data_dir / _LMDB_DATA_FILE).is_file():
        raise CliError(f"data directory {data_dir} holds no burro store")


@contextmanager
def open_store(store: StoreOptions, *, may_create: bool = False) -> Iterator[BackgroundTaskManager]:
    """A facade on the store that runs no queue, so it never claims a live runtime's jobs.

    ``may_create``: see :func:`require_store`.
    """
    from burro.facade.manager import connect

    config = load_settings(store)
    require_store(config, may_create=may_create)
    manager = connect(config)
    try:
        yield manager
    finally:
        manager.stop()


def add_working_directory() -> None:
    """Let ``pkg.mod`` paths resolve from the current directory, as ``python -m`` does."""
    cwd = str(Path.cwd())
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)


def stdout_console() -> Console:
    """A rich console on the current stdout (wide enough for ids when not a terminal)."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, 160))
    return console


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return repr(value)


def to_json(document: Any, *, compact: bool = False) -> str:
    """``document`` as JSON: datetimes ISO-8601, enums by value, bytes as base64.

    Non-finite floats become the strings "NaN", "Infinity" and "-Infinity": JSON has no
    such numbers, and strict parsers refuse the bare words ``json`` would write.
    """
    indent = None if compact else 2
    return json.dumps(
        _finite(document), default=_json_default, indent=indent, ensure_ascii=False, allow_nan=False
    )


def _finite(value: Any) -> Any:
    """``value`` with every non-finite float, however deep, replaced by its JSON-safe name."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _NON_FINITE[repr(value)]
    if isinstance(value, Mapping):
        return {_finite(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_finite(item) for item in value]
    return value


_NON_FINITE = {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}


def emit_json(document: Any) -> None:
    """Print ``document`` as JSON on stdout."""
    click.echo(to_json(document))


def echo_error(message: str) -> None:
    """One line on stderr."""
    click.echo(message, err=True)
    sys.stderr.flush()
