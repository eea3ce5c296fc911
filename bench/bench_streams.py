"""Do open event / sync-progress streams slow the control plane? A real ``cirahubctl server``
(embedded Ray, SQLite); latency of a health check and of a unary call (``GetStatus``) with no
stream open, then with N ``WatchEvents`` streams open, alternating the two cases (so load from
other work on the machine hits both alike).

    .venv/bin/python bench/bench_streams.py [--streams 100] [--calls 100] [--rounds 3]

Not a test: it prints a table, nothing is asserted. Everything runs on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cirahub.control.auth import HEADER
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc
from tests.control.conftest import start_server, stop_server


def timed(call: Callable[[], Any], calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def open_streams(address: str, meta: Any, count: int) -> tuple[list[Any], list[Any]]:
    channels = [grpc.insecure_channel(address) for _ in range(max(1, count // 10))]
    calls = [pb_grpc.ControlServiceStub(channels[i % len(channels)]).WatchEvents(
        pb.WatchEventsRequest(), metadata=meta) for i in range(count)]
    for c in calls:
        c.initial_metadata()  # open and counted by the server
    return channels, calls


def ms(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] * 1000 if len(values) > 1 else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, default=100)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(Path(tmp), "--http-listen", "off",
                           "--max-streams", str(args.streams + 10))
        try:
            token = (srv.data_dir / "control.token").read_text().strip()
            meta = ((HEADER, f"Bearer {token}"),)
            channel = grpc.insecure_channel(srv.address)
            stub = pb_grpc.ControlServiceStub(channel)
            health = health_pb2_grpc.HealthStub(channel)
            stub.GetStatus(pb.GetStatusRequest(), metadata=meta, timeout=120)  # warm up
            results: dict[tuple[str, int], list[float]] = {}
            for _ in range(args.rounds):
                for streams in (0, args.streams):
                    channels, calls = open_streams(srv.address, meta, streams)
                    results.setdefault(("health", streams), []).extend(timed(
                        lambda: health.Check(health_pb2.HealthCheckRequest(), timeout=60),
                        args.calls))
                    results.setdefault(("GetStatus", streams), []).extend(timed(
                        lambda: stub.GetStatus(pb.GetStatusRequest(), metadata=meta,
                                               timeout=60), args.calls))
                    for c in calls:
                        c.cancel()
                    for c in channels:
                        c.close()
            print(f"{args.rounds} rounds x {args.calls} calls per case, alternating 0 and "
                  f"{args.streams} open WatchEvents streams")
            print(f"{'call':<10} {'streams':>7} {'p50 ms':>8} {'p90 ms':>8} {'max ms':>8}")
            for (what, streams), values in sorted(results.items()):
                print(f"{what:<10} {streams:>7} {ms(values, 50):>8.2f} {ms(values, 90):>8.2f} "
                      f"{max(values) * 1000:>8.2f}")
        finally:
            stop_server(srv.proc)


if __name__ == "__main__":
    main()
