"""Propagation: how long an event created in one vdir spoke takes to be in every other spoke.

Starts an embedded runtime (SQLite in a temporary folder), one hub with ``--spokes`` vdir
spokes. The source spoke polls every ``--interval`` seconds; the others poll hourly, so only
the fan-out (a push run per other spoke after a merge that changed the hub) can carry the
change within the measurement. Two ways to make the change:

- ``poll``: write the file and wait for the source's own poll (the edit lands at a random
  moment of its interval), target p95 <= interval + 2 s;
- ``sync``: write the file and run ``sync`` of the source spoke; latency counted from the
  moment ``sync`` returned (target p95 <= 2 s), and from the edit.

"Visible" is the moment the spoke's link to the new hub item is committed, which the cycle
does only after the write to the spoke succeeded; every sample is then checked in the files.
Cost: push runs (trigger ``fanout``) per other spoke per change, from the run records.

    .venv/bin/python bench/bench_propagation.py [--spokes 3] [--interval 5] [--samples 20]

``--in-process``: no Ray and no polls; a spoke actor as a plain object in this process hosts
every spoke, and each sample is the fan-out of one edit alone (the source's run merges it,
then the actor is told as the hub actor would tell it): the time until every other spoke
holds it and this process's CPU per push run.

Not a test: it prints a table, nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import ray
from sqlalchemy import func, select

from cirahub.actors.cycle import LocalMerger, SyncCycle
from cirahub.actors.runtime import Runtime
from cirahub.actors.spoke import SpokeActor
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.names import SPOKE_ACTOR_PREFIX, named_actors
from cirahub.cluster.settings import Settings
from cirahub.connectors.registry import open_connector
from cirahub.store import Store
from cirahub.store import models as m

HUB = "prop"


def ics(uid: str) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cirahub bench//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20261101T080000Z\r\nDTSTART:20261203T090000Z\r\n"
            f"DTEND:20261203T100000Z\r\nSUMMARY:{uid}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


class Bench:
    def __init__(self, store: Store, root: Path, spokes: int, interval: int,
                 rt: Runtime | None = None) -> None:
        self.store = store
        self._rt = rt
        self.store.create_hub(HUB)
        self.hub_id = self.store.get_hub(HUB).id
        self.folders: list[Path] = []
        self.ids: list[str] = []
        for i in range(spokes):
            folder = root / f"s{i:04d}"
            folder.mkdir()
            every = interval if i == 0 else 3600
            self.ids.append(self.store.add_spoke(HUB, f"s{i:04d}", "vdir", {"path": str(folder)},
                                                 {"interval_seconds": every}).id)
            self.folders.append(folder)

    @property
    def rt(self) -> Runtime:
        assert self._rt is not None, "no runtime in process"
        return self._rt

    def wait_first_runs(self) -> None:
        self.rt.reconcile()
        while any(self.store.get_spoke(i).first_attach for i in self.ids):
            time.sleep(0.5)
            self.rt.reconcile()
        while any(s["state"] != "waiting" or s["push_pending"]
                  for s in ray.get(self.rt.supervisor.status.remote())):
            time.sleep(0.2)

    def linked_everywhere(self, uid: str) -> bool:
        """Whether every spoke links the hub item of ``uid`` (one SQL count)."""
        with self.store.engine.connect() as conn:
            n = conn.execute(
                select(func.count()).select_from(m.links.join(
                    m.hub_items, m.links.c.hub_item_id == m.hub_items.c.id))
                .where(m.hub_items.c.hub_id == self.hub_id, m.hub_items.c.uid == uid)
            ).scalar_one()
        return n == len(self.ids)

    def wait_visible(self, uid: str, timeout: float = 600.0) -> float:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.linked_everywhere(uid):
                return time.monotonic()
            time.sleep(0.02)
        raise SystemExit(f"{uid} did not reach every spoke in {timeout} s")

    def check_files(self, uid: str) -> None:
        missing = [f for f in self.folders
                   if not any(uid in p.read_text() for p in f.glob("*.ics"))]
        if missing:
            raise SystemExit(f"{uid} linked but missing in {len(missing)} folders")

    def fanout_runs(self) -> Counter[str]:
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(m.sync_runs.c.spoke_id, func.count())
                                .where(m.sync_runs.c.trigger == "fanout")
                                .group_by(m.sync_runs.c.spoke_id)).all()
        return Counter({r[0]: int(r[1]) for r in rows})

    def sample(self, mode: str, n: int) -> tuple[float, float | None, Counter[str]]:
        uid = f"{mode}-{n}@bench"
        runs_before = self.fanout_runs()
        (self.folders[0] / f"{uid}.ics").write_text(ics(uid))
        t_edit = time.monotonic()
        t_synced = None
        if mode == "sync":
            for _ in self.rt.sync_now(HUB, "s0000"):
                pass
            t_synced = time.monotonic()
        t_seen = self.wait_visible(uid)
        self.wait_quiet()
        self.check_files(uid)
        return (t_seen - t_edit, None if t_synced is None else max(0.0, t_seen - t_synced),
                self.fanout_runs() - runs_before)

    def wait_quiet(self) -> None:
        while any(s["state"] == "running" or s["push_pending"]
                  for s in ray.get(self.rt.supervisor.status.remote())):
            time.sleep(0.05)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def start_profile(rt: Runtime, out: str, gil: bool = False) -> subprocess.Popen[bytes]:
    """py-spy on the (only) spoke actor, where push runs happen."""
    names = [n for n in named_actors(rt.settings.namespace) if n.startswith(SPOKE_ACTOR_PREFIX)]
    handle = ray.get_actor(names[0], namespace=rt.settings.namespace)
    return spy_on(ray.get(handle.ping.remote())["pid"], out, gil)


def spy_on(pid: int, out: str, gil: bool = False) -> subprocess.Popen[bytes]:
    """py-spy recording process ``pid`` (collapsed stacks, threads apart) into ``out``;
    ``gil``: only the thread holding the GIL (where the CPU of the Python code goes)."""
    spy = Path(sys.executable).parent / "py-spy"
    proc = subprocess.Popen([str(spy), "record", "--pid", str(pid), "--format", "raw",
                             "--rate", "100", "--threads", "--output", out, "--nonblocking",
                             *(["--gil"] if gil else [])])
    time.sleep(1.0)  # py-spy attaches before the first sample is taken
    return proc


def stop_profile(spy: subprocess.Popen[bytes] | None) -> None:
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(timeout=120)


def count_calls(obj: object, name: str) -> list[float]:
    """Count the calls of ``obj.name`` from now on: [calls, seconds spent in them]."""
    calls, real = [0.0, 0.0], getattr(obj, name)

    def counted(*args: object) -> object:
        calls[0] += 1
        t = time.perf_counter()
        try:
            return real(*args)
        finally:
            calls[1] += time.perf_counter() - t

    setattr(obj, name, counted)
    return calls


def syncfs_rounds(folder: Path) -> int:
    """``syncfs`` calls the vdir write path made on ``folder``'s file system (-1: code without
    the shared barrier)."""
    try:
        from cirahub.connectors.vdir_barrier import SHARED
    except ImportError:
        return -1
    return SHARED.rounds(folder)


class InProcess(Bench):
    """The same spokes, hosted by a plain SpokeActor here; the source is run by hand."""

    def __init__(self, root: Path, spokes: int, profile: str | None = None,
                 push_threads: int = Settings.push_threads, gil: bool = False) -> None:
        self.settings = Settings(data_dir=root / "data", namespace=f"bench-{os.getpid()}",
                                 push_threads=push_threads, push_runs_global=push_threads)
        self.store = open_store(self.settings)
        super().__init__(self.store, root, spokes, 3600)
        self.merger = LocalMerger(self.store)
        self.profile, self.gil = profile, gil

    async def run(self, samples: int) -> None:
        actor = SpokeActor(self.settings.to_dict(), "bench")
        actor._merger = self.merger  # pyright: ignore[reportAttributeAccessIssue]  # no Ray
        await actor.assign([(i, self.hub_id) for i in self.ids])
        while any(self.store.get_spoke(i).first_attach for i in self.ids):
            await asyncio.sleep(0.2)
        for hosted in actor._spokes.values():
            hosted.next_run_at = time.time() + 3600  # pushes only from now on
        while any(h.running for h in actor._spokes.values()):
            await asyncio.sleep(0.05)
        source = open_connector("vdir", {"path": str(self.folders[0])})
        waves = actor._waves  # one call per wave read (older code: a Batch's _work)
        reads = count_calls(waves, "_prepare" if hasattr(waves, "_prepare") else "_work")
        applies = count_calls(actor._writer, "_apply")
        spy = spy_on(os.getpid(), self.profile, self.gil) if self.profile else None
        print(f"{'n':>3}{'edit -> all s':>15}{'CPU per push run ms':>21}{'wave reads':>12}"
              f"{'commits':>9}{'writer s':>10}{'syncfs':>8}{'load':>7}")
        for n in range(samples):
            uid = f"inproc-{n}@bench"
            (self.folders[0] / f"{uid}.ics").write_text(ics(uid))
            SyncCycle(self.store, source, self.ids[0], self.merger).run("manual")
            before = (reads[0], actor._writer.groups, applies[1], syncfs_rounds(self.folders[0]))
            t, cpu = time.monotonic(), time.process_time()
            await actor.push_soon(self.ids[1:], self.store.hub_version(self.hub_id))
            while not self.linked_everywhere(uid):
                await asyncio.sleep(0.02)
            seen, used = time.monotonic() - t, time.process_time() - cpu
            after = (reads[0], actor._writer.groups, applies[1], syncfs_rounds(self.folders[0]))
            self.check_files(uid)
            waves, commits, writer, syncs = (b - a for a, b in zip(before, after, strict=True))
            print(f"{n:>3}{seen:>15.2f}{1000 * used / (len(self.ids) - 1):>21.1f}"
                  f"{waves:>12.0f}{commits:>9}{writer:>10.2f}{syncs:>8}"
                  f"{os.getloadavg()[0]:>7.1f}")
        stop_profile(spy)
        await actor.unassign(list(actor._spokes))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spokes", type=int, default=3)
    ap.add_argument("--interval", type=int, default=5, help="poll interval of the source")
    ap.add_argument("--samples", type=int, default=20, help="changes per mode")
    ap.add_argument("--modes", default="poll,sync", help="comma-separated: poll, sync")
    ap.add_argument("--profile", metavar="FILE",
                    help="record the spoke actor (with --in-process: this process, from the "
                         "first edit on) with py-spy (collapsed stacks) into FILE")
    ap.add_argument("--gil", action="store_true",
                    help="with --profile: sample only the thread holding the GIL (CPU)")
    ap.add_argument("--push-threads", type=int, default=Settings.push_threads,
                    help="Settings.push_threads (and push_runs_global) of the runtime")
    ap.add_argument("--in-process", action="store_true",
                    help="no Ray: the fan-out of one edit per sample, in this process")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cirahub-bench-"))
    if args.in_process:
        asyncio.run(InProcess(root, args.spokes, args.profile, args.push_threads,
                              args.gil).run(args.samples))
        return
    rt = Runtime.start(Settings(data_dir=root / "data", num_cpus=2,
                                push_threads=args.push_threads,
                                push_runs_global=args.push_threads))
    bench = Bench(rt.store, root, args.spokes, args.interval, rt)
    t0 = time.monotonic()
    bench.wait_first_runs()
    print(f"{args.spokes} vdir spokes attached, first runs done in {time.monotonic() - t0:.1f} s")
    rng = random.Random(7)
    spy = start_profile(rt, args.profile, args.gil) if args.profile else None
    print(f"\n{'mode':<6}{'n':>4}{'p50 s':>8}{'p95 s':>8}{'max s':>8}  "
          f"{'after sync p50/p95 s':>21}  push runs per other spoke per change (max, mean)")
    for mode in args.modes.split(","):
        latencies, after_sync, per_spoke = [], [], []
        for n in range(args.samples):
            time.sleep(rng.uniform(0, args.interval))  # a random moment of the source's interval
            total, synced, runs = bench.sample(mode, n)
            latencies.append(total)
            if synced is not None:
                after_sync.append(synced)
            others = [runs.get(i, 0) for i in bench.ids[1:]]
            per_spoke.append((max(others), statistics.mean(others)))
        tail = (f"{pct(after_sync, 0.5):.2f} / {pct(after_sync, 0.95):.2f}" if after_sync
                else "-")
        print(f"{mode:<6}{len(latencies):>4}{pct(latencies, 0.5):>8.2f}"
              f"{pct(latencies, 0.95):>8.2f}{max(latencies):>8.2f}  {tail:>21}  "
              f"{max(r[0] for r in per_spoke)}, {statistics.mean(r[1] for r in per_spoke):.2f}")
    stop_profile(spy)
    print(f"(source interval {args.interval} s; the other spokes poll hourly; "
          f"targets: poll p95 <= {args.interval + 2} s, after sync p95 <= 2 s)")
    rt.shutdown(stop_actors=True)


if __name__ == "__main__":
    main()
