"""A small shop that hands its slow work to burro; see ``examples/README.md``."""

from __future__ import annotations
