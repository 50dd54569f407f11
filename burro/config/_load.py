"""``load_config``: defaults < file or mapping < ``BURRO_*`` environment < keyword overrides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from burro.config._env import CONFIG_FILE_VARIABLE, environment_table
from burro.config._model import Config
from burro.config._tables import as_table, merge_tables
from burro.config._toml import read_config_file
from burro.config._validate import check_table, reported_as
from burro.errors import ConfigError

__all__ = ["load_config"]

ConfigSource = Config | Mapping[str, Any] | str | os.PathLike[str] | None

# Keys whose keyword override replaces the table below instead of merging into it:
# `queues=` lists the queues to run, not changes to the file's queues.
_REPLACED_BY_OVERRIDES = frozenset({"queues"})


def load_config(
    source: ConfigSource = None,
    /,
    *,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Config:
    """Build a validated :class:`Config` from its sources, later ones winning.

    Args:
        source: A TOML file with a ``[burro]`` table, a mapping shaped like that table,
            or a ``Config`` to start from (the environment is then not read again).
            ``None`` reads the file named by ``BURRO_CONFIG``, if set.
        env: The environment to read ``BURRO_*`` variables from; ``None`` is ``os.environ``.
        **overrides: Field values; ``queues=`` replaces the queue table, ``cleanup=``
            merges into it.

    Raises:
        ConfigError: A key, value, variable or file is invalid; the message says which.
    """
    environ = os.environ if env is None else env
    if isinstance(source, Config):
        layers = [as_table(source)]
    else:
        layers = [_source_table(source, environ), environment_table(environ)]
    table: dict[str, Any] = {}
    for layer in layers:
        table = merge_tables(table, layer)
    if overrides:
        table = _with_overrides(table, overrides)
    return Config(**table)


def _source_table(source: ConfigSource, environ: Mapping[str, str]) -> dict[str, Any]:
    if source is None:
        source = environ.get(CONFIG_FILE_VARIABLE) or None
        if source is None:
            return {}
    if isinstance(source, Mapping):
        with reported_as("config mapping"):
            return check_table(Config, source, ("burro",))
    if isinstance(source, str | os.PathLike):
        return read_config_file(Path(source))
    raise ConfigError(f"a config source is a Config, a mapping or a TOML file path, got {source!r}")


def _with_overrides(table: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    with reported_as("keyword overrides"):
        top = check_table(Config, overrides, ("burro",))
    replaced = top.keys() & _REPLACED_BY_OVERRIDES
    below = {key: value for key, value in table.items() if key not in replaced}
    return merge_tables(below, top)
