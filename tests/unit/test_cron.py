"""Cron schedules: parsing, fire times, daylight saving and missed fires."""

from __future__ import annotations

import functools
import itertools
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from hypothesis import given, settings
from hypothesis import strategies as st

from burro.cron import (
    CronSchedule,
    fire_times_between,
    missed_fires,
    next_fire_at,
    parse_schedule,
)
from burro.errors import InvalidTaskError

NEW_YORK = "America/New_York"
BERLIN = "Europe/Berlin"
MINUTE = timedelta(minutes=1)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, *, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def local(zone: str, year: int, month: int, day: int, hour: int = 0) -> datetime:
    return datetime(year, month, day, hour, tzinfo=ZoneInfo(zone))


def every(step: timedelta, first: datetime, last: datetime) -> list[datetime]:
    """``first``, ``first + step``, ... up to and including ``last``."""
    count = (last - first) // step + 1
    return [first + index * step for index in range(count)]


def local_day(zone: str, year: int, month: int, day: int) -> tuple[datetime, datetime]:
    """The local calendar day as ``(after, until)``: midnight exclusive, next midnight."""
    start, next_day = local(zone, year, month, day), datetime(year, month, day) + DAY
    return start, local(zone, next_day.year, next_day.month, next_day.day)


def fires_over_day(expression: str, zone: str, year: int, month: int, day: int) -> list[datetime]:
    after, until = local_day(zone, year, month, day)
    return fire_times_between(parse_schedule(expression, zone), after, until, limit=1000)


# -- daylight saving: America/New_York ----------------------------------------------------
# 2025-03-09 02:00 EST -> 03:00 EDT at 07:00 UTC; 2025-11-02 02:00 EDT -> 01:00 EST at 06:00 UTC.


def test_new_york_spring_gap_daily_fires_once_at_end_of_gap() -> None:
    schedule = parse_schedule("30 2 * * *", NEW_YORK)
    fires = fire_times_between(
        schedule, local(NEW_YORK, 2025, 3, 8), local(NEW_YORK, 2025, 3, 11), limit=10
    )
    assert fires == [utc(2025, 3, 8, 7, 30), utc(2025, 3, 9, 7), utc(2025, 3, 10, 6, 30)]


def test_new_york_fall_repeat_daily_fires_once_at_first_occurrence() -> None:
    schedule = parse_schedule("30 1 * * *", NEW_YORK)
    fires = fire_times_between(
        schedule, local(NEW_YORK, 2025, 11, 1), local(NEW_YORK, 2025, 11, 4), limit=10
    )
    # 01:30 EDT on the 2nd (05:30 UTC); 01:30 EST (06:30 UTC) does not fire.
    assert fires == [utc(2025, 11, 1, 5, 30), utc(2025, 11, 2, 5, 30), utc(2025, 11, 3, 6, 30)]


def test_new_york_fall_repeat_daily_from_inside_the_repeated_hour() -> None:
    schedule = parse_schedule("30 1 * * *", NEW_YORK)
    # 01:10 EST, second pass: 01:30 EST must not fire; next is the 3rd.
    assert next_fire_at(schedule, after=utc(2025, 11, 2, 6, 10)) == utc(2025, 11, 3, 6, 30)
    # 01:10 EDT, first pass: 01:30 EDT is still ahead.
    assert next_fire_at(schedule, after=utc(2025, 11, 2, 5, 10)) == utc(2025, 11, 2, 5, 30)


def test_new_york_spring_hourly_fires_every_real_hour() -> None:
    fires = fires_over_day("0 * * * *", NEW_YORK, 2025, 3, 9)
    # The day has 23 hours; 02:00 does not exist and folds into 03:00 EDT (07:00 UTC).
    assert fires == every(HOUR, utc(2025, 3, 9, 6), utc(2025, 3, 10, 4))
    assert fires[:3] == [utc(2025, 3, 9, 6), utc(2025, 3, 9, 7), utc(2025, 3, 9, 8)]


def test_new_york_fall_hourly_skips_the_repeated_reading() -> None:
    fires = fires_over_day("0 * * * *", NEW_YORK, 2025, 11, 2)
    # 01:00 EDT (05:00 UTC) fires; 01:00 EST (06:00 UTC) is the same reading again.
    expected = every(HOUR, utc(2025, 11, 2, 5), utc(2025, 11, 3, 5))
    expected.remove(utc(2025, 11, 2, 6))
    assert fires == expected
    assert fires[:3] == [utc(2025, 11, 2, 5), utc(2025, 11, 2, 7), utc(2025, 11, 2, 8)]


def test_new_york_spring_quarter_hourly_collapses_the_gap() -> None:
    fires = fires_over_day("*/15 * * * *", NEW_YORK, 2025, 3, 9)
    assert fires == every(QUARTER, utc(2025, 3, 9, 5, 15), utc(2025, 3, 10, 4))
    assert len(fires) == 23 * 4


def test_new_york_fall_quarter_hourly_skips_the_second_pass() -> None:
    fires = fires_over_day("*/15 * * * *", NEW_YORK, 2025, 11, 2)
    second_pass = every(QUARTER, utc(2025, 11, 2, 6), utc(2025, 11, 2, 6, 45))
    expected = every(QUARTER, utc(2025, 11, 2, 4, 15), utc(2025, 11, 3, 5))
    assert fires == [fire for fire in expected if fire not in second_pass]
    assert len(fires) == 24 * 4


# -- daylight saving: Europe/Berlin -------------------------------------------------------
# 2025-03-30 02:00 CET -> 03:00 CEST at 01:00 UTC; 2025-10-26 03:00 CEST -> 02:00 CET at 01:00 UTC.


def test_berlin_spring_gap_daily_fires_once_at_end_of_gap() -> None:
    schedule = parse_schedule("30 2 * * *", BERLIN)
    fires = fire_times_between(
        schedule, local(BERLIN, 2025, 3, 29), local(BERLIN, 2025, 4, 1), limit=10
    )
    assert fires == [utc(2025, 3, 29, 1, 30), utc(2025, 3, 30, 1), utc(2025, 3, 31, 0, 30)]


def test_berlin_fall_repeat_daily_fires_once_at_first_occurrence() -> None:
    schedule = parse_schedule("30 2 * * *", BERLIN)
    fires = fire_times_between(
        schedule, local(BERLIN, 2025, 10, 25), local(BERLIN, 2025, 10, 28), limit=10
    )
    # 02:30 CEST on the 26th (00:30 UTC); 02:30 CET (01:30 UTC) does not fire.
    assert fires == [utc(2025, 10, 25, 0, 30), utc(2025, 10, 26, 0, 30), utc(2025, 10, 27, 1, 30)]


def test_berlin_spring_hourly_fires_every_real_hour() -> None:
    fires = fires_over_day("0 * * * *", BERLIN, 2025, 3, 30)
    assert fires == every(HOUR, utc(2025, 3, 30, 0), utc(2025, 3, 30, 22))


def test_berlin_fall_hourly_skips_the_repeated_reading() -> None:
    fires = fires_over_day("0 * * * *", BERLIN, 2025, 10, 26)
    expected = every(HOUR, utc(2025, 10, 25, 23), utc(2025, 10, 26, 23))
    expected.remove(utc(2025, 10, 26, 1))
    assert fires == expected


def test_berlin_spring_quarter_hourly_collapses_the_gap() -> None:
    fires = fires_over_day("*/15 * * * *", BERLIN, 2025, 3, 30)
    assert fires == every(QUARTER, utc(2025, 3, 29, 23, 15), utc(2025, 3, 30, 22))


def test_berlin_fall_quarter_hourly_skips_the_second_pass() -> None:
    fires = fires_over_day("*/15 * * * *", BERLIN, 2025, 10, 26)
    second_pass = every(QUARTER, utc(2025, 10, 26, 1), utc(2025, 10, 26, 1, 45))
    expected = every(QUARTER, utc(2025, 10, 25, 22, 15), utc(2025, 10, 26, 23))
    assert fires == [fire for fire in expected if fire not in second_pass]


# -- daylight saving: other shapes of transition, against a brute-force model -------------


@functools.cache
def minutes_with_readings(
    zone: str, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """Each minute in ``[start, end]`` with its local reading, in order."""
    tz = ZoneInfo(zone)
    return [
        (instant, instant.astimezone(tz).replace(tzinfo=None))
        for instant in every(MINUTE, start, end)
    ]


def model_fires(expression: str, zone: str, after: datetime, until: datetime) -> list[datetime]:
    """The rule spelled out by scanning every minute; independent of burro's mapping."""
    margin = timedelta(hours=30)
    minutes = minutes_with_readings(zone, after - margin, until + margin)
    first_seen: dict[datetime, datetime] = {}
    for instant, reading in minutes:
        first_seen.setdefault(reading, instant)
    readings = croniter(expression, minutes[0][1], ret_type=datetime)
    fires: set[datetime] = set()
    for _ in range(10_000):
        reading = readings.get_next()
        if reading > minutes[-1][1]:
            break
        if reading in first_seen:
            fires.add(first_seen[reading])
        else:  # A reading in a gap: the first instant whose reading is past it.
            fires.add(next(instant for instant, seen in minutes if seen > reading))
    return sorted(fire for fire in fires if after < fire <= until)


TRANSITION_DAYS = [
    (NEW_YORK, utc(2025, 3, 9)),
    (NEW_YORK, utc(2025, 11, 2)),
    (BERLIN, utc(2025, 3, 30)),
    (BERLIN, utc(2025, 10, 26)),
    ("Australia/Lord_Howe", utc(2025, 4, 5)),  # half-hour shift back
    ("Australia/Lord_Howe", utc(2025, 10, 4)),  # half-hour shift forward
    ("America/Santiago", utc(2025, 4, 6)),  # midnight repeats
    ("America/Santiago", utc(2025, 9, 7)),  # midnight does not exist
    ("America/Havana", utc(2025, 3, 9)),
    ("Pacific/Apia", utc(2011, 12, 30)),  # the whole of 30 December 2011 was skipped
]


@pytest.mark.parametrize(("zone", "day"), TRANSITION_DAYS)
@pytest.mark.parametrize(
    "expression", ["30 2 * * *", "0 0 * * *", "45 23 * * *", "0 * * * *", "*/15 * * * *"]
)
def test_transitions_match_the_brute_force_model(zone: str, day: datetime, expression: str) -> None:
    after, until = day - 12 * HOUR, day + 36 * HOUR
    schedule = parse_schedule(expression, zone)
    expected = model_fires(expression, zone, after, until)
    assert fire_times_between(schedule, after, until, limit=1000) == expected


def test_a_skipped_day_fires_at_the_first_instant_after_it() -> None:
    schedule = parse_schedule("0 12 30 12 *", "Pacific/Apia")
    # Noon on 2011-12-30 never happened in Samoa; the next instant is 31 Dec 00:00 +14.
    assert next_fire_at(schedule, after=utc(2011, 12, 1)) == local("Pacific/Apia", 2011, 12, 31)


# -- expressions and time zones -----------------------------------------------------------


def test_six_fields_read_seconds_last() -> None:
    schedule = parse_schedule("0 0 * * * 30")
    assert next_fire_at(schedule, after=utc(2025, 1, 1)) == utc(2025, 1, 1, second=30)
    every_ten = parse_schedule("* * * * * */10")
    assert fire_times_between(
        every_ten, utc(2025, 1, 1, second=5), utc(2025, 1, 1, second=40), limit=10
    ) == [utc(2025, 1, 1, second=second) for second in (10, 20, 30, 40)]


def test_six_fields_in_a_repeated_hour_fire_once() -> None:
    schedule = parse_schedule("30 1 * * * 15", NEW_YORK)
    fires = fire_times_between(
        schedule, local(NEW_YORK, 2025, 11, 2), local(NEW_YORK, 2025, 11, 3), limit=10
    )
    assert fires == [utc(2025, 11, 2, 5, 30, second=15)]


def test_microseconds_in_after_are_honoured() -> None:
    schedule = parse_schedule("* * * * * *")
    after = utc(2025, 1, 1) + timedelta(microseconds=1)
    assert next_fire_at(schedule, after=after) == utc(2025, 1, 1, second=1)
    assert next_fire_at("0 * * * *", after=utc(2025, 1, 1, 1) - timedelta(microseconds=1)) == utc(
        2025, 1, 1, 1
    )


@pytest.mark.parametrize(
    ("macro", "expected"),
    [
        ("@hourly", utc(2025, 1, 1, 11)),
        ("@daily", utc(2025, 1, 2)),
        ("@midnight", utc(2025, 1, 2)),
        ("@weekly", utc(2025, 1, 5)),  # Sunday
        ("@monthly", utc(2025, 2, 1)),
        ("@yearly", utc(2026, 1, 1)),
        ("@annually", utc(2026, 1, 1)),
        ("@DAILY", utc(2025, 1, 2)),
    ],
)
def test_macros(macro: str, expected: datetime) -> None:
    assert next_fire_at(macro, after=utc(2025, 1, 1, 10, 30)) == expected


def test_non_utc_timezone_on_an_ordinary_day() -> None:
    weekdays = parse_schedule("0 9 * * 1-5", "Asia/Tokyo")
    # Friday 10:00 JST: the next weekday 09:00 is Monday, 00:00 UTC.
    assert next_fire_at(weekdays, after=local("Asia/Tokyo", 2025, 6, 13, 10)) == utc(2025, 6, 16)
    assert next_fire_at("0 9 * * *", "Asia/Kolkata", after=utc(2025, 6, 13)) == utc(
        2025, 6, 13, 3, 30
    )


def test_after_in_another_timezone_names_the_same_instant() -> None:
    schedule = parse_schedule("0 9 * * *", NEW_YORK)
    instant = utc(2025, 6, 13, 12)
    in_tokyo = instant.astimezone(ZoneInfo("Asia/Tokyo"))
    assert next_fire_at(schedule, after=in_tokyo) == next_fire_at(schedule, after=instant)
    assert next_fire_at(schedule, after=in_tokyo) == utc(2025, 6, 13, 13)
    assert next_fire_at(schedule, after=in_tokyo).tzinfo is UTC


def test_next_fire_at_accepts_an_expression_and_timezone() -> None:
    assert next_fire_at("30 2 * * *", NEW_YORK, after=utc(2025, 3, 9)) == utc(2025, 3, 9, 7)


def test_next_fire_at_refuses_a_timezone_contradicting_the_schedule() -> None:
    schedule = parse_schedule("0 * * * *", BERLIN)
    assert next_fire_at(schedule, BERLIN, after=utc(2025, 1, 1)) == utc(2025, 1, 1, 1)
    with pytest.raises(ValueError, match="contradicts"):
        next_fire_at(schedule, NEW_YORK, after=utc(2025, 1, 1))


def test_naive_datetimes_are_refused() -> None:
    schedule = parse_schedule("0 * * * *")
    with pytest.raises(ValueError, match="aware"):
        next_fire_at(schedule, after=datetime(2025, 1, 1))
    with pytest.raises(ValueError, match="aware"):
        fire_times_between(schedule, utc(2025, 1, 1), datetime(2025, 1, 2), limit=5)


def test_schedules_compare_by_expression_and_timezone() -> None:
    assert parse_schedule("  0 * * * *\n", BERLIN) == CronSchedule("0 * * * *", BERLIN)
    assert parse_schedule("0 * * * *").expression == "0 * * * *"
    assert len({parse_schedule("0 * * * *"), CronSchedule("0 * * * *", "UTC")}) == 1
    assert parse_schedule("0 * * * *", BERLIN) != parse_schedule("0 * * * *", NEW_YORK)


def test_fire_times_between_keeps_the_earliest_up_to_limit() -> None:
    schedule = parse_schedule("0 * * * *")
    fires = fire_times_between(schedule, utc(2025, 1, 1), utc(2025, 1, 2), limit=3)
    assert fires == [utc(2025, 1, 1, 1), utc(2025, 1, 1, 2), utc(2025, 1, 1, 3)]
    assert fire_times_between(schedule, utc(2025, 1, 1), utc(2025, 1, 2), limit=0) == []
    assert fire_times_between(schedule, utc(2025, 1, 1, 1), utc(2025, 1, 1, 1), limit=5) == []


# -- invalid input ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expression", "reason"),
    [
        ("not a cron", "fields"),
        ("61 * * * *", "invalid"),
        ("* * * *", "4 fields"),
        ("0 0 1 1 * 0 2030", "7 fields"),
        ("0 0 31 2 *", "never fires"),
        ("0 0 30 2 *", "never fires"),
        ("R * * * *", "random"),
        ("H * * * *", "invalid"),
        ("@reboot", "unknown macro"),
        ("@daily 5", "unknown macro"),
    ],
)
def test_invalid_expressions_are_refused(expression: str, reason: str) -> None:
    with pytest.raises(InvalidTaskError, match=reason) as caught:
        parse_schedule(expression)
    assert repr(expression) in str(caught.value)


@pytest.mark.parametrize("expression", ["", "   ", None, 5])
def test_empty_or_non_string_expressions_are_refused(expression: object) -> None:
    with pytest.raises(InvalidTaskError, match="non-empty string"):
        parse_schedule(expression)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "timezone", ["Mars/Olympus_Mons", "utc", "America", "../etc/passwd", "/etc/localtime"]
)
def test_unknown_timezones_are_refused(timezone: str) -> None:
    with pytest.raises(InvalidTaskError, match="unknown timezone") as caught:
        parse_schedule("0 * * * *", timezone)
    assert repr(timezone) in str(caught.value)
    assert "'0 * * * *'" in str(caught.value)


@pytest.mark.parametrize("timezone", ["", None, "localtime"])
def test_empty_or_host_dependent_timezones_are_refused(timezone: object) -> None:
    with pytest.raises(InvalidTaskError, match="IANA"):
        parse_schedule("0 * * * *", timezone)  # type: ignore[arg-type]


def test_constructing_a_schedule_directly_validates_it() -> None:
    with pytest.raises(InvalidTaskError, match="never fires"):
        CronSchedule("0 0 31 2 *")


def test_next_fire_at_on_a_bad_string_raises_invalid_task() -> None:
    with pytest.raises(InvalidTaskError):
        next_fire_at("0 0 31 2 *", after=utc(2025, 1, 1))


# -- missed fires -------------------------------------------------------------------------


HOURLY = parse_schedule("0 * * * *")


def test_missed_fires_one_coalesces_into_the_latest() -> None:
    fires = missed_fires(HOURLY, utc(2025, 1, 1, 10), utc(2025, 1, 1, 13, 30), catch_up="one")
    assert fires == [utc(2025, 1, 1, 13)]


def test_missed_fires_all_returns_each_in_order() -> None:
    fires = missed_fires(HOURLY, utc(2025, 1, 1, 10), utc(2025, 1, 1, 13, 30), catch_up="all")
    assert fires == [utc(2025, 1, 1, 11), utc(2025, 1, 1, 12), utc(2025, 1, 1, 13)]


def test_missed_fires_all_is_bounded_keeping_the_latest() -> None:
    fires = missed_fires(
        HOURLY, utc(2025, 1, 1, 10), utc(2025, 1, 1, 13, 30), catch_up="all", limit=2
    )
    assert fires == [utc(2025, 1, 1, 12), utc(2025, 1, 1, 13)]


def test_missed_fires_all_after_long_downtime_is_quick_and_bounded() -> None:
    every_second = parse_schedule("* * * * * *")
    fires = missed_fires(every_second, utc(2024, 1, 1), utc(2025, 1, 1), catch_up="all", limit=3)
    assert fires == [
        utc(2024, 12, 31, 23, 59, second=58),
        utc(2024, 12, 31, 23, 59, second=59),
        utc(2025, 1, 1),
    ]


def test_missed_fires_none_skips_them() -> None:
    assert missed_fires(HOURLY, utc(2025, 1, 1, 10), utc(2025, 1, 2), catch_up="none") == []


def test_a_fire_exactly_at_now_is_due() -> None:
    now = utc(2025, 1, 1, 13)
    assert missed_fires(HOURLY, utc(2025, 1, 1, 12), now, catch_up="one") == [now]
    assert missed_fires(HOURLY, utc(2025, 1, 1, 12, 30), now, catch_up="all") == [now]


@pytest.mark.parametrize("catch_up", ["one", "all", "none"])
def test_nothing_is_missed_before_the_next_fire(catch_up: str) -> None:
    assert (
        missed_fires(HOURLY, utc(2025, 1, 1, 13), utc(2025, 1, 1, 13, 59), catch_up=catch_up)  # type: ignore[arg-type]
        == []
    )


def test_missed_fires_across_fall_back_skip_the_repeated_hour() -> None:
    schedule = parse_schedule("*/15 * * * *", NEW_YORK)
    # Down from 00:50 EDT to 01:40 EST: 01:00 to 01:30 EST are not fires, and the latest
    # fire, 01:45 EDT, reads later than `now` does.
    down, now = utc(2025, 11, 2, 4, 50), utc(2025, 11, 2, 6, 40)
    first_pass = every(QUARTER, utc(2025, 11, 2, 5), utc(2025, 11, 2, 5, 45))
    assert missed_fires(schedule, down, now, catch_up="all") == first_pass
    assert missed_fires(schedule, down, now, catch_up="one") == [utc(2025, 11, 2, 5, 45)]


def test_missed_fires_refuses_an_unknown_catch_up() -> None:
    with pytest.raises(ValueError, match="catch_up"):
        missed_fires(HOURLY, utc(2025, 1, 1), utc(2025, 1, 2), catch_up="some")  # type: ignore[arg-type]


# -- properties ---------------------------------------------------------------------------


EXPRESSIONS = [
    "*/15 * * * *",
    "0 * * * *",
    "30 2 * * *",
    "30 1 * * *",
    "0 0 * * *",
    "* * * * *",
    "5,35 0-3 * * *",
    "0 2 * * 0",
    "0 0 1 * *",
    "@daily",
    "* * * * * */20",
    "30 1 * * * 15",
]
PROPERTY_ZONES = [
    "UTC",
    NEW_YORK,
    BERLIN,
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
]
# Instants near the 2025 transitions of these zones, where the rules are put to work.
NEAR_TRANSITIONS = [day for _, day in TRANSITION_DAYS[:8]]


instants = st.one_of(
    st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2027, 1, 1)).map(
        lambda moment: moment.replace(tzinfo=UTC)
    ),
    st.builds(
        lambda day, seconds: day - 12 * HOUR + timedelta(seconds=seconds),
        st.sampled_from(NEAR_TRANSITIONS),
        st.integers(min_value=0, max_value=48 * 3600),
    ),
)


@settings(max_examples=150, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    zone=st.sampled_from(PROPERTY_ZONES),
    after=instants,
)
def test_fire_times_are_ordered_distinct_and_follow_the_rules(
    expression: str, zone: str, after: datetime
) -> None:
    schedule = parse_schedule(expression, zone)
    tz = ZoneInfo(zone)
    fires = [next_fire_at(schedule, after=after)]
    for _ in range(11):
        fires.append(next_fire_at(schedule, after=fires[-1]))

    assert fires[0] > after
    assert all(earlier < later for earlier, later in itertools.pairwise(fires))
    readings = [fire.astimezone(tz).replace(tzinfo=None) for fire in fires]
    assert len(set(readings)) == len(readings)
    for fire, reading in zip(fires, readings, strict=True):
        assert fire.tzinfo is UTC
        # Never the second pass of a repeated reading.
        assert fire.astimezone(tz).fold == 0
        # Either the reading matches, or the fire stands for readings lost in a gap.
        lost_in_gap = (fire - timedelta(seconds=1)).astimezone(tz).utcoffset() != (
            fire.astimezone(tz).utcoffset()
        )
        assert croniter.match(expression, reading) or lost_in_gap

    # Walking backward from the last fire finds the same fires.
    between = missed_fires(schedule, after, fires[-1], catch_up="all", limit=100)
    assert between == fires
    assert missed_fires(schedule, after, fires[-1], catch_up="one") == [fires[-1]]
    assert fire_times_between(schedule, after, fires[-1], limit=100) == fires
