"""Judging a worker's outcome: the common results' short cut matches the general path."""

from __future__ import annotations

from typing import Any

import pytest

from burro.actors._execute import Outcome, _returned_outcome, call_worker
from burro.facade._worker import WorkerTarget


@pytest.mark.parametrize(
    "value",
    [None, True, 0, 2**64, -(2**63) - 1, 1.5, "text", "\udc80", b"raw", [1, "a"], {"k": [2]}, {}],
)
def test_a_plain_result_is_judged_as_the_general_path_judges_it(value: Any) -> None:
    outcome = call_worker(WorkerTarget(lambda: value, {}), ())
    assert type(outcome) is Outcome
    assert outcome == _returned_outcome(value)
    assert outcome._asdict() == _returned_outcome(value)._asdict()
