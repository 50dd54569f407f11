"""The chunked sorted set under the in-memory store's indexes, against a plain sorted list."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from burro.storage._memory_index import SortedKeys


class TinyChunks(SortedKeys):
    """Chunks of four keys, so a few dozen operations split and drop chunks."""

    _CHUNK = 2


operations = st.lists(
    st.tuples(st.booleans(), st.integers(min_value=0, max_value=60)), max_size=200
)


@settings(max_examples=100, deadline=None)
@given(operations=operations)
def test_matches_a_sorted_list(operations: list[tuple[bool, int]]) -> None:
    keys = TinyChunks()
    model: set[tuple[int, ...]] = set()
    for adding, value in operations:
        key = (value % 7, value)
        if adding and key not in model:
            keys.add(key)
            model.add(key)
        elif not adding and key in model:
            keys.remove(key)
            model.discard(key)
        assert len(keys) == len(model)
        assert list(keys.ordered()) == sorted(model)
        assert list(keys.ordered(descending=True)) == sorted(model, reverse=True)
        assert keys.first() == (min(model) if model else None)


def test_many_keys_in_random_order() -> None:
    shuffled = [(n % 10, n) for n in range(5000)]
    random.Random(7).shuffle(shuffled)
    keys = SortedKeys()
    for key in shuffled:
        keys.add(key)
    assert list(keys.ordered()) == sorted(shuffled)
    for key in shuffled[::2]:
        keys.remove(key)
    assert list(keys.ordered()) == sorted(shuffled[1::2])
    assert len(keys) == 2500


def test_removing_a_missing_key_is_a_key_error() -> None:
    keys = SortedKeys()
    keys.add((1, 1))
    for missing in [(0, 0), (1, 0), (2, 0)]:
        with pytest.raises(KeyError):
            keys.remove(missing)
    assert list(keys.ordered()) == [(1, 1)]
