"""Restart strategies: which children a restart of one child touches."""

from __future__ import annotations

from collections.abc import Sequence

from burro.supervision._spec import Strategy

__all__ = ["restart_group"]


def restart_group(strategy: Strategy, start_order: Sequence[str], failed: str) -> list[str]:
    """The children (in start order) stopped and started again when ``failed`` restarts.

    ``one_for_one``: the failed child alone; ``one_for_all``: every child;
    ``rest_for_one``: the failed child and every child started after it.
    """
    if strategy == "one_for_one":
        return [failed]
    if strategy == "one_for_all":
        return list(start_order)
    return list(start_order[start_order.index(failed) :])
