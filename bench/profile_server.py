"""Where a ``cirahubctl sync`` spends its time beyond the in-process engine (issue 15).

Starts one ``cirahubctl server`` (as :class:`bench.drivers.CirahubServer` does), attaches
the 2-folder scenario (``--events`` in folder 0, folder 1 empty), then runs the initial
``apply`` + ``sync``, ``--nochange`` no-change syncs and ``--edits`` edit rounds, each timed
as its command's wall time. With ``--trace`` every process of the server (the server, the
supervisor, the spoke actor) and of the CLI loads a ``sitecustomize`` that stamps the
entry and exit of the hops of a sync (wall clock, so the processes compare), and a table
per sync shows when each hop began and ended after the CLI was started.

    .venv/bin/python bench/profile_server.py [--events 5000] [--nochange 5] [--trace]

Nothing is asserted; numbers are printed.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.calendars import Truth, check_folder, edit_folder, fill_folder  # noqa: E402
from bench.drivers import CirahubServer, folder_storage  # noqa: E402

#: module → (qualified name, kind) of each hop stamped; kind: f(unction), a(sync), g(enerator)
HOPS = {
    "cirahub.control.cli": [("main", "f")],
    "cirahub.control.client": [("Client.sync", "g")],
    "cirahub.control.servicer": [("ControlServicer._sync_now", "g")],
    "cirahub.control.syncing": [("sync_rounds", "g"), ("_behind", "f")],
    "cirahub.actors.runtime": [("Runtime._sync_now", "g"), ("Runtime._ask", "f"),
                               ("Runtime._get", "f")],
    "cirahub.actors.supervisor": [("Supervisor.sync_now", "a"), ("Supervisor._sync_one", "a"),
                                  ("Supervisor._behind", "f"), ("Supervisor._targets", "f")],
    "cirahub.actors.spoke": [("SpokeActor.sync_now", "a"), ("SpokeActor._run", "a"),
                             ("SpokeActor._run_blocking", "f")],
    "cirahub.actors.cycle": [("SyncCycle.run", "f"), ("SyncCycle.probe", "f")],
    "cirahub.actors.probes": [("Prober.__call__", "f")],
}

SITECUSTOMIZE = r'''
import functools, importlib.abc, os, sys, time
_OUT = os.environ.get("CIRAHUB_TRACE")
HOPS = %r

def _stamp(tag, what):
    if _OUT:
        line = "%%.6f %%d %%s %%s %%.4f\n" %% (time.time(), os.getpid(), tag, what,
                                            time.process_time())
        fd = os.open(_OUT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)

_stamp("python", "site")

def _who(a):
    for x in a[1:3]:
        if isinstance(x, str) and len(x) > 6:
            return x[:6]
        sid = getattr(x, "spoke_id", None) or getattr(x, "id", None)
        if isinstance(sid, str):
            return sid[:6]
    return "-"

def _wrap(fn, tag, kind):
    if kind == "a":
        @functools.wraps(fn)
        async def wrapper(*a, **k):
            t = tag + ":" + _who(a)
            _stamp(t, "enter")
            try:
                return await fn(*a, **k)
            finally:
                _stamp(t, "exit")
    elif kind == "g":
        @functools.wraps(fn)
        def wrapper(*a, **k):
            _stamp(tag, "enter")
            first = True
            try:
                for item in fn(*a, **k):
                    if first:
                        _stamp(tag, "first")
                        first = False
                    yield item
            finally:
                _stamp(tag, "exit")
    else:
        @functools.wraps(fn)
        def wrapper(*a, **k):
            t = tag + ":" + _who(a)
            _stamp(t, "enter")
            try:
                return fn(*a, **k)
            finally:
                _stamp(t, "exit")
    return wrapper

def _patch(module):
    for qual, kind in HOPS.get(module.__name__, ()):
        owner = module
        parts = qual.split(".")
        for p in parts[:-1]:
            owner = getattr(owner, p)
        setattr(owner, parts[-1], _wrap(getattr(owner, parts[-1]), qual, kind))

class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name not in HOPS:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        loader = spec.loader
        run = loader.exec_module
        def exec_module(module, _run=run):
            _run(module)
            _patch(module)
        loader.exec_module = exec_module
        return spec

if _OUT:
    sys.meta_path.insert(0, _Finder())
'''


def timed(fn) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def timeline(trace: Path, since: float, until: float) -> list[str]:
    """The stamps between ``since`` and ``until`` as rows: hop, process, enter/first/exit
    in ms after ``since``, and ``pcpu``: the CPU its whole process used between the hop's
    enter and exit, in ms (all its threads: two hops at once share it; below ``took``: the
    process waited) (several calls of a hop: each its own row)."""
    pids: dict[str, str] = {}
    open_: dict[tuple[str, str], list[dict[str, float]]] = defaultdict(list)
    rows: list[tuple[float, str, str, dict[str, float]]] = []
    for line in trace.read_text().splitlines():
        at_s, pid, tag, what, cpu_s = line.split()
        cpu = float(cpu_s)
        at = float(at_s)
        if not since <= at <= until:
            continue
        who = pids.setdefault(pid, f"p{len(pids)}")
        key = (pid, tag)
        ms = (at - since) * 1000
        if what == "enter":
            rec = {"enter": ms, "c0": cpu}
            open_[key].append(rec)
            rows.append((ms, tag, who, rec))
        elif what == "site":
            rows.append((ms, "python started (site)", who, {"enter": ms}))
        elif open_[key]:
            rec = open_[key][-1] if what == "first" else open_[key].pop()
            rec[what] = ms
            if what == "exit":
                rec["cpu"] = (cpu - rec["c0"]) * 1000
    out = [f"{'hop':<40} {'proc':>4} {'enter':>8} {'first':>8} {'exit':>8} {'took':>7}"]
    for _, tag, who, rec in sorted(rows, key=lambda r: r[0]):
        took = rec.get("exit", rec["enter"]) - rec["enter"]
        out.append(f"{tag:<40} {who:>4} {rec['enter']:8.1f} "
                   f"{rec.get('first', float('nan')):8.1f} {rec.get('exit', float('nan')):8.1f} "
                   f"{took:7.1f} {rec.get('cpu', float('nan')):7.1f}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--nochange", type=int, default=5)
    ap.add_argument("--edits", type=int, default=1)
    ap.add_argument("--trace", action="store_true")
    ap.add_argument("--race", type=float, default=0.0,
                    help="seconds between apply and the initial sync (the first automatic "
                         "runs start within 2 s of apply)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = ap.parse_args()

    root = Path(tempfile.mkdtemp(prefix="cirahub-profile-server-"))
    trace = root / "trace.log"
    if args.trace:
        site = root / "site"
        site.mkdir()
        (site / "sitecustomize.py").write_text(SITECUSTOMIZE % (HOPS,))
        os.environ["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(site), os.environ.get("PYTHONPATH", "")) if p)
        os.environ["CIRAHUB_TRACE"] = str(trace)
    server = CirahubServer(root)
    print(f"server up in {server.startup:.2f} s; load {os.getloadavg()[0]:.1f}")
    rng = random.Random(7)
    folders = [root / "f0", root / "f1"]
    truth = Truth()
    fill_folder(folders[0], args.events, truth)
    folders[1].mkdir()
    results: list[tuple[str, float, float, float]] = []

    def step(name: str, fn) -> None:  # type: ignore[no-untyped-def]
        since = time.time()
        took = timed(fn)
        results.append((name, took, since, time.time()))
        for f in folders:
            check_folder(f, truth)

    try:
        hubs: list[str] = []
        t = timed(lambda: hubs.append(server.attach(root / "tool",
                                                    [folder_storage(f) for f in folders])))
        print(f"apply {t:.2f} s")
        hub_name = hubs[0]
        time.sleep(args.race)
        step("initial sync", lambda: server.sync(hub_name))
        for i in range(args.nochange):
            step(f"no-change {i + 1}", lambda: server.sync(hub_name))
        for i in range(args.edits):
            touched = edit_folder(folders[0], truth, rng, args.events // 100,
                                  args.events // 400, f"edited {i} in 0", set())
            edit_folder(folders[1], truth, rng, args.events // 100, args.events // 400,
                        f"edited {i} in 1", touched)
            step(f"edits {i + 1}", lambda: server.sync(hub_name))
    finally:
        server.stop()
    print(f"{'phase':<16} {'wall':>8}")
    for name, took, _, _ in results:
        print(f"{name:<16} {took:8.3f}")
    if args.trace:
        for name, _, since, until in results:
            print(f"\n## {name}")
            print("\n".join(timeline(trace, since, until)))
    print(f"\nload {os.getloadavg()[0]:.1f}; folder {root}")
    if not args.keep:
        import shutil

        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
