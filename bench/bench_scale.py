"""Many idle spokes on one node, driven as a user drives it.

Starts ``cirahubctl server`` (embedded: local Ray, SQLite in a temporary folder), stores one
hub with ``--spokes`` memory spokes (empty calendars, ``--interval`` seconds) with ONE
``cirahubctl apply -f`` (timed: "time to store"), waits until every spoke has run once and
``--settle`` seconds more (default: one interval; the first runs' backlog is not the steady
state), then measures over ``--measure`` seconds (default: 3 intervals):

- per spoke, when its polls ended, read from the run history while it is written: a real run
  is a row of its own, consecutive idle polls are folded into one row whose ``finished_at``
  is its last poll's end and whose ``counts`` say how many polls it holds (see
  ``actors/idle.py``); the rows are read every ``SAMPLE_SECONDS`` (the spoke actors write
  them every 5 s), so every poll's end is seen, and the share of spokes whose polls were
  all at most ``interval × 1.1`` apart is per spoke (the window's edges count as polls);
- the server's own log: lines a second (idle polls are logged folded: one ``idle polls``
  line per hub a minute);
- CPU of the whole server process tree (the server, Ray's processes, the actors): % of one
  core and CPU-seconds per poll (load-independent);
- PSS of the tree (``memory_full_info().pss``, summed), per role and per spoke.

    .venv/bin/python bench/bench_scale.py [--spokes 2000] [--interval 60] [--measure 180]
        [--settle 60] [--write docs/benchmarks.md]

Not a test: it prints a table (and appends it to ``--write``), nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_spokes_idle import role
from drivers import CIRAHUBCTL, CirahubServer

#: a spoke is on time when every gap between two of its polls is at most interval × this
SLACK = 1.1


def topology(spokes: int, interval: int) -> dict[str, object]:
    return {"hubs": [{"name": "scale", "spokes": [
        {"name": f"m{i:05d}", "kind": "memory", "calendar": f"scale-{i}",
         "options": {"interval": f"{interval}s"}} for i in range(spokes)]}]}


def tree(proc: psutil.Process) -> list[psutil.Process]:
    return [proc, *proc.children(recursive=True)]


def cpu_seconds(procs: list[psutil.Process]) -> dict[int, tuple[str, float]]:
    out = {}
    for p in procs:
        try:
            t = p.cpu_times()
            out[p.pid] = (role(p) if p.pid != procs[0].pid else "server (gRPC, run log)",
                          t.user + t.system + t.children_user + t.children_system)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return out


def pss(procs: list[psutil.Process]) -> dict[str, tuple[int, float]]:
    rows: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for i, p in enumerate(procs):
        try:
            mem = p.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        name = "server (gRPC, run log)" if i == 0 else role(p)
        rows[name][0] += 1
        rows[name][1] += mem / 2**20
    return {k: (int(v[0]), v[1]) for k, v in rows.items()}


def ts(value: str) -> float:
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def spokes_ran(db: Path) -> int:
    """How many spokes have a finished run."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return int(con.execute("SELECT COUNT(DISTINCT spoke_id) FROM sync_runs "
                               "WHERE finished_at IS NOT NULL").fetchone()[0])
    finally:
        con.close()


def spoke_ids(db: Path) -> list[str]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return [r[0] for r in con.execute("SELECT id FROM spokes")]
    finally:
        con.close()


#: seconds between two reads of the run history (the spoke actors write it every 5 s)
SAMPLE_SECONDS = 5.0


class Sampler:
    """Every poll's end, from the run history read every SAMPLE_SECONDS in a thread: a new
    finished row is one poll (a real run, or a fold's first idle poll), a fold row whose
    ``polls`` grew by one is one more poll ending at its new ``finished_at``. A fold that grew
    by more between two reads (the reader fell behind) gives its last end only, so the gap
    before it is counted too long, never too short (``skipped`` says how often)."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.ends: dict[str, list[float]] = defaultdict(list)
        self.skipped = 0
        self._rows: dict[str, tuple[float, int]] = {}
        self._stop = threading.Event()
        self.read()  # what is there before the measurement is not a poll in it
        self.ends.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(SAMPLE_SECONDS):
            self.read()

    def read(self) -> None:
        con = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("SELECT id, spoke_id, finished_at, counts FROM sync_runs "
                               "WHERE finished_at IS NOT NULL").fetchall()
        finally:
            con.close()
        for run_id, spoke, finished, counts in rows:
            end, polls = ts(finished), int(json.loads(counts or "{}").get("polls", 1))
            seen = self._rows.get(run_id)
            if seen is None or polls > seen[1]:
                self.ends[spoke].append(end)
                self.skipped += seen is not None and polls > seen[1] + 1
            self._rows[run_id] = (end, polls)

    def stop(self) -> dict[str, list[float]]:
        """The poll ends seen, after two more writes of the history (the last ones)."""
        time.sleep(2 * SAMPLE_SECONDS + 1)
        self._stop.set()
        self._thread.join(60)
        self.read()
        return self.ends


def gaps_of(times: list[float], t0: float, t1: float) -> float:
    """The longest time without a poll's end in [t0, t1] (its edges count)."""
    inside = sorted(t for t in times if t0 <= t <= t1)
    return max(b - a for a, b in zip([t0, *inside], [*inside, t1], strict=True))


def log_lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = psutil.virtual_memory().total / 2**30
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def git_rev() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).parent, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spokes", type=int, default=2000)
    ap.add_argument("--interval", type=int, default=60)
    ap.add_argument("--measure", type=float, default=None, help="seconds (3 intervals)")
    ap.add_argument("--settle", type=float, default=None,
                    help="seconds between every spoke's first run and the measurement "
                         "(1 interval: the first runs' backlog is not the steady state)")
    ap.add_argument("--log-level", default="INFO", help="the server's (a user's default)")
    ap.add_argument("--follow-events", action="store_true",
                    help="keep a `cirahubctl events` stream open while measuring")
    ap.add_argument("--write", type=Path, default=None, help="append the results here")
    ap.add_argument("--keep", action="store_true", help="keep the data folder")
    args = ap.parse_args()
    measure = args.measure or 3 * args.interval
    command = "python bench/bench_scale.py " + " ".join(sys.argv[1:])
    load_start = os.getloadavg()[0]

    root = Path(tempfile.mkdtemp(prefix="cirahub-scale-"))
    for attempt in range(6):  # Ray gives its raylet 30 s to start: not always enough here
        try:
            server = CirahubServer(root / f"try{attempt}", log_level=args.log_level)
            break
        except RuntimeError as exc:
            print(f"server did not start ({str(exc).splitlines()[-1][:200]}); again",
                  flush=True)
    else:
        raise SystemExit("cirahubctl server did not start 6 times")
    lines: list[str] = []

    def say(text: str) -> None:
        print(text, flush=True)
        lines.append(text)

    try:
        spec = root / "topology.yaml"
        spec.write_text(yaml.safe_dump(topology(args.spokes, args.interval)))
        proc = psutil.Process(server.proc.pid)
        t0 = time.monotonic()
        server.ctl("apply", "-f", str(spec))
        stored = time.monotonic() - t0
        db = server.data / "cirahub.db"
        t0 = time.monotonic()
        while True:
            ran = spokes_ran(db)
            if ran >= args.spokes:
                break
            if time.monotonic() - t0 > 20 * args.interval:
                raise RuntimeError(f"only {ran} of {args.spokes} spokes ran in "
                                   f"{time.monotonic() - t0:.0f} s")
            time.sleep(2)
        first = time.monotonic() - t0
        settle = args.interval if args.settle is None else args.settle
        print(f"stored in {stored:.1f} s; every spoke ran once {first:.1f} s later; "
              f"settling {settle:.0f} s, then measuring {measure:.0f} s", flush=True)
        time.sleep(settle)

        follow = (subprocess.Popen([str(CIRAHUBCTL), "events"], env={**server.env,
                                   **server.secrets}, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL) if args.follow_events else None)
        sampler = Sampler(db)
        server_log = Path(server.log.name)
        procs = tree(proc)
        lines0 = log_lines(server_log)
        before, w0, load0 = cpu_seconds(procs), time.time(), os.getloadavg()
        time.sleep(measure)
        procs = tree(proc)
        after, w1, load1 = cpu_seconds(procs), time.time(), os.getloadavg()
        lines1 = log_lines(server_log)
        memory = pss(procs)
        if follow is not None:
            follow.terminate()
            follow.wait(30)
        ends = sampler.stop()
        wall = w1 - w0
        ids = spoke_ids(db)
        gaps = sorted(gaps_of(ends.get(i, []), w0, w1) for i in ids)
        ok = sum(1 for g in gaps if g <= args.interval * SLACK)
        polls = sum(1 for i in ids for t in ends.get(i, []) if w0 <= t <= w1)

        t0 = time.monotonic()
        server.ctl("apply", "-f", str(spec))  # the same topology again: nothing to change
        again = time.monotonic() - t0

        cpu_by_role: dict[str, float] = defaultdict(float)
        for pid, (name, secs) in after.items():
            cpu_by_role[name] += secs - before.get(pid, (name, secs if pid not in before
                                                        else 0.0))[1]
        total_cpu = sum(cpu_by_role.values())
        total_pss = sum(v for _, v in memory.values())

        say(f"### {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {args.spokes} idle memory spokes, "
            f"interval {args.interval} s ({git_rev()})")
        say("")
        say(f"- command: `{command}`")
        say(f"- machine: {machine()}")
        say(f"- load average (1 min): {load_start:.1f} at the start, {load0[0]:.1f} / "
            f"{load1[0]:.1f} at the start / end of the measurement")
        say(f"- time to store them (one `cirahubctl apply -f`): **{stored:.1f} s**; every spoke "
            f"had run once {first:.1f} s later; measured from {settle:.0f} s after that; "
            f"server start-up {server.startup:.1f} s; the same `apply -f` again (no change) "
            f"{again:.1f} s")
        say(f"- measured {wall:.0f} s: {polls} polls ({polls / wall:.1f}/s); spokes whose "
            f"polls were all ≤ {SLACK:g} × interval apart (run history, read every "
            f"{SAMPLE_SECONDS:g} s): **{ok} of {len(ids)} ({100 * ok / max(1, len(ids)):.1f} "
            f"%)**; longest time without a poll per spoke p50 {gaps[len(gaps) // 2]:.1f} s, "
            f"p99 {gaps[int(len(gaps) * 0.99)]:.1f} s, max {gaps[-1]:.1f} s"
            f"{f' ({sampler.skipped} polls read late)' if sampler.skipped else ''}")
        say(f"- the server's log: {(lines1 - lines0) / wall:.2f} lines a second"
            f"{'; a `cirahubctl events` stream open' if follow is not None else ''}")
        say(f"- CPU of the server tree: **{100 * total_cpu / wall:.1f} % of one core**, "
            f"{1000 * total_cpu / max(1, polls):.2f} ms CPU per poll; PSS **{total_pss:.0f} MiB**"
            f" ({1024 * total_pss / args.spokes:.0f} KiB per spoke)")
        say("")
        say("| role | processes | PSS MiB | CPU % of one core |")
        say("| --- | --- | --- | --- |")
        for name in sorted(set(memory) | set(cpu_by_role),
                           key=lambda n: -memory.get(n, (0, 0.0))[1]):
            n, mib = memory.get(name, (0, 0.0))
            say(f"| {name} | {n} | {mib:.0f} | {100 * cpu_by_role.get(name, 0.0) / wall:.1f} |")
        say(f"| total | {sum(n for n, _ in memory.values())} | {total_pss:.0f} | "
            f"{100 * total_cpu / wall:.1f} |")
        say("")
        if args.write:
            with args.write.open("a") as out:
                out.write("\n" + "\n".join(lines) + "\n")
    finally:
        server.stop()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
        else:
            print(f"kept {root}")


if __name__ == "__main__":
    assert CIRAHUBCTL.exists(), CIRAHUBCTL
    main()
