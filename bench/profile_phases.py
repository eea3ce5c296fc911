"""Time-line of the engine's 2-folder sync (helper "phases"): where each sync's wall and CPU go.

Runs the bench's in-process engine (:class:`bench.drivers.Engine`) on 2 folders x N events:
initial, no-change, edits (1 % each side + 0.25 % deletes), and prints for every phase the
wall time, this process's CPU (rusage), the parse workers' CPU (/proc) and, per step of each
run (pull listing, plan, merge, push), when it started and ended and the CPU it took.

    .venv/bin/python bench/profile_phases.py [--n 5000] [--reps 2] [--profile initial|edits]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.calendars import Truth, check_folder, edit_folder, fill_folder  # noqa: E402
from bench.drivers import Engine  # noqa: E402

_TICKS = os.sysconf("SC_CLK_TCK")
steps: list[tuple[str, float, float, float]] = []  # name, start, end, cpu
_t0 = [0.0]
QUIET = "--quiet" in sys.argv


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def workers_cpu() -> float:
    from cirahub.connectors import parse_pool
    total = 0.0
    for pid in parse_pool.worker_pids():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _TICKS
    return total


def wrap(owner: Any, name: str, label: str) -> None:
    fn = getattr(owner, name)

    def timed(*args: Any, **kwargs: Any) -> Any:
        start, cpu = time.perf_counter(), _cpu()
        try:
            return fn(*args, **kwargs)
        finally:
            steps.append((label, start - _t0[0], time.perf_counter() - _t0[0], _cpu() - cpu))

    setattr(owner, name, timed)


def instrument() -> None:
    from cirahub.actors import cycle, pulling, pushing, sync_pass
    from cirahub.connectors import vdir
    wrap(vdir.VdirConnector, "delta", "listing+parse")
    wrap(sync_pass, "first_plan", "plan")
    wrap(cycle.LocalMerger, "merge", "merge")
    wrap(pushing.Pusher, "push", "push")
    wrap(pushing.Pusher, "push_touched", "push_touched")
    wrap(pushing.Pusher, "send", "  send")
    wrap(pulling, "plan_pull", "  plan_pull")


def phase(name: str, fn: Callable[[], None]) -> None:
    steps.clear()
    w0, c0, p0 = time.perf_counter(), _cpu(), workers_cpu()
    _t0[0] = w0
    fn()
    wall, cpu, wcpu = time.perf_counter() - w0, _cpu() - c0, workers_cpu() - p0
    print(f"{name:10s} wall {wall:6.2f} s  cpu(main) {cpu:6.2f} s  cpu(workers) {wcpu:5.2f} s"
          f"  load {os.getloadavg()[0]:.1f}", flush=True)
    for label, start, end, scpu in steps if not QUIET else ():
        print(f"    {label:14s} {start:6.2f} -> {end:6.2f}  ({end - start:5.2f} s wall,"
              f" {scpu:5.2f} s cpu)")


def one(n: int, profile: str | None, rng: random.Random) -> None:
    with tempfile.TemporaryDirectory(prefix="phases-") as tmp:
        root = Path(tmp)
        folders = [root / "f0", root / "f1"]
        truth = Truth()
        fill_folder(folders[0], n, truth)
        folders[1].mkdir()
        engine = Engine(root / "tool", [{"kind": "vdir", "path": str(f)} for f in folders])

        def run(kind: str) -> Callable[[], None]:
            if profile != kind:
                return engine.sync
            def profiled() -> None:
                from pyinstrument import Profiler
                p = Profiler(interval=0.001)
                p.start()
                engine.sync()
                p.stop()
                out = root.parent / f"phases-{kind}.txt"
                out.write_text(p.output_text(unicode=False, color=False, show_all=False))
                print("profile:", out)
            return profiled

        phase("initial", run("initial"))
        for f in folders:
            check_folder(f, truth)
        if "--initial-only" in sys.argv:
            engine.close()
            return
        phase("no-change", run("nochange"))
        touched = edit_folder(folders[0], truth, rng, n // 100, n // 400, "edited in 0", set())
        edit_folder(folders[1], truth, rng, n // 100, n // 400, "edited in 1", touched)
        phase("edits", run("edits"))
        for f in folders:
            check_folder(f, truth)
        engine.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=1)
    ap.add_argument("--profile", choices=["initial", "nochange", "edits"])
    ap.add_argument("--quiet", action="store_true", help="no steps, the phases only")
    ap.add_argument("--initial-only", action="store_true")
    args = ap.parse_args()
    instrument()
    rng = random.Random(7)
    for _ in range(args.reps):
        print(f"load {os.getloadavg()[0]:.1f}")
        one(args.n, args.profile, rng)


if __name__ == "__main__":
    main()
