"""The scheduler's fires against a recurring task cancelled or redefined under it.

The scheduler reads every recurring task, then fires or skips each one it read. A cancel
or a redefinition that lands between that read and the scheduler's write must stand.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest

from burro.actors._recurring import fire_due
from burro.observability.events import EventBus
from burro.observability.reporter import LifecycleReporter
from burro.storage import Job, JobFilter, RecurringRecord, Storage, open_storage
from tests.unit.storage.factories import T0

GRACE = timedelta(seconds=1)
#: Down for five fire times of an every-minute task: none of them is on time any more.
NOW = T0 + timedelta(minutes=5, seconds=30)
CATCH_UPS = ["none", "one", "all"]


class RacingStorage:
    """A store that runs ``between`` right after the scheduler has read the recurring tasks."""

    def __init__(self, inner: Storage, between: Callable[[Storage], None]) -> None:
        self._inner = inner
        self._between = between

    def list_recurring(self) -> list[RecurringRecord]:
        records = self._inner.list_recurring()
        self._between(self._inner)
        return records

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


@pytest.fixture(params=["memory", "lmdb"])
def storage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Storage]:
    store = open_storage(request.param, tmp_path / "store", durability="process")
    yield store
    store.close()


def every_minute(catch_up: str, args: tuple[Any, ...] = ("old",)) -> RecurringRecord:
    return RecurringRecord(
        name="report",
        cron_expression="* * * * *",
        timezone="UTC",
        worker="app.reports",
        function="build",
        args=args,
        options={"queue": "reports", "catch_up": catch_up},
        next_fire_at=T0 + timedelta(minutes=1),
    )


def fire(storage: Storage, between: Callable[[Storage], None] = lambda _: None) -> None:
    racing = cast(Storage, RacingStorage(storage, between))
    fire_due(racing, NOW, GRACE, LifecycleReporter(EventBus()))


def jobs(storage: Storage) -> list[Job]:
    found, _ = storage.list_jobs(JobFilter(queue="reports"), offset=0, limit=100)
    return found


def fire_times(storage: Storage) -> list[datetime]:
    return sorted(datetime.fromisoformat(job.meta["fire_at"]) for job in jobs(storage))


@pytest.mark.parametrize("catch_up", CATCH_UPS)
def test_a_task_cancelled_while_the_scheduler_fires_stays_cancelled(
    storage: Storage, catch_up: str
) -> None:
    storage.upsert_recurring(every_minute(catch_up))
    fire(storage, lambda inner: inner.delete_recurring("report"))
    assert storage.get_recurring("report") is None
    assert storage.list_recurring() == []
    assert jobs(storage) == []


@pytest.mark.parametrize("catch_up", CATCH_UPS)
def test_a_task_redefined_while_the_scheduler_fires_keeps_its_new_definition(
    storage: Storage, catch_up: str
) -> None:
    storage.upsert_recurring(every_minute(catch_up))
    hourly = replace(
        every_minute(catch_up, args=("new",)),
        cron_expression="0 * * * *",
        next_fire_at=T0 + timedelta(hours=1),
    )
    fire(storage, lambda inner: inner.upsert_recurring(hourly))
    assert storage.get_recurring("report") == hourly
    assert jobs(storage) == []  # the old schedule's fires were the old definition's


@pytest.mark.parametrize(("catch_up", "owed"), [("none", 0), ("one", 1), ("all", 5)])
def test_fires_owed_when_the_same_schedule_is_redefined_run_the_new_definition_once(
    storage: Storage, catch_up: str, owed: int
) -> None:
    """A redefinition keeping the schedule keeps the fires owed: the next pass runs them."""
    storage.upsert_recurring(every_minute(catch_up))
    renewed = every_minute(catch_up, args=("new",))
    fire(storage, lambda inner: inner.upsert_recurring(renewed))
    assert storage.get_recurring("report") == renewed
    fire(storage)
    fire(storage)
    assert [job.args for job in jobs(storage)] == [("new",)] * owed
    assert fire_times(storage) == [T0 + timedelta(minutes=m) for m in range(6 - owed, 6)]
    moved = storage.get_recurring("report")
    assert moved is not None
    assert moved.next_fire_at == T0 + timedelta(minutes=6)


@pytest.mark.parametrize(("catch_up", "owed"), [("none", 0), ("one", 1), ("all", 5)])
def test_without_interference_the_missed_fires_follow_catch_up_once(
    storage: Storage, catch_up: str, owed: int
) -> None:
    storage.upsert_recurring(every_minute(catch_up))
    fire(storage)
    fire(storage)  # a second scheduler pass at the same time adds nothing
    assert fire_times(storage) == [T0 + timedelta(minutes=m) for m in range(6 - owed, 6)]
    moved = storage.get_recurring("report")
    assert moved is not None
    assert moved.next_fire_at == T0 + timedelta(minutes=6)
    assert moved.args == ("old",)
