"""``burro demo``: a shop's background work, run by burro on a fresh LMDB store.

The workers live in :mod:`burro.demo.workers` (``examples/shop`` uses them too), the
story in :mod:`burro.demo.scenario`, the live view in :mod:`burro.demo.live`.
"""

from __future__ import annotations

from burro.demo.runner import DemoReport, run_demo

__all__ = ["DemoReport", "run_demo"]
