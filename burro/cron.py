"""Cron schedules for recurring tasks: parsing, and fire times as pure functions of time.

croniter only ever walks naive wall-clock readings of the schedule's time zone; each
reading it yields is then mapped to one instant:

* a reading that occurs once maps to that instant;
* a reading that occurs twice (clocks fall back) maps to its first occurrence only, so
  ``30 1 * * *`` in America/New_York fires on 2025-11-02 at 01:30 EDT and not again at
  01:30 EST, and ``0 * * * *`` fires at 01:00 EDT but not at 01:00 EST;
* a reading that does not exist (clocks spring forward) maps to the first instant after
  the gap, so ``30 2 * * *`` in America/New_York fires on 2025-03-09 at 03:00 EDT, and
  every reading inside the gap collapses into that one fire.

As readings increase, the instants they map to never decrease. Walking croniter forward
(or backward) and dropping every instant not past the last one kept therefore yields each
fire exactly once, in order. Nothing here reads a clock: ``after``/``now`` are arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter

from burro.errors import InvalidTaskError

__all__ = [
    "CatchUp",
    "CronSchedule",
    "fire_times_between",
    "missed_fires",
    "next_fire_at",
    "parse_schedule",
]

CatchUp = Literal["one", "all", "none"]
"""What a recurring task runs for the fire times it missed while nothing was running."""

_MACROS = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
_FIELD_COUNTS = (5, 6)
# croniter's "R" fields draw a new random value each time an expression is parsed; a
# schedule must name the same fire times in every process and after every restart.
_RANDOM_FIELD = re.compile(r"^r(\(\d+-\d+\))?(/\d+)?$", re.IGNORECASE)
# A key ZoneInfo loads, but whose meaning depends on the host it runs on.
_HOST_ZONE_KEYS = frozenset({"localtime"})
# Any fixed reading works to ask "does it fire at all": croniter searches 50 years on.
_PROBE_WALL = datetime(2000, 1, 1)
_ONE_SECOND = timedelta(seconds=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class CronSchedule:
    """A validated cron expression evaluated in an IANA time zone.

    Attributes:
        expression: The cron expression, as croniter reads it (surrounding blanks removed).
        timezone: The IANA time zone name its wall-clock readings are in.

    Raises:
        InvalidTaskError: If the expression or the time zone is invalid, or the
            expression never fires.
    """

    expression: str
    timezone: str = "UTC"
    _zone: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        expression = _check_expression(self.expression)
        zone = _load_zone(self.timezone, expression)
        # Frozen: validated values are set once, here.
        object.__setattr__(self, "expression", expression)
        object.__setattr__(self, "_zone", zone)


def parse_schedule(expression: str, timezone: str = "UTC") -> CronSchedule:
    """Validate a cron expression and time zone.

    Args:
        expression: 5 fields, 6 with seconds last, or a macro such as ``@daily``.
        timezone: An IANA time zone name, e.g. ``"Europe/Berlin"``.

    Raises:
        InvalidTaskError: Naming the expression or time zone and what is wrong with it.
    """
    return CronSchedule(expression, timezone)


def next_fire_at(
    schedule: CronSchedule | str, timezone: str | None = None, *, after: datetime
) -> datetime:
    """The first fire time strictly after ``after``, as an aware UTC datetime.

    Args:
        schedule: A parsed schedule, or an expression to parse.
        timezone: The time zone of an expression given as a string (default UTC); if
            given with a :class:`CronSchedule`, it must be that schedule's own.
        after: An aware datetime, in any time zone.

    Raises:
        InvalidTaskError: If ``schedule`` is a string that does not parse.
        ValueError: If ``after`` is naive or ``timezone`` contradicts the schedule.
    """
    parsed = _as_schedule(schedule, timezone)
    return next(_fires_after(parsed, _require_aware(after, "after")))


def fire_times_between(
    schedule: CronSchedule, after: datetime, until: datetime, *, limit: int
) -> list[datetime]:
    """Every fire time in ``(after, until]``, ascending, the earliest ``limit`` of them.

    Raises:
        ValueError: If a datetime is naive or ``limit`` is negative.
    """
    _require_limit(limit)
    until = _require_aware(until, "until")
    fires: list[datetime] = []
    for fire in _fires_after(schedule, _require_aware(after, "after")):
        if fire > until or len(fires) == limit:
            break
        fires.append(fire)
    return fires


def missed_fires(
    schedule: CronSchedule,
    last_fire_at: datetime,
    now: datetime,
    *,
    catch_up: CatchUp,
    limit: int = 100,
) -> list[datetime]:
    """The fire times to run now, of those in ``(last_fire_at, now]``, ascending.

    A fire exactly at ``now`` is due. For a schedule that never fired yet, pass the
    time it was created as ``last_fire_at``.

    Args:
        schedule: The recurring task's schedule.
        last_fire_at: The last fire time that was enqueued.
        now: The current time.
        catch_up: ``"one"`` coalesces the missed fires into the latest of them,
            ``"all"`` keeps each of them (the latest ``limit``), ``"none"`` skips them.
        limit: The most fires ``"all"`` returns.

    Raises:
        ValueError: If a datetime is naive, ``limit`` is negative or ``catch_up`` unknown.
    """
    if catch_up not in get_args(CatchUp):
        raise ValueError(f"catch_up must be one of {get_args(CatchUp)}, got {catch_up!r}")
    _require_limit(limit)
    last_fire_at = _require_aware(last_fire_at, "last_fire_at")
    now = _require_aware(now, "now")
    if catch_up == "none":
        return []
    wanted = 1 if catch_up == "one" else limit
    latest_first: list[datetime] = []
    for fire in _fires_at_or_before(schedule, now):
        if fire <= last_fire_at or len(latest_first) == wanted:
            break
        latest_first.append(fire)
    return latest_first[::-1]


# -- validation ---------------------------------------------------------------------------


def _check_expression(expression: object) -> str:
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidTaskError(f"cron expression must be a non-empty string, got {expression!r}")
    expression = expression.strip()
    if expression.startswith("@"):
        if expression.lower() not in _MACROS:
            known = ", ".join(sorted(_MACROS))
            raise InvalidTaskError(f"cron expression {expression!r}: unknown macro; use {known}")
    else:
        _check_fields(expression)
    _check_fires(expression)
    return expression


def _check_fields(expression: str) -> None:
    fields = expression.split()
    if len(fields) not in _FIELD_COUNTS:
        raise InvalidTaskError(
            f"cron expression {expression!r} has {len(fields)} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or 6 (the same, then seconds)"
        )
    if any(_RANDOM_FIELD.match(one) for one in fields):
        raise InvalidTaskError(
            f"cron expression {expression!r}: random fields (R) are not allowed, "
            "fire times must be the same in every process"
        )


def _check_fires(expression: str) -> None:
    try:
        croniter(expression, _PROBE_WALL, ret_type=datetime).get_next()
    except CroniterBadDateError:
        raise InvalidTaskError(
            f"cron expression {expression!r} never fires (no matching date exists)"
        ) from None
    except CroniterError as error:
        raise InvalidTaskError(f"cron expression {expression!r} is invalid: {error}") from None


def _load_zone(timezone: object, expression: str) -> ZoneInfo:
    if not isinstance(timezone, str) or not timezone or timezone in _HOST_ZONE_KEYS:
        raise InvalidTaskError(
            f"timezone {timezone!r} of cron expression {expression!r} "
            "must be an IANA time zone name such as 'UTC' or 'Europe/Berlin'"
        )
    try:
        return ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: malformed keys ("../x", "/etc/x"); OSError: directories ("America").
        raise InvalidTaskError(
            f"unknown timezone {timezone!r} for cron expression {expression!r}: "
            "not an IANA time zone name"
        ) from None


def _as_schedule(schedule: CronSchedule | str, timezone: str | None) -> CronSchedule:
    if not isinstance(schedule, CronSchedule):
        return parse_schedule(schedule, "UTC" if timezone is None else timezone)
    if timezone is not None and timezone != schedule.timezone:
        raise ValueError(
            f"timezone {timezone!r} contradicts the schedule's own {schedule.timezone!r}"
        )
    return schedule


def _require_aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {moment!r}")
    return moment


def _require_limit(limit: int) -> None:
    if limit < 0:
        raise ValueError(f"limit must be >= 0, got {limit!r}")


# -- fire times ---------------------------------------------------------------------------


def _fires_after(schedule: CronSchedule, after: datetime) -> Iterator[datetime]:
    """Every fire time strictly after ``after``, ascending, without end."""
    zone = schedule._zone
    # No reading at or before `after`'s own maps past `after`, so start there.
    start = after.astimezone(zone).replace(tzinfo=None, fold=0)
    readings = croniter(schedule.expression, start, ret_type=datetime)
    last = after
    while True:
        fire = _instant_of(readings.get_next(), zone)
        # Skips readings of a repeated hour when `after` is in its second pass (they
        # map to the first pass) and the readings of a gap after its first.
        if fire > last:
            yield fire
            last = fire


def _fires_at_or_before(schedule: CronSchedule, until: datetime) -> Iterator[datetime]:
    """Every fire time at or before ``until``, descending, without end."""
    zone = schedule._zone
    local = until.astimezone(zone)
    start = local.replace(tzinfo=None, fold=0)
    # In the second pass of a repeated hour, later readings of that hour map to its first
    # pass, before `until`: start the walk one repetition later so they are not missed.
    start += _repetition(local)
    # get_prev returns readings strictly before its start; `until` itself is due.
    readings = croniter(schedule.expression, start + _ONE_MICROSECOND, ret_type=datetime)
    last: datetime | None = None
    while True:
        fire = _instant_of(readings.get_prev(), zone)
        if fire <= until and (last is None or fire < last):
            yield fire
            last = fire


def _repetition(local: datetime) -> timedelta:
    """How much later ``local``'s reading came round again, if it is a second pass."""
    first_pass, actual = local.replace(fold=0).utcoffset(), local.utcoffset()
    if first_pass is None or actual is None:
        return timedelta(0)
    return first_pass - actual


def _instant_of(reading: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant a naive wall-clock reading in ``zone`` fires at."""
    # fold=0 names the first occurrence of a repeated reading.
    instant = reading.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == reading:
        return instant
    return _end_of_gap(reading, zone)


def _end_of_gap(reading: datetime, zone: ZoneInfo) -> datetime:
    """The first instant after the gap that the non-existent ``reading`` falls in."""
    # For a reading in a gap, fold=1 applies the offset after the jump and fold=0 the one
    # before, so the jump lies between the instants they name: bisect it to the second
    # (time zone transitions fall on whole seconds).
    before = reading.replace(tzinfo=zone, fold=1).astimezone(UTC)
    after = reading.replace(tzinfo=zone, fold=0).astimezone(UTC)
    offset_before = before.astimezone(zone).utcoffset()
    span = int((after - before) / _ONE_SECOND)
    while span > 1:
        half = span // 2
        middle = before + half * _ONE_SECOND
        if middle.astimezone(zone).utcoffset() == offset_before:
            before, span = middle, span - half
        else:
            after, span = middle, half
    return after
