"""Idle footprint of the embedded server, by process role (issue 15: < 500 MB PSS).

Starts ``cirahubctl server`` the way the README's quick start does (embedded local Ray, SQLite
in a fresh data folder, loopback only), creates one hub with ``--spokes`` vdir spokes, syncs
once, lets it sit idle for ``--settle`` seconds, then sums PSS (proportional set size: shared
pages split between the processes sharing them, so the sum is what the tree really costs) and
RSS over the server's whole process tree, grouped by role.

    .venv/bin/python bench/bench_footprint.py [--spokes 3] [--settle 30] [--reps 3]
        [--save after.json] [--compare before.json] [--write docs/benchmarks.md]
        [-- extra server flags]

``--before DIR`` alternates every repetition between the code in DIR (an older checkout, run
through ``PYTHONPATH=DIR``) and this one, and prints both side by side; ``--save`` keeps the
medians of a run, ``--compare`` prints a before/after table against a saved one. Not a test:
it prints tables, nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import psutil

CTL = str(Path(sys.executable).with_name("cirahubctl"))
MiB = 2**20

#: (marker in the command line, role); the first that matches wins
ROLES = (
    ("cirahubctl server", "server (driver)"), ("ray::SpokeActor", "spoke actors"),
    ("ray::HubActor", "hub actor"), ("ray::Supervisor", "supervisor"),
    ("ray::IDLE", "idle workers"), ("ray::DashboardAgent", "dashboard agent"),
    ("ray::RuntimeEnvAgent", "runtime env agent"),
    ("raylet", "raylet"), ("gcs_server", "gcs_server"),
    ("dashboard/agent.py", "dashboard agent"), ("runtime_env/agent", "runtime env agent"),
    ("dashboard.py", "dashboard (API server)"), ("log_monitor", "log monitor"),
    ("monitor.py", "autoscaler monitor"), ("default_worker.py", "idle workers"),
)


def role(proc: psutil.Process) -> str:
    try:
        cmd = " ".join(proc.cmdline())
    except psutil.Error:
        return "gone"
    return next((name for marker, name in ROLES if marker in cmd), "other: " + proc.name())


def measure(pid: int) -> dict[str, dict[str, float]]:
    """role → {procs, pss, rss} (MiB) over ``pid`` and all its descendants."""
    root = psutil.Process(pid)
    rows: dict[str, dict[str, float]] = defaultdict(lambda: {"procs": 0, "pss": 0.0, "rss": 0.0})
    for proc in [root, *root.children(recursive=True)]:
        try:
            info = proc.memory_full_info()
        except psutil.Error:
            continue
        row = rows[role(proc)]
        row["procs"] += 1
        row["pss"] += info.pss / MiB
        row["rss"] += info.rss / MiB
    return dict(rows)


def _ctl(env: dict[str, str], *args: str) -> None:
    done = subprocess.run([CTL, *args], env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"cirahubctl {' '.join(args)}: exit {done.returncode}\n"
                           f"{done.stdout}{done.stderr}")


def one_run(spokes: int, settle: float, extra: list[str],
            code: Path | None = None) -> dict[str, dict[str, float]]:
    """One server started, used, left idle, measured and stopped; ``code``: the checkout
    whose ``cirahub`` runs (default: this one)."""
    base = Path(tempfile.mkdtemp(prefix="fp", dir="/tmp"))  # Ray's socket paths stay short
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_"))}
    env.update(RAY_TMPDIR=str(base), CIRAHUB_DATA_DIR=str(base / "data"))
    if code is not None:
        env["PYTHONPATH"] = str(code)
    log = (base / "server.log").open("wb")
    proc = subprocess.Popen([CTL, "server", "--listen", "127.0.0.1:0", "--http-listen",
                             "127.0.0.1:0", *extra], env=env, stdout=log,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 300
        while not (base / "data" / "control.address").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("server did not start:\n" +
                                   (base / "server.log").read_text()[-3000:])
            time.sleep(0.3)
        _ctl(env, "hub", "create", "team")
        for i in range(spokes):
            folder = base / f"cal{i}"
            folder.mkdir()
            _ctl(env, "spoke", "add", "team", f"cal{i}", "--kind", "vdir", "--path", str(folder))
        _ctl(env, "sync", "team")
        time.sleep(settle)
        return measure(proc.pid)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: only this tree
                proc.wait(10)
        log.close()
        shutil.rmtree(base, ignore_errors=True)


def medians(runs: list[dict[str, dict[str, float]]]) -> dict[str, dict[str, float]]:
    names = sorted({name for run in runs for name in run})
    zero = {"procs": 0, "pss": 0.0, "rss": 0.0}
    return {name: {key: statistics.median(run.get(name, zero)[key] for run in runs)
                   for key in zero} for name in names}


def totals(rows: dict[str, dict[str, float]]) -> dict[str, float]:
    return {key: sum(r[key] for r in rows.values()) for key in ("procs", "pss", "rss")}


def table(rows: dict[str, dict[str, float]], before: dict[str, dict[str, float]] | None) -> str:
    zero = {"procs": 0, "pss": 0.0, "rss": 0.0}
    if before is None:
        lines = ["| role | procs | PSS MiB | RSS MiB |", "| --- | --- | --- | --- |"]
        fmt = "| {} | {:.0f} | {:.0f} | {:.0f} |"
        for name, r in sorted(rows.items(), key=lambda kv: -kv[1]["pss"]):
            lines.append(fmt.format(name, r["procs"], r["pss"], r["rss"]))
        t = totals(rows)
        lines.append(fmt.format("**total**", t["procs"], t["pss"], t["rss"]))
        return "\n".join(lines)
    lines = ["| role | procs before | procs after | PSS MiB before | PSS MiB after "
             "| RSS MiB before | RSS MiB after |", "| --- " * 7 + "|"]
    fmt = "| {} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} | {:.0f} |"
    names = sorted(set(rows) | set(before),
                   key=lambda n: -max(rows.get(n, zero)["pss"], before.get(n, zero)["pss"]))
    for name in names:
        a, b = rows.get(name, zero), before.get(name, zero)
        lines.append(fmt.format(name, b["procs"], a["procs"], b["pss"], a["pss"], b["rss"],
                                a["rss"]))
    t, tb = totals(rows), totals(before)
    lines.append(fmt.format("**total**", tb["procs"], t["procs"], tb["pss"], t["pss"],
                            tb["rss"], t["rss"]))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spokes", type=int, default=3)
    ap.add_argument("--settle", type=float, default=30.0,
                    help="seconds idle after the first sync before measuring")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--before", type=Path, help="an older checkout to alternate with")
    ap.add_argument("--save", type=Path, help="keep this run's medians (JSON)")
    ap.add_argument("--compare", type=Path, help="a saved run to print before/after against")
    ap.add_argument("--label", default="", help="what this run measures (for --write)")
    ap.add_argument("--write", type=Path, help="append the table to this Markdown file")
    ap.add_argument("server_flags", nargs="*", help="extra `cirahubctl server` flags")
    args = ap.parse_args()

    load_start = os.getloadavg()[0]
    runs: list[dict[str, dict[str, float]]] = []
    old: list[dict[str, dict[str, float]]] = []
    for rep in range(args.reps):
        codes: list[Path | None] = [None]
        if args.before is not None:  # alternate which one goes first
            codes = [args.before, None] if rep % 2 == 0 else [None, args.before]
        for code in codes:
            result = one_run(args.spokes, args.settle, args.server_flags, code)
            (runs if code is None else old).append(result)
            t = totals(result)
            print(f"rep {rep + 1} {'before' if code else 'after'}: {t['procs']:.0f} processes, "
                  f"PSS {t['pss']:.0f} MiB, RSS {t['rss']:.0f} MiB "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
    rows = medians(runs)
    before = json.loads(args.compare.read_text())["rows"] if args.compare else None
    if old:
        before = medians(old)
    text = table(rows, before)
    print(text)
    load = f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end"
    print(load)
    if args.save:
        args.save.write_text(json.dumps({"rows": rows, "load": load}, indent=1))
    if args.write:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        flags = " ".join(args.server_flags)
        head = (f"\n### {when} — idle embedded server{' — ' + args.label if args.label else ''}"
                f"\n\n- command: `python bench/bench_footprint.py --spokes {args.spokes} "
                f"--settle {args.settle:g} --reps {args.reps}"
                f"{' --before ' + str(args.before) if args.before else ''}"
                f"{' ' + flags if flags else ''}`"
                f"\n- {args.spokes} vdir spokes on one hub, synced once, idle {args.settle:g} s; "
                f"medians of {args.reps} runs (per role); {load}\n\n")
        with args.write.open("a") as fh:
            fh.write(head + text + "\n")


if __name__ == "__main__":
    main()
