"""cirahub side by side with vdirsyncer (local folders) and the raw PUT limit (CalDAV).

Scenarios (sizes of ``--full``; the quick default is a fifth of them):

- ``2 folders``: 5,000 events in folder 0, folder 1 empty: initial; no-change re-sync;
  1% edits in each folder + 0.5% deletes (half in each);
- ``10 folders``: 2,000 events in folder 0, nine empty: initial; 20 edits spread over all
  ten folders → every folder;
- ``CalDAV``: 1,000 events in a folder and an empty Radicale collection: initial (and a plain
  client's PUTs of the same items: the raw PUT limit); no-change; 1% edits on each side (and
  a plain client's requests of that sync: the raw edit limit, column "raw ×4").

Contenders: ``vdirsyncer`` (pairs; N folders are a star around folder 0, ``sync`` repeated
until the content is right, and how many calls that took is shown), ``cirahub`` (a running
``cirahubctl server``, a scenario being ``apply -f`` + ``sync``, timed as wall time of those
commands) and, with ``--engine``, ``engine`` (the same sync engine in-process, no Ray, no CLI).
A phase's time includes attaching (vdirsyncer's ``discover``, cirahub's ``apply``) for the
initial sync. Every repetition runs every contender on fresh folders, in alternating order,
so load from other work on the machine hits each alike; after every phase every replica is
checked item by item, property by property (see :mod:`bench.calendars`).

    .venv/bin/python bench/bench_vs_vdirsyncer.py [--full] [--reps 3] [--engine]
        [--only 2folders,10folders,caldav] [--write docs/benchmarks.md]

Prints a table of medians and ratios; nothing is asserted beyond the content checks.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import dav  # noqa: E402
from bench.calendars import (  # noqa: E402
    Truth,
    check_folder,
    edit_folder,
    edit_text,
    fill_folder,
)
from bench.drivers import (  # noqa: E402
    CirahubServer,
    Engine,
    Vdirsyncer,
    caldav_storage,
    folder_storage,
    vdirsyncer_version,
)

#: scenario → phase → contender → seconds of each repetition
Results = dict[str, dict[str, dict[str, list[float]]]]


class Contender:
    """How one tool attaches storages and syncs them (see :mod:`bench.drivers`)."""

    def __init__(self, name: str, server: CirahubServer | None = None) -> None:
        self.name, self.server = name, server
        self._session: Any = None
        self.calls = 0

    def attach(self, root: Path, storages: list[dict[str, Any]]) -> None:
        self.calls = 0
        if self.name == "vdirsyncer":
            self._session = Vdirsyncer(root, storages)
            self._session.discover()
        elif self.name == "cirahub":
            assert self.server is not None
            self._session = self.server.attach(root, storages)
        else:
            self._session = Engine(root, storages)

    def sync(self) -> None:
        self.calls += 1
        if self.name == "cirahub":
            assert self.server is not None
            self.server.sync(self._session)
        else:
            self._session.sync()

    def detach(self) -> None:
        if self.name == "cirahub":
            assert self.server is not None
            self.server.detach(self._session)
        elif self.name == "engine":
            self._session.close()


def timed(fn: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def converge(c: Contender, check: Callable[[], None], budget: int) -> tuple[float, int]:
    """Sync until ``check`` passes (vdirsyncer's star needs a second call for leaf → leaf;
    cirahub must make it in one). Time of the syncs only, and how many it took."""
    total, calls = 0.0, 0
    while True:
        total += timed(c.sync)
        calls += 1
        try:
            check()
            return total, calls
        except AssertionError:
            if calls >= budget:
                raise


def scenario_folders(c: Contender, root: Path, n_folders: int, n: int,
                     res: Results, name: str, rng: random.Random) -> None:
    folders = [root / f"f{i}" for i in range(n_folders)]
    truth = Truth()
    fill_folder(folders[0], n, truth)
    for f in folders[1:]:
        f.mkdir(parents=True)
    storages = [folder_storage(f) for f in folders]

    def check() -> None:
        for f in folders:
            check_folder(f, truth)

    budget = 1 if c.name != "vdirsyncer" else 3
    t_attach = timed(lambda: c.attach(root / "tool", storages))
    t, calls = converge(c, check, budget)
    res[name][f"initial ({n:,} events)"][c.name].append(t_attach + t)
    res[name]["calls: initial"][c.name].append(calls)
    t, _ = converge(c, check, 1)
    res[name]["no-change re-sync"][c.name].append(t)
    if n_folders == 2:
        edits, deletes = n // 100, n // 400
        touched = edit_folder(folders[0], truth, rng, edits, deletes, "edited in 0", set())
        edit_folder(folders[1], truth, rng, edits, deletes, "edited in 1", touched)
        phase = f"{edits} edits + {deletes} deletes each side"
    else:
        touched: set[str] = set()
        for i, f in enumerate(folders):
            touched |= edit_folder(f, truth, rng, 20 // n_folders, 0, f"edited in {i}", touched)
        phase = "20 edits → all"
    t, calls = converge(c, check, budget)
    res[name][phase][c.name].append(t)
    res[name][f"calls: {phase}"][c.name].append(calls)
    c.detach()


def scenario_caldav(c: Contender, root: Path, n: int, res: Results, server: dav.Radicale,
                    rng: random.Random) -> None:
    folder = root / "f0"
    truth = Truth()
    fill_folder(folder, n, truth)
    url = dav.new_collection(server)
    storages = [folder_storage(folder), caldav_storage(url, dav.USER, dav.PASSWORD)]

    def check() -> None:
        check_folder(folder, truth)
        dav.check_collection(url, truth)

    name = "CalDAV (Radicale)"
    t_attach = timed(lambda: c.attach(root / "tool", storages))
    t, _ = converge(c, check, 1)
    res[name][f"initial ({n:,} events)"][c.name].append(t_attach + t)
    t, _ = converge(c, check, 1)
    res[name]["no-change re-sync"][c.name].append(t)
    edits = max(1, n // 100)
    touched = edit_folder(folder, truth, rng, edits, 0, "edited locally", set())
    remote = rng.sample(sorted(set(truth.items) - touched), edits)
    dav.edit_on_server(url, truth, remote, "edited on the server")
    t, _ = converge(c, check, 1)
    res[name][f"{edits} edits each side"][c.name].append(t)
    c.detach()


#: the column of the raw limits: a plain client's PUTs (initial) or an edit sync's requests
RAW = "raw ×4"


def raw_phases(n: int, res: Results, server: dav.Radicale, parallel: int,
               rng: random.Random) -> None:
    """The raw limits of the CalDAV scenario: a plain client PUTting the same items
    (initial), then, on that collection, exactly the requests the edit sync needs
    (:func:`bench.dav.raw_edit_sync`: the REPORT, the multiget of the server-side edits,
    the folder-side edits' If-Match PUTs)."""
    truth = Truth()
    with tempfile.TemporaryDirectory() as tmp:
        fill_folder(Path(tmp), n, truth)
    url = dav.new_collection(server)
    name = "CalDAV (Radicale)"
    t = timed(lambda: dav.raw_put(url, list(truth.items.values()), parallel))
    dav.check_collection(url, truth)
    res[name][f"initial ({n:,} events)"][RAW].append(t)
    res[name]["no-change re-sync"]  # the table's order of phases (no raw limit there)
    token = dav.sync_state(url)
    held = dav.held_by_uid(url)
    edits = max(1, n // 100)
    chosen = rng.sample(sorted(truth.items), 2 * edits)
    dav.edit_on_server(url, truth, chosen[edits:], "edited on the server")
    local = [(*held[uid], edit_text(truth.items[uid], "20261201T100000Z", "edited locally"))
             for uid in chosen[:edits]]
    seen: list[int] = []
    t = timed(lambda: seen.append(dav.raw_edit_sync(url, token, local, parallel)))
    if seen != [edits]:
        raise AssertionError(f"raw edit sync read {seen} server-side changes, not {edits}")
    for (_, _, text), uid in zip(local, chosen[:edits], strict=True):
        truth.add(uid, text)
    dav.check_collection(url, truth)
    res[name][f"{edits} edits each side"][RAW].append(t)


# --- running and reporting --------------------------------------------------------------------

SIZES = {"quick": {"2folders": 1000, "10folders": 400, "caldav": 200},
         "full": {"2folders": 5000, "10folders": 2000, "caldav": 1000}}
#: the goal of each phase (by a word of its name): cirahub / vdirsyncer at most this
GOALS = {"initial": 1.0, "no-change": 0.5, "edits": 0.5, "→ all": 0.5}


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor())
    mem = next((line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")), "?")
    return (f"{platform.node()}: {os.cpu_count()} cores ({cpu}), {int(mem) // 2**20} GiB, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}; "
            f"load average at the start {os.getloadavg()[0]:.1f}")


def versions() -> str:
    from importlib.metadata import version

    # the cirahub the server runs (PYTHONPATH may point at another checkout: "before" runs)
    where = subprocess.run([sys.executable, "-c", "import cirahub, os; print(os.path.realpath("
                            "os.path.dirname(cirahub.__file__)))"], capture_output=True,
                           text=True, check=False, cwd="/").stdout.strip()
    rev = subprocess.run(["git", "-C", where or str(REPO), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True, check=False).stdout.strip()
    return (f"cirahub {rev}, vdirsyncer {vdirsyncer_version()}, radicale {version('radicale')}, "
            f"icalendar {version('icalendar')}, ray {version('ray')}")


def goal_of(phase: str) -> float | None:
    return next((g for key, g in GOALS.items() if key in phase), None)


def table(res: Results, contenders: list[str]) -> list[str]:
    head = ["scenario", "phase", *contenders, "ratio", "goal"]
    rows = [head, ["---"] * len(head)]
    for scenario, phases in res.items():
        for phase, by in phases.items():
            if phase.startswith("calls"):
                continue
            med = {c: statistics.median(v) for c, v in by.items() if v}
            calls = phases.get(f"calls: {phase}", {})
            cells = []
            for c in contenders:
                text = f"{med[c]:.2f} s" if c in med else "—"
                if c in calls and max(calls[c]) > 1:
                    text += f" ({max(calls[c])} syncs)"
                cells.append(text)
            initial = phase.startswith("initial")
            base_name = RAW if initial and RAW in med else "vdirsyncer"
            base = med.get(base_name)
            ratio = f"{med['cirahub'] / base:.2f}" if base and "cirahub" in med else "—"
            if base_name != "vdirsyncer" and ratio != "—":
                ratio += " of raw PUT ×4"
            elif RAW in med and base:  # how much of vdirsyncer's time Radicale's own is
                ratio += f" (raw {med[RAW] / base:.2f})"
            goal = goal_of(phase) if base_name == "vdirsyncer" else 1.05
            rows.append([scenario, phase, *cells, ratio, f"≤ {goal}" if goal else ""])
    return ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the issue's sizes (else a fifth)")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--engine", action="store_true", help="also the in-process engine")
    ap.add_argument("--only", default="2folders,10folders,caldav")
    ap.add_argument("--write", type=Path, help="append the results to this Markdown file")
    ap.add_argument("--scale", type=float, default=1.0, help="multiply every size (try-outs)")
    args = ap.parse_args()
    sizes = {k: max(20, int(v * args.scale)) for k, v in
             SIZES["full" if args.full else "quick"].items()}
    only = set(args.only.split(","))
    started = datetime.now(UTC)
    root = Path(tempfile.mkdtemp(prefix="cirahub-vs-vdirsyncer-"))
    res: Results = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    server = CirahubServer(root / "server")
    radicale = dav.Radicale(_mkdir(root / "radicale")) if "caldav" in only else None
    names = ["vdirsyncer", "cirahub"] + (["engine"] if args.engine else [])
    failures: list[str] = []
    try:
        for rep in range(args.reps):
            rng = random.Random(rep)
            order = names if rep % 2 == 0 else names[::-1]
            for name in order:
                c = Contender(name, server)
                base = root / f"r{rep}-{name}"
                seed = rng.random()

                def attempt(what: str, fn: Callable[[], None], _n: str = name,
                            _r: int = rep) -> None:
                    try:
                        fn()
                    except Exception as exc:  # reported; the other scenarios go on
                        failures.append(f"repetition {_r + 1}, {_n}, {what}: {exc}"[:600])
                        print(failures[-1], flush=True)

                if "2folders" in only:
                    attempt("2 folders", partial(scenario_folders, c, base / "two", 2,
                                                 sizes["2folders"], res, "2 folders",
                                                 random.Random(seed)))
                if "10folders" in only:
                    attempt("10 folders", partial(scenario_folders, c, base / "ten", 10,
                                                  sizes["10folders"], res, "10 folders",
                                                  random.Random(seed + 1)))
                if radicale is not None:
                    if name == order[0]:
                        attempt("raw", partial(raw_phases, sizes["caldav"], res, radicale,
                                               4, random.Random(seed + 3)))
                    attempt("CalDAV", partial(scenario_caldav, c, base / "dav",
                                              sizes["caldav"], res, radicale,
                                              random.Random(seed + 2)))
                shutil.rmtree(base, ignore_errors=True)
            print(f"repetition {rep + 1}/{args.reps} done", flush=True)
    finally:
        server.stop()
        if radicale is not None:
            radicale.stop()
    contenders = [*names, RAW] if radicale is not None else names
    lines = table(res, contenders)
    command = "python " + " ".join(sys.argv)
    report = [
        f"### {started:%Y-%m-%d %H:%M} UTC — {'full' if args.full else 'quick'}, "
        f"{args.reps} repetitions",
        "",
        f"- command: `{command}`",
        f"- machine: {machine()}",
        f"- versions: {versions()}",
        f"- cirahub server start-up (not in the times): {server.startup:.1f} s",
        "- medians of the repetitions; contenders alternate their order every repetition",
        "",
        *lines,
        "",
        *(f"- FAILED: {f}" for f in failures),
    ]
    print("\n".join(report))
    if args.write:
        with args.write.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(report) + "\n")
    shutil.rmtree(root, ignore_errors=True)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


if __name__ == "__main__":
    main()
