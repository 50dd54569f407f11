"""Configuration files: the ``[burro]`` table of a TOML file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from burro.config._model import Config
from burro.config._validate import check_table, reported_as
from burro.errors import ConfigError

__all__ = ["read_config_file"]


def read_config_file(path: Path) -> dict[str, Any]:
    """The checked ``[burro]`` table of the TOML file at ``path``."""
    try:
        with path.open("rb") as file:
            document = tomllib.load(file)
    except OSError as exc:
        raise ConfigError(f"cannot read config file '{path}': {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"malformed config file '{path}': {exc}") from exc
    table = document.get("burro")
    if not isinstance(table, dict):
        raise ConfigError(f"config file '{path}' has no [burro] table")
    with reported_as(f"config file '{path}'"):
        return check_table(Config, table, ("burro",))
