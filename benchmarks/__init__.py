"""burro's benchmark harness: every scenario of DESIGN.md section 5, side by side with Huey.

Run ``python -m benchmarks`` (``--quick`` for a smoke run, ``--only NAME`` for one
scenario, ``--repeats N``). Results and how they were taken: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations
