"""The pure parts: restart intensity windows, strategy groups, restart types."""

from __future__ import annotations

import pytest

from burro.supervision import ChildSpec
from burro.supervision._intensity import RestartIntensity
from burro.supervision._strategy import restart_group
from tests.unit.supervision.support import Journal, recorder_spec


def test_more_than_max_restarts_within_the_window_is_refused() -> None:
    intensity = RestartIntensity(max_restarts=2, max_seconds=5.0)
    assert [intensity.allow(t) for t in (0.0, 1.0, 2.0)] == [True, True, False]


def test_restarts_older_than_the_window_no_longer_count() -> None:
    intensity = RestartIntensity(max_restarts=2, max_seconds=5.0)
    assert intensity.allow(0.0) and intensity.allow(1.0)
    assert intensity.allow(5.0)  # the restart at 0.0 is exactly max_seconds old: out
    assert intensity.allow(6.5)  # and 1.0 too
    assert not intensity.allow(7.0)


def test_zero_restarts_allowed_refuses_the_first() -> None:
    assert not RestartIntensity(max_restarts=0, max_seconds=1.0).allow(0.0)


@pytest.mark.parametrize(("max_restarts", "max_seconds"), [(-1, 5.0), (1, 0.0)])
def test_intensity_limits_are_validated(max_restarts: int, max_seconds: float) -> None:
    with pytest.raises(ValueError, match="max_"):
        RestartIntensity(max_restarts, max_seconds)


@pytest.mark.parametrize(
    ("strategy", "group"),
    [
        ("one_for_one", ["b"]),
        ("one_for_all", ["a", "b", "c"]),
        ("rest_for_one", ["b", "c"]),
    ],
)
def test_restart_group(strategy: str, group: list[str]) -> None:
    assert restart_group(strategy, ["a", "b", "c"], "b") == group  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("restart", "after_normal", "after_abnormal"),
    [("permanent", True, True), ("transient", False, True), ("temporary", False, False)],
)
def test_restart_types(restart: str, after_normal: bool, after_abnormal: bool) -> None:
    spec = recorder_spec("x", Journal(), restart=restart)  # type: ignore[arg-type]
    assert spec.restarts_after(normal=True) is after_normal
    assert spec.restarts_after(normal=False) is after_abnormal


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"id": ""}, "id"),
        ({"restart": "sometimes"}, "restart"),
        ({"shutdown_timeout": -1.0}, "shutdown_timeout"),
    ],
)
def test_child_specs_are_validated(fields: dict[str, object], message: str) -> None:
    base: dict[str, object] = {"id": "x", "start": lambda: None}
    with pytest.raises(ValueError, match=message):
        ChildSpec(**{**base, **fields})  # type: ignore[arg-type]
