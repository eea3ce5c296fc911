"""``BaseConnector.write_stream``: batches through one set of threads, outcomes in order, one
item's writes in order across batches, at most ``parallel`` calls at once (checks included),
a bug failing its batch only. No server: the writes are functions gated by events."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from cirahub.connectors.base import BaseConnector, Write, WriteOutcome, WriteResult, WriteStream
from cirahub.core.errors import PreconditionFailed


def _w(rid: str, op: str = "delete") -> Write:
    return Write(op, f"hub-{rid}", remote_id=rid, expected_version="v")


class _Gauge:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.most = 0
        self.log: list[str] = []

    def __enter__(self) -> None:
        with self.lock:
            self.now += 1
            self.most = max(self.most, self.now)

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.now -= 1


def test_outcomes_in_order_and_one_items_writes_in_order_across_batches() -> None:
    gauge, release = _Gauge(), threading.Event()

    def write(w: Write) -> WriteOutcome:
        with gauge:
            if w.remote_id == "a" and w.hub_item_id == "hub-a":  # the first write of "a"
                release.wait(10)
            with gauge.lock:
                gauge.log.append(f"{w.remote_id}:{w.op}")
            if w.remote_id == "bad":
                return PreconditionFailed("changed", remote_id="bad")
            return WriteResult(w.remote_id or "", w.op)

    def check(writes: Sequence[Write], out: list[WriteOutcome]) -> list[WriteOutcome]:
        with gauge:
            return out

    with WriteStream(write, 3, check) as stream:
        first = stream.submit([_w("a"), _w("b"), _w("bad")])
        second = stream.submit([Write("update", "hub-a2", remote_id="a", expected_version="v"),
                                _w("c")])
        release.set()
        out1, out2 = first.result(10), second.result(10)
    assert [getattr(o, "remote_id", None) for o in out1] == ["a", "b", None]
    assert isinstance(out1[2], PreconditionFailed)
    assert [o.remote_version for o in out2 if isinstance(o, WriteResult)] == ["update", "delete"]
    assert gauge.log.index("a:delete") < gauge.log.index("a:update")
    assert gauge.most <= 3


def test_a_bug_in_a_write_fails_its_batch_and_the_stream_closes() -> None:
    def write(w: Write) -> WriteOutcome:
        if w.remote_id == "boom":
            raise RuntimeError("a bug")
        return WriteResult(w.remote_id or "", "1")

    with WriteStream(write, 2) as stream:
        broken = stream.submit([_w("x"), _w("boom")])
        fine = stream.submit([_w("y")])
        with pytest.raises(RuntimeError, match="a bug"):
            broken.result(10)
        assert [o.remote_id for o in fine.result(10)] == ["y"]  # type: ignore[union-attr]


class _Loop(BaseConnector):
    write_parallel = 2


class _Batched(_Loop):
    def write_many(self, writes: Sequence[Write]) -> list[WriteOutcome]:
        return []


def test_a_stream_only_for_parallel_writes_of_the_base_loop() -> None:
    stream = _Loop().write_stream()
    assert stream is not None
    stream.close()
    assert _Batched().write_stream() is None  # its own write_many (a batch API) is kept
    one = _Loop()
    one.write_parallel = 1
    assert one.write_stream() is None
