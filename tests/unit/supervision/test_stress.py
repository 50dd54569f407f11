"""Random crashes while messages flow: no message reaches a dead incarnation, no deadlock."""

from __future__ import annotations

import itertools
import queue
import random
import threading
from dataclasses import dataclass, field
from typing import Any

import pykka

from burro.supervision import ChildSpec, RestartEvent, SupervisedActor, inject_failure
from burro.supervision._lifeline import lifeline_of
from tests.unit.supervision.support import WAIT, child_of, start_supervisor

WORKERS = 4
CRASHES = 150
BATCH = 8  # tells between two asks: keeps inboxes short, so crashes are not queued for long
SEED = 20240607


@dataclass
class Ledger:
    """A total order of events: each message handled, and each incarnation's exit."""

    ticks: itertools.count[int] = field(default_factory=itertools.count)
    lock: threading.Lock = field(default_factory=threading.Lock)
    handled: dict[str, list[int]] = field(default_factory=dict)
    exited_at: dict[str, int] = field(default_factory=dict)
    handled_while_stopped: int = 0

    def note_handled(self, urn: str, stopped: bool) -> None:
        with self.lock:
            self.handled.setdefault(urn, []).append(next(self.ticks))
            self.handled_while_stopped += stopped

    def note_exit(self, urn: str) -> None:
        with self.lock:
            self.exited_at[urn] = next(self.ticks)

    def handled_after_exit(self) -> list[str]:
        with self.lock:
            return [
                urn
                for urn, ticks in self.handled.items()
                if urn not in self.exited_at or max(ticks) > self.exited_at[urn]
            ]


class Worker(SupervisedActor):
    def __init__(self, ledger: Ledger) -> None:
        super().__init__()
        self.ledger = ledger
        lifeline = lifeline_of(self.actor_ref)
        assert lifeline is not None
        urn = self.actor_urn
        lifeline.watch(lambda _exit: ledger.note_exit(urn))

    def on_receive(self, message: Any) -> Any:
        self.ledger.note_handled(self.actor_urn, self.actor_stopped.is_set())
        return message


@dataclass
class Producer:
    """Sends work to random children, following each one to its next incarnation."""

    supervisor: pykka.ActorRef[Any]
    stop: threading.Event
    seed: int
    sent: int = 0
    refs: dict[str, pykka.ActorRef[Any]] = field(default_factory=dict)

    def run(self) -> None:
        rng = random.Random(self.seed)
        while not self.stop.is_set():
            child_id = f"w{rng.randrange(WORKERS)}"
            try:
                self._send_batch(self._ref(child_id))
            except pykka.ActorDeadError:
                self.refs.pop(child_id)  # crashed meanwhile: ask for the new incarnation

    def _ref(self, child_id: str) -> pykka.ActorRef[Any]:
        if child_id not in self.refs:
            self.refs[child_id] = child_of(self.supervisor, child_id)
        return self.refs[child_id]

    def _send_batch(self, ref: pykka.ActorRef[Any]) -> None:
        for _ in range(BATCH):
            ref.tell("work")
            self.sent += 1
        ref.ask("sync", timeout=WAIT)


def _read_trees(supervisor: pykka.ActorRef[Any], stop: threading.Event, reads: list[int]) -> None:
    while not stop.is_set():
        supervisor.proxy().tree().get(timeout=WAIT)
        reads[0] += 1


def test_random_crashes_while_messages_flow() -> None:
    threads_before, baseline = set(threading.enumerate()), threading.active_count()
    ledger, restarted = Ledger(), queue.Queue[RestartEvent]()
    specs = [ChildSpec(f"w{i}", lambda: Worker.start(ledger)) for i in range(WORKERS)]
    supervisor = start_supervisor(
        *specs, max_restarts=CRASHES * 2, max_seconds=60, on_restart=restarted.put
    )
    stop, reads = threading.Event(), [0]
    producers = [Producer(supervisor, stop, SEED + i) for i in range(2)]
    traffic = [threading.Thread(target=p.run) for p in producers]
    traffic.append(threading.Thread(target=_read_trees, args=(supervisor, stop, reads)))
    for thread in traffic:
        thread.start()

    rng = random.Random(SEED)
    for _ in range(CRASHES):
        child_id = f"w{rng.randrange(WORKERS)}"
        inject_failure(child_of(supervisor, child_id))
        assert restarted.get(timeout=WAIT).child_id == child_id

    stop.set()
    for thread in traffic:
        thread.join(WAIT)
    tree = supervisor.proxy().tree().get(timeout=WAIT)
    supervisor.stop(timeout=WAIT)
    for thread in set(threading.enumerate()) - threads_before:
        thread.join(WAIT)

    assert tree["restarts"] == CRASHES and all(c["alive"] for c in tree["children"])
    assert sum(p.sent for p in producers) > CRASHES and reads[0] > 0
    assert ledger.handled_while_stopped == 0
    assert ledger.handled_after_exit() == []
    assert len(ledger.exited_at) == CRASHES + WORKERS
    assert threading.active_count() == baseline
