"""Checking configuration values, driven by the fields (and their metadata) of the model."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import math
import os
import re
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, NamedTuple, Union, get_args, get_origin, get_type_hints

from burro.config._frozen import FrozenMap
from burro.config._tables import as_table, label
from burro.errors import ConfigError

__all__ = [
    "Check",
    "InvalidValue",
    "Key",
    "above",
    "are_patterns",
    "at_least",
    "check_table",
    "checked",
    "closest",
    "is_queue_name",
    "keys_of",
    "normalize",
    "optional_inner",
    "reported_as",
]

Check = Callable[[Any], str | None]
"""Says why a value (already of the right type) is invalid, or returns ``None``."""

_CHECKS = "burro.config.checks"
_NAME_CHECK = "burro.config.name_check"
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]+")


class InvalidValue(Exception):
    """A value does not fit its key; the message says why."""


class Key(NamedTuple):
    """One configuration key: a field of a config class, with its type and checks."""

    name: str
    hint: Any
    checks: tuple[Check, ...]
    name_check: Check | None
    table: type | None  # a nested table, such as [burro.cleanup]
    entries: type | None  # a table of named tables, such as [burro.queues.<name>]


# --- field metadata -------------------------------------------------------------------


def checked(*checks: Check, names: Check | None = None) -> dict[str, object]:
    """Field metadata: the checks a value must pass (``names``: of a table's entries)."""
    return {_CHECKS: checks, _NAME_CHECK: names}


def at_least(minimum: float, maximum: float | None = None) -> Check:
    """A check that a number (if given) is ``>= minimum`` (and ``<= maximum``)."""
    return _within(minimum, maximum, inclusive=True)


def above(minimum: float, maximum: float | None = None) -> Check:
    """A check that a number (if given) is ``> minimum`` (and ``<= maximum``)."""
    return _within(minimum, maximum, inclusive=False)


def _within(minimum: float, maximum: float | None, *, inclusive: bool) -> Check:
    rule = f"must be {'>=' if inclusive else '>'} {_number(minimum)}"
    if maximum is not None:
        rule += f" and <= {_number(maximum)}"

    def check(value: float | None) -> str | None:
        if value is None:
            return None
        low_enough = value >= minimum if inclusive else value > minimum
        return None if low_enough and (maximum is None or value <= maximum) else rule

    return check


def _number(value: float) -> str:
    # whole numbers in full: a bound shown as 9.22337e+09 would be below the real one
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def are_patterns(value: tuple[str, ...]) -> str | None:
    """A check that every string is a valid regular expression."""
    for pattern in value:
        try:
            re.compile(pattern)
        except re.error as exc:
            return f"{pattern!r} is not a regular expression ({exc})"
    return None


def is_queue_name(value: object) -> str | None:
    """A check that ``value`` can name a queue."""
    if isinstance(value, str) and _QUEUE_NAME.fullmatch(value):
        return None
    return "a queue name must be a non-empty string of letters, digits, '_', '.' and '-'"


# --- the keys of a config class -------------------------------------------------------


@functools.cache
def keys_of(cls: type) -> Mapping[str, Key]:
    """The keys of the table that configures ``cls`` (a config dataclass), by name."""
    hints = get_type_hints(cls)
    return types.MappingProxyType(
        {field.name: _key(field, hints[field.name]) for field in dataclasses.fields(cls)}
    )


def _key(field: dataclasses.Field[Any], hint: Any) -> Key:
    entries = None
    if get_origin(hint) is Mapping:
        entries = _config_class(get_args(hint)[1])
    return Key(
        name=field.name,
        hint=hint,
        checks=field.metadata.get(_CHECKS, ()),
        name_check=field.metadata.get(_NAME_CHECK),
        table=_config_class(hint),
        entries=entries,
    )


def _config_class(hint: Any) -> type | None:
    return hint if isinstance(hint, type) and dataclasses.is_dataclass(hint) else None


def closest(name: object, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``name``, if any is close enough to be a likely typo."""
    text, options = str(name), list(candidates)
    for option in options:  # the key in another case (DATA_DIR)
        if option.lower() == text.lower():
            return option
    if f"default_{text}" in options:  # a job option, whose default is default_<option>
        return f"default_{text}"
    matches = difflib.get_close_matches(text, options, n=1)
    return matches[0] if matches else None


# --- checking one source's table ------------------------------------------------------


def check_table(cls: type, table: object, path: tuple[str, ...]) -> dict[str, Any]:
    """Check a (possibly partial) table for ``cls``: known keys, valid values.

    Values come back coerced to their field's type; nested tables stay tables, so that
    the tables of several sources can be merged before the config is built.
    """
    if isinstance(table, cls):
        return as_table(table)
    if not isinstance(table, Mapping):
        raise ConfigError(f"{label(path)} must be a table, got {_shown(table)}")
    keys = keys_of(cls)
    return {
        name: _check_entry(_known(keys, name, path), value, path) for name, value in table.items()
    }


def _known(keys: Mapping[str, Key], name: object, path: tuple[str, ...]) -> Key:
    if isinstance(name, str) and name in keys:
        return keys[name]
    match = closest(name, keys)
    if match is not None:
        advice = f"did you mean {match!r}?"
    else:
        advice = _home_table(keys, name, path) or "valid keys are " + ", ".join(map(repr, keys))
    raise ConfigError(f"unknown key {name!r} in {label(path)}: {advice}")


def _home_table(keys: Mapping[str, Key], name: object, path: tuple[str, ...]) -> str | None:
    """Where a key of a table one level down belongs (``concurrency``: a queue's table).

    A key spelt exactly as a nested one wins over a near miss (``concurency``).
    """
    nested = [
        (table, f"{prefix} {label((*path, key.name))}")
        for key in keys.values()
        for table, prefix in (
            (key.table, "it belongs in"),
            (key.entries, "it belongs in each table under"),
        )
        if table is not None
    ]
    for table, where in nested:
        if name in keys_of(table):
            return where
    for table, where in nested:
        match = closest(name, keys_of(table))
        if match is not None:
            return f"did you mean {match!r}? {where}"
    return None


def _check_entry(key: Key, value: object, path: tuple[str, ...]) -> object:
    if key.table is not None:
        return check_table(key.table, value, (*path, key.name))
    if key.entries is not None:
        entries = _named_tables(key, value, path)
        where = (*path, key.name)
        return {name: check_table(key.entries, entry, (*where, name)) for name, entry in entries}
    try:
        return _check_value(key, value)
    except InvalidValue as exc:
        raise ConfigError(f"invalid value for {key.name!r} in {label(path)}: {exc}") from None


def _named_tables(key: Key, value: object, path: tuple[str, ...]) -> list[tuple[str, object]]:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{label((*path, key.name))} must be a table, got {_shown(value)}")
    for name in value:
        reason = key.name_check(name) if key.name_check else None
        if reason is not None:
            raise ConfigError(f"invalid name {name!r} in {label((*path, key.name))}: {reason}")
    return list(value.items())


def _check_value(key: Key, value: object) -> object:
    value = coerce(value, key.hint)
    for check in key.checks:
        reason = check(value)
        if reason is not None:
            raise InvalidValue(f"{reason}, got {value!r}")
    return value


# --- building config objects ----------------------------------------------------------


def normalize(config: object, path: tuple[str, ...]) -> None:
    """Check and coerce every field of a config object in place; nested tables are built.

    Called by each config class's ``__post_init__``, so every instance is valid.
    """
    cls: type = type(config)
    for key in keys_of(cls).values():
        value = _normal(key, getattr(config, key.name), path)
        object.__setattr__(config, key.name, value)


def _normal(key: Key, value: object, path: tuple[str, ...]) -> object:
    if key.table is not None:
        return _built(key.table, value, (*path, key.name))
    if key.entries is not None:
        where = (*path, key.name)
        entries = _named_tables(key, value, path)
        return FrozenMap(
            {name: _built(key.entries, entry, (*where, name)) for name, entry in entries}
        )
    try:
        return _check_value(key, value)
    except InvalidValue as exc:
        raise ConfigError(f"invalid value for {key.name!r} in {label(path)}: {exc}") from None


def _built(cls: type, value: object, path: tuple[str, ...]) -> object:
    if isinstance(value, cls):
        return value
    return cls(**check_table(cls, value, path))


# --- values ---------------------------------------------------------------------------


def optional_inner(hint: Any) -> tuple[Any, bool]:
    """``hint`` without ``| None``, and whether ``None`` was allowed."""
    if get_origin(hint) in (Union, types.UnionType):
        others = [arg for arg in get_args(hint) if arg is not type(None)]
        if len(others) == 1:
            return others[0], len(others) < len(get_args(hint))
    return hint, False


def coerce(value: object, hint: Any) -> object:
    """``value`` as an instance of ``hint``, or :class:`InvalidValue` saying why not."""
    hint, optional = optional_inner(hint)
    if value is None and optional:
        return None
    if get_origin(hint) is Literal:
        return _as_choice(value, get_args(hint))
    if get_origin(hint) is tuple:
        return _as_strings(value)
    return _SCALARS[hint](value)


def _as_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise InvalidValue(f"expected true or false, got {_shown(value)}")


def _as_int(value: object) -> int:
    # bool is an int subclass, but `concurrency = true` is a mistake, not 1
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise InvalidValue(f"expected an integer, got {_shown(value)}")


def _as_float(value: object) -> float:
    if not isinstance(value, int | float) or isinstance(value, bool):
        raise InvalidValue(f"expected a number, got {_shown(value)}")
    if not math.isfinite(value):
        raise InvalidValue(f"expected a finite number, got {value!r}")
    return float(value)


def _as_str(value: object) -> str:
    if isinstance(value, str):
        return value
    raise InvalidValue(f"expected a string, got {_shown(value)}")


def _as_path(value: object) -> Path:
    if not isinstance(value, str | os.PathLike):
        raise InvalidValue(f"expected a path, got {_shown(value)}")
    if not os.fspath(value):
        raise InvalidValue("expected a path, got an empty string")
    return Path(value).expanduser()


def _as_choice(value: object, choices: tuple[object, ...]) -> object:
    if isinstance(value, str) and value in choices:
        return value
    raise InvalidValue(f"must be one of {', '.join(map(repr, choices))}, got {_shown(value)}")


def _as_strings(value: object) -> tuple[str, ...]:
    if isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
        return tuple(value)
    raise InvalidValue(f"expected a list of strings, got {_shown(value)}")


_SCALARS: dict[Any, Callable[[object], object]] = {
    bool: _as_bool,
    int: _as_int,
    float: _as_float,
    str: _as_str,
    Path: _as_path,
}


def _shown(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


# --- where an error came from ---------------------------------------------------------


@contextmanager
def reported_as(origin: str) -> Iterator[None]:
    """Prefix the message of any :class:`ConfigError` raised inside with ``origin``."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
