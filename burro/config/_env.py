"""``BURRO_*`` environment variables, read as a partial ``[burro]`` table.

``BURRO_<KEY>`` sets a top-level key; a double underscore goes one table down:
``BURRO_CLEANUP__INTERVAL_SECONDS``, ``BURRO_QUEUES__EMAILS__CONCURRENCY`` (queue names
are read in lower case). ``BURRO_CONFIG`` names the TOML file to load.

A list is written as a TOML array (``BURRO_ALLOWED_WORKER_MODULES='["app.*", "jobs"]'``)
or, more shortly, as items separated by commas; the items of ``redact_patterns``,
regular expressions, which often hold commas (``\\d{13,19}``), are separated by new lines.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any, get_origin

from burro.config._model import Config
from burro.config._tables import label, merge_tables
from burro.config._validate import (
    InvalidValue,
    Key,
    check_table,
    closest,
    keys_of,
    optional_inner,
    reported_as,
)
from burro.errors import ConfigError

__all__ = ["CONFIG_FILE_VARIABLE", "ENV_PREFIX", "environment_table"]

ENV_PREFIX = "BURRO_"
CONFIG_FILE_VARIABLE = "BURRO_CONFIG"
_NESTING = "__"
#: Lists whose items may hold commas: one item per line unless written as a TOML array.
_ITEMS_PER_LINE = frozenset({"redact_patterns"})
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def environment_table(env: Mapping[str, str]) -> dict[str, Any]:
    """The checked table set by the ``BURRO_*`` variables of ``env``."""
    table: dict[str, Any] = {}
    for variable in sorted(env):
        if variable.startswith(ENV_PREFIX) and variable != CONFIG_FILE_VARIABLE:
            table = merge_tables(table, _variable_table(variable, env[variable]))
    return table


def _variable_table(variable: str, text: str) -> dict[str, Any]:
    path, key = _locate(variable)
    try:
        value = parse_text(text, key.hint, "\n" if key.name in _ITEMS_PER_LINE else ",")
    except InvalidValue as exc:
        raise ConfigError(f"environment variable {variable}: {exc}") from None
    table: dict[str, Any] = {key.name: value}
    for name in reversed(path):
        table = {name: table}
    with reported_as(f"environment variable {variable}"):
        return check_table(Config, table, ("burro",))


def _locate(variable: str) -> tuple[list[str], Key]:
    """The tables leading to the key a variable sets, and that key."""
    parts = variable.removeprefix(ENV_PREFIX).lower().split(_NESTING)
    cls: type = Config
    path: list[str] = []
    while parts:
        key = _known_key(cls, parts.pop(0), variable, path)
        if key.table is None and key.entries is None:
            if parts:
                raise ConfigError(f"environment variable {variable}: {key.name!r} has no keys")
            return path, key
        path.append(key.name)
        if key.entries is not None:
            path.append(parts.pop(0) if parts else "<name>")  # the entry's name, e.g. a queue's
        cls = key.table or key.entries or cls
    example = _variable_name([*path, next(iter(keys_of(cls)))])
    raise ConfigError(
        f"environment variable {variable} names a table, not a value: "
        f"set one key per variable, e.g. {example}"
    )


def _known_key(cls: type, name: str, variable: str, path: list[str]) -> Key:
    keys = keys_of(cls)
    if name in keys:
        return keys[name]
    match = closest(name, keys)
    if match is not None:
        advice = f"did you mean {_variable_name([*path, match])}?"
    else:
        advice = f"valid keys of {label(('burro', *path))} are " + ", ".join(map(repr, keys))
    raise ConfigError(f"unknown environment variable {variable}: {advice}")


def _variable_name(path: list[str]) -> str:
    return ENV_PREFIX + _NESTING.join(path).upper()


def parse_text(text: str, hint: Any, separator: str = ",") -> object:
    """The value of type ``hint`` written as ``text`` in an environment variable.

    ``separator`` splits a list not written as a TOML array.
    """
    hint, optional = optional_inner(hint)
    if optional and not text.strip():
        return None
    if hint is bool:
        return _parse_bool(text)
    if hint is int:
        return _parse_number(text, int, "an integer")
    if hint is float:
        return _parse_number(text, float, "a number")
    if get_origin(hint) is tuple:
        return _parse_list(text, separator)
    return text  # strings, paths and choices are checked as written


def _parse_list(text: str, separator: str) -> tuple[str, ...]:
    if not text.strip().startswith("["):
        return tuple(item.strip() for item in text.split(separator) if item.strip())
    try:
        items = tomllib.loads(f"items = {text}")["items"]
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(f"not a TOML array: {exc}") from None
    if not all(isinstance(item, str) for item in items):
        raise InvalidValue(f"expected an array of strings, got {text!r}")
    return tuple(items)


def _parse_bool(text: str) -> bool:
    try:
        return _BOOLEANS[text.strip().lower()]
    except KeyError:
        raise InvalidValue(f"expected true, false, 1 or 0, got {text!r}") from None


def _parse_number(text: str, kind: type[float], expected: str) -> float:
    try:
        return kind(text.strip())
    except ValueError:
        raise InvalidValue(f"expected {expected}, got {text!r}") from None
