"""JobMetrics: one set of gauges per meter provider, fed by every live runtime."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from burro.errors import StorageError
from burro.observability.metrics import JobMetrics, RuntimeGauges
from burro.states import TaskState


class Store:
    def __init__(self, pending: int) -> None:
        self.pending = pending
        self.closed = False

    def counts(self) -> dict[str, dict[TaskState, int]]:
        if self.closed:
            raise StorageError("closed")
        return {"default": {TaskState.PENDING: self.pending}}


class Hub:
    name = "default"
    concurrency = 4

    def __init__(self, busy: int) -> None:
        self.busy = busy

    def running_jobs(self) -> dict[int, str]:
        return {slot: f"job-{slot}" for slot in range(self.busy)}

    def idle_slots(self) -> list[int]:
        return list(range(self.busy, self.concurrency))

    def worker_refs(self) -> dict[int, Any]:
        return dict.fromkeys(range(self.concurrency))


@pytest.fixture
def reader() -> InMemoryMetricReader:
    return InMemoryMetricReader()


@pytest.fixture
def provider(reader: InMemoryMetricReader) -> Iterator[MeterProvider]:
    provider = MeterProvider(metric_readers=[reader], shutdown_on_exit=False)
    yield provider
    provider.shutdown()


def gauge(reader: InMemoryMetricReader, name: str, **attributes: str) -> int | None:
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    if metric.name == name and dict(point.attributes) == attributes:
                        return int(point.value)
    return None


def gauges(store: Store, busy: int, key: str) -> RuntimeGauges:
    return RuntimeGauges(store, {"default": Hub(busy)}, key)  # type: ignore[arg-type]


def test_runtimes_on_one_provider_share_its_gauges(
    reader: InMemoryMetricReader, provider: MeterProvider, caplog: pytest.LogCaptureFixture
) -> None:
    first, second = JobMetrics(provider), JobMetrics(provider)
    one, other = gauges(Store(2), 1, "store-a"), gauges(Store(5), 3, "store-b")
    first.observe(one)
    second.observe(other)

    assert gauge(reader, "burro.queue.size", queue="default", status="pending") == 7
    assert gauge(reader, "burro.workers.active", queue="default") == 4
    assert gauge(reader, "burro.workers.available", queue="default") == 4
    second.forget(other)
    assert gauge(reader, "burro.queue.size", queue="default", status="pending") == 2
    assert not [r for r in caplog.records if r.levelno >= 30]  # no duplicate instruments


def test_a_store_shared_by_two_runtimes_is_counted_once(
    reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    metrics = JobMetrics(provider)
    store = Store(3)
    metrics.observe(gauges(store, 0, "same-dir"))
    metrics.observe(gauges(store, 0, "same-dir"))

    assert gauge(reader, "burro.queue.size", queue="default", status="pending") == 3
    assert gauge(reader, "burro.workers.available", queue="default") == 8


def test_a_closed_store_is_skipped(reader: InMemoryMetricReader, provider: MeterProvider) -> None:
    metrics = JobMetrics(provider)
    store = Store(3)
    metrics.observe(gauges(store, 1, "closed"))
    store.closed = True

    assert gauge(reader, "burro.queue.size", queue="default", status="pending") is None
    assert gauge(reader, "burro.workers.active", queue="default") == 1


def test_a_batch_counts_each_worker_s_jobs_as_a_counter_over_them_would(
    reader: InMemoryMetricReader, provider: MeterProvider
) -> None:
    from collections import Counter

    from burro.storage.base import NewJob

    # Runs of one kind share their strings; equal strings that are other objects, and a
    # kind that comes back after another, still count together.
    media = "".join(["me", "dia"])
    kinds = [
        ("default", "app.mail", "send"),
        ("default", "app.mail", "send"),
        ("media", "app.video", "resize"),
        ("default", "app.mail", "send"),
        (media, "app.video", "resize"),
        ("default", "app.mail", "notify"),
    ]
    jobs = [NewJob(queue, worker, function) for queue, worker, function in kinds]
    JobMetrics(provider).enqueued(jobs)

    expected = Counter((queue, f"{worker}.{function}") for queue, worker, function in kinds)
    for (queue, worker), count in expected.items():
        assert gauge(reader, "burro.jobs.enqueued", queue=queue, worker=worker) == count
