"""Benchmark: an Exchange public folder of N items on the EWS emulator, beside a local folder.

    python bench/bench_ews.py [--items 5000] [--reps 3] [--store sqlite|postgres|both]
                              [--write docs/benchmarks.md]

Issue 15's EWS scenario. The real client code (exchangelib) talks EWS over HTTP to the emulator
on 127.0.0.1 (tests/ews_emulator: it refuses what Exchange refuses); the sync engine runs in
this process (SyncCycle + a local merger, as ``bench_vs_vdirsyncer --engine``), on SQLite or
the local PostgreSQL. No other tool syncs EWS, so this measures cirahub alone:

- *initial*: N events (bench/calendars.py) in a local folder → hub → the empty public folder;
- *no-change poll*: one run of the public-folder spoke, nothing changed anywhere (what every
  interval costs), with the EWS requests it sent;
- *1 % changes*: N/200 subjects changed in the public folder by a user (the emulator's
  Outlook-like side) and N/200 files edited in the folder, then rounds until both sides hold
  every change.

After every phase the public folder is checked: N items, each subject the one last written,
no meeting message sent. Prints a table (medians) and, with ``--write``, appends it.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, text

from bench.calendars import Truth, edit_folder, fill_folder
from bench.drivers import Engine
from tests.ews_emulator import EwsEmulator

USER, PASSWORD = "svc@example.com", "secret"
FOLDER = "/Calendars/Team"
PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


@contextmanager
def store_url(kind: str, root: Path) -> Iterator[str]:
    """An empty store: a SQLite file, or a PostgreSQL database made for this run and dropped."""
    if kind == "sqlite":
        yield f"sqlite:///{root / 'bench.db'}"
        return
    name = f"bench_ews_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Scenario:
    """One hub: the local folder (spoke 0) and the public folder (spoke 1)."""

    def __init__(self, root: Path, url: str, emu: EwsEmulator, n: int) -> None:
        self.root, self.emu, self.n = root, emu, n
        self.folder_id = emu.add_public_folder(FOLDER)
        self.folder = root / "folder"
        self.folder.mkdir()
        self.truth = Truth()
        fill_folder(self.folder, n, self.truth)
        self.engine = Engine(root, [
            {"kind": "vdir", "path": str(self.folder)},
            {"kind": "ews-public-folder", "service_endpoint": emu.url, "username": USER,
             "folder": FOLDER, "password": PASSWORD},
        ], url=url)
        self.sync = self.engine.sync

    def poll_exchange(self) -> int:
        """One run of the public-folder spoke; the EWS requests it sent."""
        before = len(self.emu.requests)
        summary = self.engine.cycles[1].run("bench")
        if not summary.ok or summary.counts.get("pulled", 0):
            raise RuntimeError(f"a no-change poll did something: {summary}")
        return len(self.emu.requests) - before

    def change_both_sides(self, rng: random.Random) -> dict[str, str]:
        """N/200 subjects changed in Exchange, N/200 files edited; returns uid → subject."""
        k = max(1, self.n // 200)
        items = sorted(self.emu.user.items(self.folder_id), key=lambda i: i["uid"])
        chosen = rng.sample(items, k)
        want = {}
        for item in chosen:
            subject = f"{item['subject']} (changed in Outlook)"
            self.emu.user.update(item["id"], subject=subject)
            want[item["uid"]] = subject
        touched = edit_folder(self.folder, self.truth, rng, k, 0, "edited in the folder",
                              exclude=set(want))
        for uid in touched:
            want[uid] = _summary(self.truth.items[uid])
        return want

    def check(self, want: dict[str, str] | None = None) -> None:
        items = self.emu.user.items(self.folder_id)
        if len(items) != self.n:
            raise AssertionError(f"the public folder holds {len(items)} items, not {self.n}")
        by_uid = {i["uid"]: i["subject"] for i in items}
        expected = {uid: _summary(t) for uid, t in self.truth.items.items()}
        expected.update(want or {})
        wrong = [u for u, s in expected.items() if by_uid.get(u) != s]
        if wrong:
            raise AssertionError(f"{len(wrong)} subjects differ in Exchange, e.g. {wrong[0]}")
        if self.emu.meeting_messages:
            raise AssertionError("the sync made Exchange send meeting mail")

    def close(self) -> None:
        self.engine.close()


def _summary(ical: str) -> str:
    """The first SUMMARY's text (unfolded; what a writer folds is the same text)."""
    unfolded = ical.replace("\r\n", "\n").replace("\n ", "").replace("\n\t", "")
    for line in unfolded.split("\n"):
        if line.startswith("SUMMARY:"):
            return line[8:].replace("\\,", ",")
    raise ValueError("no SUMMARY")


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def one_rep(kind: str, n: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-ews-") as tmp, \
            EwsEmulator({USER: PASSWORD}) as emu, store_url(kind, Path(tmp)) as url:
        sc = Scenario(Path(tmp), url, emu, n)
        try:
            initial, _ = timed(sc.sync)
            sc.check()
            creates = emu.count("CreateItem")
            poll, requests = timed(sc.poll_exchange)
            want = sc.change_both_sides(random.Random(seed))
            changes, _ = timed(sc.sync)
            sc.check(want)
            # the folder side holds the Exchange edits too
            held = {_summary(p.read_text(encoding="utf-8")) for p in sc.folder.glob("*.ics")}
            missing = [s for s in want.values() if s not in held]
            if missing:
                raise AssertionError(f"{len(missing)} changes missing in the folder")
        finally:
            sc.close()
    return {"initial": initial, "creates": creates, "poll": poll, "poll_requests": requests,
            "changes": changes}


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--items", type=int, default=5000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--store", choices=("sqlite", "postgres", "both"), default="both")
    ap.add_argument("--write", type=Path, help="append the results to this Markdown file")
    args = ap.parse_args()
    kinds = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    load = os.getloadavg()[0]
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for kind in kinds:
        reps = [one_rep(kind, args.items, seed) for seed in range(args.reps)]
        med = {k: statistics.median(r[k] for r in reps) for k in reps[0]}
        rows.append(
            f"| {kind} | {args.items:,} | {med['initial']:.1f} s "
            f"({args.items / med['initial']:.0f} items/s, {med['creates']:.0f} CreateItem) "
            f"| {med['poll'] * 1000:.0f} ms ({med['poll_requests']:.0f} requests) "
            f"| {med['changes']:.2f} s |")
        print(rows[-1], flush=True)
    out = "\n".join([
        f"### {when} — EWS public folder on the emulator, {args.reps} repetitions",
        "",
        f"- command: `python bench/bench_ews.py --items {args.items} --reps {args.reps}"
        f" --store {args.store}`",
        f"- machine: {platform.node() and 'vm'}: {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average at the start {load:.1f}",
        "",
        "| store | items | initial (folder → hub → Exchange) | no-change poll of Exchange "
        "| 1 % changes each side |",
        "| --- | --- | --- | --- | --- |",
        *rows, "",
    ])
    print(out)
    if args.write:
        with args.write.open("a", encoding="utf-8") as f:
            f.write("\n" + out + "\n")


if __name__ == "__main__":
    main()
