"""The four integrations of burro's lifecycle events: audit, events, metrics, notifications.

Each module is small enough to copy into an application and adapt; each runs on its own
with ``python -m examples.integrations.<module> --data-dir /tmp/somewhere``.
"""

from __future__ import annotations
