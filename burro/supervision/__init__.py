"""burro.supervision."""

from __future__ import annotations
