"""Configuration: one immutable, validated :class:`Config`, loaded from its sources.

Sources, later ones winning: defaults < TOML file (``[burro]`` table) or mapping <
``BURRO_*`` environment variables < keyword overrides. See :func:`load_config`.
"""

from __future__ import annotations

from burro.config._load import load_config
from burro.config._model import Backend, CleanupConfig, Config, Durability, QueueConfig

__all__ = ["Backend", "CleanupConfig", "Config", "Durability", "QueueConfig", "load_config"]
