"""Does the HTTP side (console, /metrics, live event streams) slow the gRPC control plane that
runs in the same process? A real ``cirahubctl server`` (embedded Ray, SQLite) with one hub of
a few vdir spokes; gRPC ``GetStatus`` latency is measured alone, then while threads load the
console's dashboard, scrape ``/metrics``, and hold server-sent-event streams open.

    .venv/bin/python bench/bench_console.py [--spokes 4] [--calls 200] [--clients 8]

Not a test: it prints a table, nothing is asserted. Every request goes to 127.0.0.1, and every
loop is bounded by --calls.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cirahub.control.client import Client, resolve
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from tests.control.conftest import start_server, stop_server
from tests.control.test_cli_e2e import event


def grpc_latencies(client: Client, calls: int) -> list[float]:
    out = []
    for _ in range(calls):
        t0 = time.perf_counter()
        client.call("GetStatus", pb.GetStatusRequest())
        out.append(time.perf_counter() - t0)
    return out


def signed_in(url: str, token: str) -> requests.Session:
    s = requests.Session()
    s.trust_env = False
    form = s.get(url + "/signin", timeout=30).text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form).group(1)  # type: ignore[union-attr]
    s.post(url + "/signin", data={"csrf": csrf, "secret": token}, timeout=30)
    return s


def load(url: str, token: str, what: str, stop: threading.Event, calls: int,
         done: list[float]) -> None:
    s = signed_in(url, token)
    if what == "sse":
        with s.get(url + "/events/stream", stream=True, timeout=60) as r:
            for _ in r.iter_lines():
                if stop.is_set():
                    return
        return
    path, headers = ("/", {}) if what == "dashboard" else (
        "/metrics", {"Authorization": f"Bearer {token}"})
    for _ in range(calls):
        if stop.is_set():
            return
        t0 = time.perf_counter()
        s.get(url + path, headers=headers, timeout=60)
        done.append(time.perf_counter() - t0)


def row(name: str, grpc: list[float], http: list[float]) -> str:
    q = statistics.quantiles(grpc, n=20)
    h = f"{statistics.median(http) * 1000:8.1f}" if http else "       —"
    return (f"{name:<28} {statistics.median(grpc) * 1000:8.2f} {q[18] * 1000:8.2f} "
            f"{max(grpc) * 1000:8.2f} {len(http):8d} {h}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spokes", type=int, default=4)
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--clients", type=int, default=8)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="cirahub-bench-") as tmp:
        base = Path(tmp)
        srv = start_server(base, "--http-listen", "127.0.0.1:0", "--log-level", "WARNING")
        try:
            url = (srv.data_dir / "console.address").read_text().strip()
            token = (srv.data_dir / "control.token").read_text().strip()
            assert srv.ctl("hub", "create", "bench").code == 0
            for n in range(args.spokes):
                folder = base / f"s{n}"
                folder.mkdir()
                for i in range(50):
                    (folder / f"e{i}.ics").write_text(event(f"s{n}-{i}@bench", f"Event {i}"))
                assert srv.ctl("spoke", "add", "bench", f"s{n}", "--kind", "vdir", "--path",
                               str(folder)).code == 0
            assert srv.ctl("sync", "bench").code == 0
            client = Client(resolve(None, None, str(srv.data_dir), None, None))
            print(f"{args.spokes} spokes, {args.calls} GetStatus calls per case, "
                  f"{args.clients} HTTP clients\n")
            print(f"{'case':<28} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'http n':>8} "
                  f"{'http p50':>8}")
            grpc_latencies(client, 20)  # warm-up
            print(row("gRPC alone", grpc_latencies(client, args.calls), []))
            for what in ("dashboard", "metrics", "sse"):
                stop, done = threading.Event(), []
                threads = [threading.Thread(target=load, args=(url, token, what, stop,
                                                               args.calls, done), daemon=True)
                           for _ in range(args.clients)]
                for t in threads:
                    t.start()
                time.sleep(0.5)  # let the HTTP load start before measuring
                lat = grpc_latencies(client, args.calls)
                stop.set()
                for t in threads:
                    t.join(5 if what == "sse" else 120)
                print(row(f"gRPC + {args.clients} x {what}", lat, done))
            client.close()
        finally:
            stop_server(srv.proc)


if __name__ == "__main__":
    main()
