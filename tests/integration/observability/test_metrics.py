"""Metrics: the seven instruments, with the right attributes and values after a workload."""

from __future__ import annotations

from burro.observability.metrics import METRIC_NAMES
from burro.testing import ManualClock, drain
from tests.integration.observability.conftest import Factory, Telemetry, attrs
from tests.integration.runtime import workers

ADD = f"{workers.__name__}.add"
FAILS = f"{workers.__name__}.always_fails"
FLAKY = f"{workers.__name__}.fails_then_succeeds"
RECORD = f"{workers.__name__}.record"
BLOCKS = f"{workers.__name__}.blocks"


def test_counters_and_histograms_after_a_known_workload(
    start_manager: Factory, clock: ManualClock, telemetry: Telemetry
) -> None:
    manager = start_manager(clock=clock, queues={"default": {}, "emails": {}})
    for n in range(3):
        manager.enqueue_task(workers.add, args=[n, n])
    manager.enqueue_task(workers.always_fails, args=["x"], max_attempts=1)
    manager.enqueue_task(
        workers.fails_then_succeeds, args=["f", 1], queue="emails", retry_delay_seconds=10
    )
    drain(manager)
    clock.advance(60)  # the retry is due 10-11 s after the failure: it waits ~50 s
    drain(manager)
    assert set(telemetry.metrics()) == set(METRIC_NAMES)  # exactly these, gauges included
    manager.stop()  # every attempt's reporting is done

    metrics = telemetry.metrics()
    enqueued = {key: point.value for key, point in metrics["burro.jobs.enqueued"].items()}
    assert enqueued == {
        attrs(queue="default", worker=ADD): 3,
        attrs(queue="default", worker=FAILS): 1,
        attrs(queue="emails", worker=FLAKY): 1,
    }
    processed = {key: point.value for key, point in metrics["burro.jobs.processed"].items()}
    assert processed == {
        attrs(queue="default", worker=ADD, status="completed"): 3,
        attrs(queue="default", worker=FAILS, status="discarded"): 1,
        attrs(queue="emails", worker=FLAKY, status="retryable"): 1,
        attrs(queue="emails", worker=FLAKY, status="completed"): 1,
    }
    executions = metrics["burro.jobs.execution.duration"]
    assert {key: point.count for key, point in executions.items()} == processed
    assert all(0 <= point.sum < 5 for point in executions.values())
    waits = metrics["burro.jobs.wait.duration"]
    assert {key: point.count for key, point in waits.items()} == {
        attrs(queue="default", worker=ADD): 3,
        attrs(queue="default", worker=FAILS): 1,
        attrs(queue="emails", worker=FLAKY): 2,
    }
    assert waits[attrs(queue="default", worker=ADD)].sum == 0  # the manual clock stood still
    assert 49 <= waits[attrs(queue="emails", worker=FLAKY)].sum <= 50


def test_gauges_read_queue_sizes_and_worker_slots(
    start_manager: Factory, telemetry: Telemetry, recorder: workers.Recorder
) -> None:
    manager = start_manager(queues={"default": {"concurrency": 2}, "emails": {"concurrency": 3}})
    manager.enqueue_task(workers.blocks, args=["held"])
    assert recorder.started.wait(10)
    manager.pause_queue("emails")
    manager.enqueue_task(workers.record, args=["waiting"], queue="emails")
    manager.schedule_task(workers.record, "record", ["later"], 3600)

    metrics = telemetry.metrics()
    sizes = {key: point.value for key, point in metrics["burro.queue.size"].items()}
    nonzero = {("default", "running"), ("default", "scheduled"), ("emails", "pending")}
    assert sizes == {
        attrs(queue=queue, status=status): int((queue, status) in nonzero)
        for queue in ("default", "emails")
        for status in ("scheduled", "pending", "running", "retryable")
    }
    active = {key: point.value for key, point in metrics["burro.workers.active"].items()}
    assert active == {attrs(queue="default"): 1, attrs(queue="emails"): 0}
    available = {key: point.value for key, point in metrics["burro.workers.available"].items()}
    assert available == {attrs(queue="default"): 1, attrs(queue="emails"): 0}  # paused

    recorder.gate.set()
    manager.stop()
    after = telemetry.metrics()  # a stopped runtime no longer feeds the gauges
    assert not after.get("burro.queue.size")
    assert not after.get("burro.workers.active")


def test_two_runtimes_on_one_store_count_its_queues_once_and_sum_their_workers(
    start_manager: Factory, telemetry: Telemetry
) -> None:
    first = start_manager(queues={"default": {"concurrency": 1}})
    second = start_manager(queues={"default": {"concurrency": 1}})
    metrics = telemetry.metrics()
    assert metrics["burro.workers.available"][attrs(queue="default")].value == 2

    first.pause_queue("default")
    second.pause_queue("default")
    first.enqueue_task(workers.record, args=["a"])
    second.enqueue_task(workers.record, args=["b"])
    metrics = telemetry.metrics()
    assert metrics["burro.queue.size"][attrs(queue="default", status="pending")].value == 2
    assert metrics["burro.workers.available"][attrs(queue="default")].value == 0
