"""Idle footprint of the Ray runtime hosting many spokes.

Starts an embedded runtime (SQLite in a temporary folder), attaches ``--spokes`` memory spokes
(empty in-memory calendars, one hub) polling every ``--interval`` seconds, waits until every
spoke finished its first run, then measures over ``--measure`` seconds: resident memory (RSS)
and CPU of every process of the Ray session (this driver's process tree), grouped by role.

    .venv/bin/python bench/bench_spokes_idle.py [--spokes 2000] [--interval 60] [--measure 60]

Not a test: it prints a table, nothing is asserted.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import psutil
import ray

from cirahub.actors.runtime import Runtime
from cirahub.cluster.settings import Settings


def role(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return "gone"
    for marker, name in (("ray::SpokeActor", "spoke actors"), ("ray::HubActor", "hub actor"),
                         ("ray::Supervisor", "supervisor"), ("ray::IDLE", "idle workers"),
                         ("raylet", "raylet"), ("gcs_server", "gcs_server"),
                         ("dashboard", "dashboard + agents"), ("runtime_env", "dashboard + agents"),
                         ("RuntimeEnvAgent", "dashboard + agents"),
                         ("log_monitor", "log monitor"), ("monitor.py", "autoscaler monitor")):
        if marker in cmd:
            return name
    return "other ray"


def session_processes() -> list[psutil.Process]:
    return psutil.Process().children(recursive=True)


def snapshot() -> dict[int, tuple[str, float, int]]:
    """pid → (role, cpu seconds, rss bytes)."""
    out = {}
    for p in session_processes():
        try:
            t = p.cpu_times()
            out[p.pid] = (role(p), t.user + t.system, p.memory_info().rss)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spokes", type=int, default=2000)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--measure", type=float, default=60.0)
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="cirahub-bench-"))
    t0 = time.monotonic()
    rt = Runtime.start(Settings(data_dir=data, num_cpus=2))
    print(f"runtime started in {time.monotonic() - t0:.1f} s")
    store = rt.store
    store.create_hub("bench")
    t0 = time.monotonic()
    for i in range(args.spokes):
        store.add_spoke("bench", f"m{i:05d}", "memory", {"calendar": f"bench-{i}"},
                        {"interval_seconds": args.interval})
    print(f"{args.spokes} spokes stored in {time.monotonic() - t0:.1f} s")
    t0 = time.monotonic()
    report = rt.reconcile()
    while True:
        live = ray.get(rt.supervisor.status.remote())
        first_runs = sum(1 for s in live if s["runs"] > 0)
        if len(live) >= args.spokes and first_runs >= args.spokes:
            break
        time.sleep(1)
        rt.reconcile()
    print(f"assigned to {report['actors']} spoke actors; first runs of all spokes done in "
          f"{time.monotonic() - t0:.1f} s")

    before, t_start = snapshot(), time.monotonic()
    runs_before = sum(s["runs"] for s in ray.get(rt.supervisor.status.remote()))
    time.sleep(args.measure)
    after, wall = snapshot(), time.monotonic() - t_start
    live = ray.get(rt.supervisor.status.remote())
    runs = sum(s["runs"] for s in live) - runs_before
    errors = sum(1 for s in live if s["failures"])

    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for pid, (name, cpu, rss) in after.items():
        row = rows[name]
        row[0] += 1
        row[1] += rss / 2**20
        row[2] += (cpu - before.get(pid, (name, cpu, 0))[1]) / wall * 100
    me = psutil.Process()
    rows["driver (this process)"] = [1, me.memory_info().rss / 2**20, float("nan")]
    print(f"\n{args.spokes} memory spokes, interval {args.interval} s, measured {wall:.0f} s "
          f"({runs} runs, {runs / wall:.1f} runs/s, spokes with failures: {errors})")
    print(f"{'role':<24}{'procs':>6}{'RSS MiB':>10}{'CPU %':>8}")
    total_rss = total_cpu = 0.0
    for name, (n, rss, cpu) in sorted(rows.items(), key=lambda kv: -kv[1][1]):
        print(f"{name:<24}{int(n):>6}{rss:>10.0f}{cpu:>8.1f}")
        total_rss += rss
        total_cpu += 0 if cpu != cpu else cpu
    print(f"{'total':<24}{'':>6}{total_rss:>10.0f}{total_cpu:>8.1f}")
    print("(CPU % is of one core; the driver's CPU is not counted)")
    rt.shutdown(stop_actors=True)


if __name__ == "__main__":
    main()
