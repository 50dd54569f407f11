"""Metrics on the OpenTelemetry API: the seven instruments of DESIGN.md section 4.

* ``burro.jobs.enqueued`` (counter; ``queue``, ``worker``): jobs stored.
* ``burro.jobs.processed`` (counter; ``queue``, ``worker``, ``status``): finished
  attempts, ``status`` being the state each left its job in (completed, retryable,
  discarded, cancelled).
* ``burro.jobs.execution.duration`` (histogram, s; ``queue``, ``worker``, ``status``):
  how long an attempt's code ran.
* ``burro.jobs.wait.duration`` (histogram, s; ``queue``, ``worker``): from falling due
  to starting.
* ``burro.queue.size`` (observable gauge, from storage counts; ``queue``, ``status``):
  jobs scheduled, pending, running and retryable.
* ``burro.workers.active`` / ``burro.workers.available`` (observable gauges; ``queue``):
  busy workers, and idle ones able to take a job now (none while a queue is paused).

Instruments are made once per meter provider and attribute sets are cached, so a job
costs a few dictionary look-ups plus the API's calls (no-ops without an SDK).
"""

from __future__ import annotations

import logging
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Histogram, Meter, MeterProvider, Observation

from burro.observability.capacity import SlotTable
from burro.observability.logs import worker_name
from burro.states import ACTIVE_STATES, TaskState
from burro.storage.base import Job, NewJob, Storage

__all__ = ["METRIC_NAMES", "JobMetrics", "RuntimeGauges"]

logger = logging.getLogger("burro.metrics")

ENQUEUED = "burro.jobs.enqueued"
PROCESSED = "burro.jobs.processed"
EXECUTION_DURATION = "burro.jobs.execution.duration"
WAIT_DURATION = "burro.jobs.wait.duration"
QUEUE_SIZE = "burro.queue.size"
WORKERS_ACTIVE = "burro.workers.active"
WORKERS_AVAILABLE = "burro.workers.available"
METRIC_NAMES = (
    ENQUEUED,
    PROCESSED,
    EXECUTION_DURATION,
    WAIT_DURATION,
    QUEUE_SIZE,
    WORKERS_ACTIVE,
    WORKERS_AVAILABLE,
)

#: Seconds; from a no-op job to an hour-long one.
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
_QUEUE_SIZE_STATES = tuple(state for state in TaskState if state in ACTIVE_STATES)
_MAX_CACHED_ATTRIBUTES = 1_024

Attributes = Mapping[str, str]


class RuntimeGauges:
    """What one runtime contributes to the observable gauges.

    ``store_key`` names the store: runtimes of one process sharing a data directory
    report its queue sizes once.
    """

    def __init__(self, storage: Storage, hubs: Mapping[str, SlotTable], store_key: object) -> None:
        self.store_key = store_key
        self._storage = storage
        self._hubs = hubs

    def queue_sizes(self) -> dict[str, dict[TaskState, int]]:
        """Jobs per queue per state, as storage counts them (nothing if it is closed)."""
        try:
            return self._storage.counts()
        except Exception:  # a closed or failing store: this collection skips it
            logger.debug("queue sizes unavailable", exc_info=True)
            return {}

    def worker_slots(self) -> Iterator[tuple[str, int, int]]:
        """``(queue, active, available)`` for each queue this runtime runs workers for."""
        for hub in list(self._hubs.values()):
            if hub.worker_refs():
                yield hub.name, len(hub.running_jobs()), len(hub.idle_slots())


class _Gauges:
    """The observable gauges of one meter provider, fed by every live runtime."""

    def __init__(self, meter: Meter) -> None:
        self._lock = threading.Lock()
        self._sources: list[RuntimeGauges] = []
        meter.create_observable_gauge(
            QUEUE_SIZE, [self._queue_sizes], unit="{job}", description="Jobs not finished yet"
        )
        meter.create_observable_gauge(
            WORKERS_ACTIVE, [self._active], unit="{worker}", description="Workers running a job"
        )
        meter.create_observable_gauge(
            WORKERS_AVAILABLE, [self._available], unit="{worker}", description="Idle workers"
        )

    def add(self, source: RuntimeGauges) -> None:
        with self._lock:
            self._sources.append(source)

    def remove(self, source: RuntimeGauges) -> None:
        with self._lock:
            self._sources = [s for s in self._sources if s is not source]

    def _live(self) -> list[RuntimeGauges]:
        with self._lock:
            return list(self._sources)

    def _queue_sizes(self, _options: CallbackOptions) -> Iterable[Observation]:
        totals: Counter[tuple[str, str]] = Counter()
        seen: set[object] = set()
        for source in self._live():
            if source.store_key in seen:
                continue
            seen.add(source.store_key)
            for queue, by_state in source.queue_sizes().items():
                for state in _QUEUE_SIZE_STATES:
                    totals[queue, state.value] += by_state.get(state, 0)
        return [Observation(n, {"queue": q, "status": s}) for (q, s), n in sorted(totals.items())]

    def _active(self, _options: CallbackOptions) -> Iterable[Observation]:
        return self._workers(lambda active, _available: active)

    def _available(self, _options: CallbackOptions) -> Iterable[Observation]:
        return self._workers(lambda _active, available: available)

    def _workers(self, pick: Callable[[int, int], int]) -> list[Observation]:
        totals: Counter[str] = Counter()
        for source in self._live():
            for queue, active, available in source.worker_slots():
                totals[queue] += pick(active, available)
        return [Observation(n, {"queue": queue}) for queue, n in sorted(totals.items())]


# The SDK keeps the first observable gauge of a name and ignores the callbacks of later
# ones, so each provider gets one set of gauges that every runtime feeds.
_GAUGES: weakref.WeakKeyDictionary[object, _Gauges] = weakref.WeakKeyDictionary()
_GAUGES_LOCK = threading.Lock()


class _GlobalProvider:
    """Stands for "the global meter provider" as a key of ``_GAUGES``."""


_GLOBAL = _GlobalProvider()


class JobMetrics:
    """Records burro's metrics on one meter (from ``meter_provider``, or the global one)."""

    def __init__(self, meter_provider: MeterProvider | None = None) -> None:
        from burro import __version__

        self._provider = meter_provider
        meter = metrics.get_meter("burro", __version__, meter_provider)
        self._meter = meter
        self._enqueued = meter.create_counter(
            ENQUEUED, unit="{job}", description="Jobs stored to run"
        )
        self._processed = meter.create_counter(
            PROCESSED, unit="{job}", description="Attempts finished, by resulting state"
        )
        self._execution = _histogram(meter, EXECUTION_DURATION, "Time an attempt's code ran")
        self._wait = _histogram(meter, WAIT_DURATION, "Time from due to started")
        self._attributes: dict[tuple[str, ...], Attributes] = {}

    # -- jobs ------------------------------------------------------------------------
    def enqueued(self, jobs: Sequence[NewJob]) -> None:
        """Count newly stored jobs."""
        if len(jobs) == 1:  # enqueue_task: the cached attributes read here, not by a call
            job = jobs[0]
            attributes = self._attributes.get((job.queue, job.worker, job.function))
            if attributes is None:
                attributes = self._job_attributes(job.queue, job.worker, job.function)
            self._enqueued.add(1, attributes)
            return
        for (queue, worker, function), count in _jobs_per_worker(jobs).items():
            self._enqueued.add(count, self._job_attributes(queue, worker, function))

    def started(self, job: Job) -> None:
        """Record how long a job waited between falling due and starting."""
        attempted_at = job.attempted_at
        if attempted_at is not None:
            waited = (attempted_at - job.scheduled_at).total_seconds()
            # The cached attributes read here, not by a call: this runs for every attempt.
            attributes = self._attributes.get((job.queue, job.worker, job.function))
            if attributes is None:
                attributes = self._job_attributes(job.queue, job.worker, job.function)
            self._wait.record(max(waited, 0.0), attributes)

    def processed(self, job: Job, seconds: float) -> None:
        """Count a finished attempt and record how long its code ran."""
        key = (job.queue, job.worker, job.function, job.state)
        attributes = self._attributes.get(key)
        if attributes is None:
            base = self._job_attributes(job.queue, job.worker, job.function)
            attributes = self._remember(key, {**base, "status": job.state.value})
        self._processed.add(1, attributes)
        self._execution.record(seconds, attributes)

    def _job_attributes(self, queue: str, worker: str, function: str) -> Attributes:
        key = (queue, worker, function)
        attributes = self._attributes.get(key)
        if attributes is None:
            attributes = {"queue": queue, "worker": worker_name(worker, function)}
            self._remember(key, attributes)
        return attributes

    def _remember(self, key: tuple[str, ...], attributes: Attributes) -> Attributes:
        if len(self._attributes) >= _MAX_CACHED_ATTRIBUTES:
            self._attributes.clear()
        self._attributes[key] = attributes
        return attributes

    # -- gauges ------------------------------------------------------------------------
    def observe(self, source: RuntimeGauges) -> None:
        """Feed the observable gauges from a runtime, until :meth:`forget`."""
        self._gauges().add(source)

    def forget(self, source: RuntimeGauges) -> None:
        """Stop feeding the gauges from a runtime (it stopped)."""
        self._gauges().remove(source)

    def _gauges(self) -> _Gauges:
        key = self._provider if self._provider is not None else _GLOBAL
        with _GAUGES_LOCK:
            gauges = _GAUGES.get(key)
            if gauges is None:
                gauges = _GAUGES[key] = _Gauges(self._meter)
            return gauges


def _jobs_per_worker(jobs: Sequence[NewJob]) -> dict[tuple[str, str, str], int]:
    """How many of ``jobs`` (at least one) each ``(queue, worker, function)`` has.

    Jobs of a batch come in runs of one kind, sharing these very strings: a job whose
    strings are those of the job before is counted without building or hashing a key.
    """
    counts: dict[tuple[str, str, str], int] = {}
    queue, worker, function = jobs[0].queue, jobs[0].worker, jobs[0].function
    run = 0
    for job in jobs:
        if not (job.queue is queue and job.worker is worker and job.function is function):
            counts[queue, worker, function] = counts.get((queue, worker, function), 0) + run
            queue, worker, function, run = job.queue, job.worker, job.function, 0
        run += 1
    counts[queue, worker, function] = counts.get((queue, worker, function), 0) + run
    return counts


def _histogram(meter: Meter, name: str, description: str) -> Histogram:
    try:
        return meter.create_histogram(
            name,
            unit="s",
            description=description,
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
    except TypeError:  # an API older than 1.23 takes no advisory
        return meter.create_histogram(name, unit="s", description=description)
