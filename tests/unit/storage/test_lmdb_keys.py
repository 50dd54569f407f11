"""Time keys of the LMDB store: exact microseconds, in the order of the times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from burro.storage._lmdb_keys import U64, from_micros, micros, signed

_OFFSETS = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
_MOMENTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=_OFFSETS
)


@given(_MOMENTS)
def test_a_time_key_counts_the_exact_microseconds_since_the_epoch(moment: datetime) -> None:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    assert micros(moment) == signed((moment - epoch) // timedelta(microseconds=1))
    assert from_micros(micros(moment)) == moment


@given(_MOMENTS, _MOMENTS)
def test_time_keys_sort_as_their_times(first: datetime, second: datetime) -> None:
    a, b = U64.pack(micros(first)), U64.pack(micros(second))
    assert (a < b) == (first < second)
    assert (a == b) == (first == second)
