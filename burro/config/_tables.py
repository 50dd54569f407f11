"""Configuration tables: nested dicts keyed by field names, the shape every source is read into."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = ["as_table", "label", "merge_tables", "plain_table"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def as_table(config: Any) -> dict[str, Any]:
    """The fields of a config object as a table; nested config objects become tables too."""
    return {
        field.name: _as_entry(getattr(config, field.name)) for field in dataclasses.fields(config)
    }


def _as_entry(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return as_table(value)
    if isinstance(value, Mapping):
        return {name: _as_entry(entry) for name, entry in value.items()}
    return value


def merge_tables(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``top`` laid over it; tables present in both are merged key by key."""
    merged = dict(base)
    for key, value in top.items():
        below = merged.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            merged[key] = merge_tables(below, value)
        else:
            merged[key] = value
    return merged


def plain_table(table: Mapping[str, Any]) -> dict[str, Any]:
    """``table`` in TOML's types: paths as strings, tuples as lists, no ``None`` values."""
    return {key: _plain(value) for key, value in table.items() if value is not None}


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return plain_table(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    return value


def label(path: Sequence[str]) -> str:
    """The TOML header of the table at ``path``, e.g. ``[burro.queues.emails]``."""
    parts = (part if _BARE_KEY.fullmatch(part) else f'"{part}"' for part in path)
    return "[" + ".".join(parts) + "]"
