"""burro.facade."""

from __future__ import annotations
