"""When a failed attempt runs again: exponential backoff with jitter, capped."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

__all__ = ["retry_at"]


def retry_delay(base_seconds: float, attempt: int, cap_seconds: float, jitter: float) -> float:
    """``base * 2**(attempt-1)`` plus ``jitter`` (a fraction in [0, 0.1]), capped."""
    exponent = min(max(attempt - 1, 0), 62)  # 2**62 s already exceeds any sane cap
    delay: float = base_seconds * float(2**exponent) * (1.0 + jitter)
    return min(delay, cap_seconds)


def retry_at(
    now: datetime, base_seconds: float, attempt: int, cap_seconds: float, rng: random.Random
) -> datetime:
    """The time attempt ``attempt + 1`` may start."""
    delay = retry_delay(base_seconds, attempt, cap_seconds, rng.uniform(0.0, 0.1))
    return now + timedelta(seconds=delay)
