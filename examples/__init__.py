"""Small runnable applications that use burro (run them from the repository root)."""

from __future__ import annotations
