"""Many idle spokes on one node, driven as a user drives it.

Starts ``cirahubctl server`` (embedded: local Ray, SQLite in a temporary folder), stores one
hub with ``--spokes`` memory spokes (empty calendars, ``--interval`` seconds) with ONE
``cirahubctl apply -f`` (timed: "time to store"), waits until every spoke has run once and
``--settle`` seconds more (default: one interval; the first runs' backlog is not the steady
state), then measures over ``--measure`` seconds (default: 3 intervals):

- per spoke, the start times of its polls, read from the store (``sync_runs``: a run row per
  run; consecutive idle polls are folded into one row whose ``counts`` say how many polls it
  holds and the longest gap between two of them, see ``store/runs.py``), and the share of
  spokes whose consecutive polls were all at most ``interval × 1.1`` apart (per spoke);
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


def poll_times(db: Path) -> dict[str, list[tuple[float, float, int, float]]]:
    """spoke id → its run rows as (started, finished, polls, longest gap between polls)."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        rows = con.execute("SELECT spoke_id, started_at, finished_at, counts FROM sync_runs "
                           "ORDER BY started_at").fetchall()
    finally:
        con.close()
    out: dict[str, list[tuple[float, float, int, float]]] = defaultdict(list)
    for spoke, started, finished, counts in rows:
        c = json.loads(counts or "{}")
        start = ts(started)
        out[spoke].append((start, ts(finished) if finished else start,
                           int(c.get("polls", 1)), float(c.get("longest_gap_ms", 0)) / 1000))
    return out


def on_time(rows: list[tuple[float, float, int, float]], t0: float, t1: float,
            interval: float) -> tuple[bool, float]:
    """Whether every gap between two polls of a spoke within [t0, t1] was at most
    interval × SLACK, and its longest gap. The window's edges count as polls: a spoke whose
    first poll in the window comes later than that after t0, or whose last one ends earlier
    than that before t1, was late too."""
    limit = interval * SLACK
    longest = 0.0
    last = max([f for _, f, _, _ in rows if f < t0], default=t0)
    for start, finished, polls, gap in rows:
        if finished < t0 or start > t1:
            continue
        if polls > 1:  # a folded row of idle polls: its own longest gap, then its last poll
            longest = max(longest, gap)
        longest = max(longest, start - last)
        last = finished
    longest = max(longest, t1 - last)
    return longest <= limit, longest


class Watch:
    """``cirahubctl events --json`` for the measurement, as a user follows it: every run's
    end, with its time (exact per poll, unlike a folded row, whose longest gap may lie
    before the window)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen([str(CIRAHUBCTL), "events", "--json"], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self.runs: dict[str, list[float]] = defaultdict(list)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            e = json.loads(line)
            if e.get("type") == "run":
                self.runs[e["spoke"]].append(
                    datetime.fromisoformat(e["at"].replace("Z", "+00:00")).timestamp())

    def stop(self, until: float) -> dict[str, list[float]]:
        """The runs seen, once the stream has shown every run that ended before ``until``
        (a client printing 170 lines a second lags on a loaded machine; 60 s at most)."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                t >= until for times in list(self.runs.values()) for t in times[-1:]):
            time.sleep(1)
        self.proc.terminate()
        self.proc.wait(30)
        self._thread.join(10)
        return self.runs


def gaps_of(times: list[float], t0: float, t1: float) -> float:
    """The longest time without a run end in [t0, t1] (its edges count)."""
    inside = sorted(t for t in times if t0 <= t <= t1)
    return max(b - a for a, b in zip([t0, *inside], [*inside, t1], strict=True))


def in_window(row: tuple[float, float, int, float], t0: float, t1: float) -> float:
    """How many of a row's polls fell in [t0, t1] (a folded row's spread evenly)."""
    start, finished, polls, _ = row
    if polls <= 1 or finished <= start:
        return 1.0 if t0 <= start <= t1 else 0.0
    overlap = max(0.0, min(t1, finished) - max(t0, start))
    return polls * overlap / (finished - start)


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
            ran = len(poll_times(db))
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

        watch = Watch({**server.env, **server.secrets})
        time.sleep(5)  # the stream is open
        procs = tree(proc)
        before, w0, load0 = cpu_seconds(procs), time.time(), os.getloadavg()
        time.sleep(measure)
        procs = tree(proc)
        after, w1, load1 = cpu_seconds(procs), time.time(), os.getloadavg()
        seen = watch.stop(until=w1)
        watched = sorted(gaps_of(seen.get(f"m{i:05d}", []), w0, w1)
                         for i in range(args.spokes))
        w_ok = sum(1 for g in watched if g <= args.interval * SLACK)
        memory = pss(procs)
        wall = w1 - w0

        runs = poll_times(db)
        polls = 0
        verdicts = []
        for rows in runs.values():
            polls += round(sum(in_window(row, w0, w1) for row in rows))
            verdicts.append(on_time(rows, w0, w1, args.interval))
        ok = sum(1 for good, _ in verdicts if good)
        gaps = sorted(g for _, g in verdicts)
        p50 = gaps[len(gaps) // 2] if gaps else float("nan")
        p99 = gaps[min(len(gaps) - 1, int(len(gaps) * 0.99))] if gaps else float("nan")

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
            f"server start-up {server.startup:.1f} s")
        say(f"- measured {wall:.0f} s: {polls} polls ({polls / wall:.1f}/s); spokes whose "
            f"polls were all ≤ {SLACK:g} × interval apart in the run history: {ok} of "
            f"{len(verdicts)} ({100 * ok / max(1, len(verdicts)):.1f} %; a folded row's "
            f"longest gap may lie before the window); longest gap per spoke p50 "
            f"{p50:.1f} s, p99 {p99:.1f} s, max {gaps[-1] if gaps else float('nan'):.1f} s")
        say(f"- seen in `cirahubctl events` (every run's end): spokes with a run at least every "
            f"{SLACK:g} × interval: **{w_ok} of {args.spokes} ({100 * w_ok / args.spokes:.1f} "
            f"%)**; longest time without a run per spoke p50 {watched[len(watched) // 2]:.1f} s,"
            f" p99 {watched[int(len(watched) * 0.99)]:.1f} s, max {watched[-1]:.1f} s")
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
