"""The vdir write path's shared durable barrier (connectors/vdir_barrier.py): concurrent
batches on one file system share one ``syncfs``, and none returns before a ``syncfs`` that
started after its call has completed (what its own ``syncfs`` would have guaranteed).

Driven by a sync function of the test's, gated by events, so which caller waits for which
round is fixed, not left to the scheduler."""

from __future__ import annotations

import errno
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from cirahub.connectors.vdir_barrier import SharedBarrier


class Syncs:
    """A sync function that counts starts and ends; round ``n`` (1-based) waits for
    ``gates[n]`` when the test set one, and fails when ``fail`` holds ``n``."""

    def __init__(self, fail: frozenset[int] = frozenset()) -> None:
        self.lock = threading.Lock()
        self.started = self.finished = 0
        self.gates: dict[int, threading.Event] = {}
        self.began: dict[int, threading.Event] = {n: threading.Event() for n in range(1, 9)}
        self.fail = fail

    def __call__(self, folder: Path) -> None:
        with self.lock:
            self.started += 1
            n = self.started
        self.began[n].set()
        if n in self.gates:
            assert self.gates[n].wait(60)
        with self.lock:
            self.finished += 1
        if n in self.fail:
            raise OSError(errno.EIO, "Input/output error")

    def counts(self) -> tuple[int, int]:
        with self.lock:
            return self.started, self.finished


class Caller(threading.Thread):
    """One batch waiting for the barrier; records the syncs started before its call and the
    syncs finished when it returned."""

    def __init__(self, barrier: SharedBarrier, syncs: Syncs, folder: Path) -> None:
        super().__init__(daemon=True)
        self.barrier, self.syncs, self.folder = barrier, syncs, folder
        self.started_before = -1
        self.finished_after = -1
        self.error: OSError | None = None

    def run(self) -> None:
        self.started_before = self.syncs.counts()[0]
        try:
            self.barrier.wait(self.folder)
        except OSError as exc:
            self.error = exc
        self.finished_after = self.syncs.counts()[1]


def until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + 60
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.001)


def test_callers_during_a_round_share_the_next_one(tmp_path: Path) -> None:
    syncs = Syncs()
    syncs.gates = {1: threading.Event(), 2: threading.Event()}
    barrier = SharedBarrier(syncs)
    first = Caller(barrier, syncs, tmp_path)
    first.start()
    assert syncs.began[1].wait(60)  # the first caller's round runs (held by the test)
    others = [Caller(barrier, syncs, tmp_path) for _ in range(8)]
    for c in others:
        c.start()
    until(lambda: barrier.waiting(tmp_path) == len(others), "every caller joined round 2")
    syncs.gates[1].set()
    first.join(60)
    assert first.finished_after == 1 and first.error is None
    assert syncs.began[2].wait(60)  # one of them leads round 2 for all
    # round 1 started before their calls: it did not make their writes durable
    assert all(c.is_alive() for c in others)
    syncs.gates[2].set()
    for c in others:
        c.join(60)
    assert syncs.counts() == (2, 2)  # nine callers, two syncfs
    assert barrier.rounds(tmp_path) == 2
    for c in [first, *others]:
        assert c.error is None
        # a sync that started after the call had finished when it returned
        assert c.finished_after >= c.started_before + 1


def test_a_failed_round_fails_every_caller_of_it_and_the_next_round_is_new(
        tmp_path: Path) -> None:
    syncs = Syncs(fail=frozenset({2}))
    syncs.gates = {1: threading.Event()}
    barrier = SharedBarrier(syncs)
    first = Caller(barrier, syncs, tmp_path)
    first.start()
    assert syncs.began[1].wait(60)
    failing = [Caller(barrier, syncs, tmp_path) for _ in range(3)]
    for c in failing:
        c.start()
    until(lambda: barrier.waiting(tmp_path) == len(failing), "the callers joined round 2")
    syncs.gates[1].set()
    for c in [first, *failing]:
        c.join(60)
    assert first.error is None
    assert all(c.error is not None and c.error.errno == errno.EIO for c in failing)
    barrier.wait(tmp_path)  # round 3: a new syncfs, which succeeds
    assert syncs.counts() == (3, 3)


def test_a_lone_caller_gets_a_round_of_its_own_each_time(tmp_path: Path) -> None:
    syncs = Syncs()
    barrier = SharedBarrier(syncs)
    for n in range(1, 4):
        barrier.wait(tmp_path)
        assert syncs.counts() == (n, n)


def test_a_missing_folder_raises_without_a_round(tmp_path: Path) -> None:
    syncs = Syncs()
    barrier = SharedBarrier(syncs)
    with pytest.raises(FileNotFoundError):
        barrier.wait(tmp_path / "gone")
    assert syncs.counts() == (0, 0)
