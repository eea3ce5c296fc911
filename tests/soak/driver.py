"""The chaos soak: random user edits on every spoke while a fault schedule hits the runtime,
the database and the network; then a quiet period and the checker.

``python -m tests.soak.driver --faults 110 --seed 1`` (``make soak``) runs it and prints the
tally; ``tests/soak/test_soak.py`` runs a short fixed-seed version in CI. Deterministic in what
it does (one seeded generator draws the edits and the schedule); it never sleeps against the
scheduler: after each fault it waits (bounded) until sync runs finished after it, and the
checker waits for convergence by running sync-now rounds until every view agrees.

The checker (:func:`check`): every spoke holds exactly the hub's live items (the memory mirror
included), each UID once, with the hub's summary and excluded occurrences; every UID's last
user edit is in the hub (the report says which were the losing side of a recorded conflict);
no conflict was recorded (no user ever edits another's item, so any conflict is false); no
meeting message was sent; no run is left "running".
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import ray

from tests.soak import faults
from tests.soak.world import HUB, World, retry

#: seconds a fault step may wait for runs to finish after it
STEP_TIMEOUT = 120.0
#: sync-now rounds the quiet period may take to converge
CONVERGE_ROUNDS = 12


@dataclass
class Tally:
    faults: Counter[str] = field(default_factory=Counter)
    edits: Counter[str] = field(default_factory=Counter)
    lost: list[str] = field(default_factory=list)
    conflict_losers: int = 0
    conflicts: int = 0
    #: "uid: spoke, field (winner, reason)" of every recorded conflict
    conflict_rows: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    mismatches: list[str] = field(default_factory=list)
    meeting_messages: int = 0
    left_running: int = 0
    converge_seconds: float = 0.0
    hub_items: int = 0
    #: halts of the memory mirror answered with "restore" (its calendar died with its actor)
    mirror_restores: int = 0
    #: "spoke: state (reason)" of every spoke not ok at the end
    not_ok: list[str] = field(default_factory=list)

    @property
    def settled(self) -> bool:
        """Every view agrees, nothing lost or doubled (what the quiet period waits for)."""
        return not (self.lost or self.duplicates or self.mismatches or self.meeting_messages
                    or self.left_running or self.not_ok)

    @property
    def ok(self) -> bool:
        """Settled, and no conflict recorded: only an item's owner ever edits it (a ChangeKey
        bump in Exchange changes nothing), so no user made two rival edits and every
        recorded conflict is a false one."""
        return self.settled and not self.conflicts

    def report(self) -> str:
        lines = [f"faults injected: {sum(self.faults.values())} of {len(self.faults)} kinds"]
        lines += [f"  {kind:<28} {n}" for kind, n in sorted(self.faults.items())]
        lines.append(f"edits made: {sum(self.edits.values())}")
        lines += [f"  {kind:<28} {n}" for kind, n in sorted(self.edits.items())]
        lines += [f"edits lost: {len(self.lost)}", f"conflicts recorded: {self.conflicts}, of which user edits that lost: "
                  f"{self.conflict_losers}",
                  f"duplicates: {len(self.duplicates)}",
                  f"spoke/hub mismatches: {len(self.mismatches)}",
                  f"meeting messages: {self.meeting_messages}",
                  f"runs left running: {self.left_running}",
                  f"hub items at the end: {self.hub_items}",
                  f"memory mirror restored after its actor died: {self.mirror_restores}",
                  f"time to converge after the last fault: {self.converge_seconds:.1f}s"]
        for title, rows in (("LOST", self.lost), ("DUPLICATE", self.duplicates),
                            ("MISMATCH", self.mismatches), ("NOT OK", self.not_ok),
                            ("CONFLICT", self.conflict_rows)):
            lines += [f"{title}: {row}" for row in rows[:20]]
        return "\n".join(lines)


def _finished_runs_since(w: World, t: float) -> int:
    runs = w.rt.store.list_runs(hub=HUB, limit=200)
    return sum(1 for r in runs if r.finished_at is not None and r.finished_at.timestamp() > t)


def wait_runs_after(w: World, t: float, runs: int, timeout: float = STEP_TIMEOUT) -> bool:
    """Wait until ``runs`` sync runs finished after ``t`` (the spokes poll every 5 s and the
    fan-out wakes them). False on timeout (a fault may legitimately stall every spoke for a
    while; the checker judges the outcome)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _finished_runs_since(w, t) >= runs:
                return True
        except Exception:  # the database is restarting
            pass
        time.sleep(0.3)
    return False


def run_schedule(w: World, tally: Tally, rng: random.Random, kinds: list[str],
                 edits_per_step: int, log: bool) -> float:
    """Edits, then a fault, then wait for runs after it; returns the last fault's time."""
    last = time.time()
    for i, kind in enumerate(kinds):
        for _ in range(edits_per_step):
            w.user_edit(rng)
        detail = faults.KINDS[kind](w, rng)
        last = time.time()
        tally.faults[kind] += 1
        progressed = wait_runs_after(w, last, runs=3)
        if log:
            print(f"[{i + 1}/{len(kinds)}] {last:.2f} {kind}: {detail}"
                  f"{'' if progressed else ' (no run finished in time)'}", flush=True)
    return last


def quiet(w: World) -> None:
    """No more faults: proxies and the emulator answer normally from now on."""
    for proxy in w.proxies.values():
        proxy.clear()
    w.emu.faults.clear()


def check(w: World, tally: Tally) -> bool:
    """One pass of the checker; fills ``tally`` and says whether everything agrees
    (``Tally.settled``; conflicts, which no later round undoes, are judged by ``Tally.ok``)."""
    store = w.rt.store
    hub_id = store.get_hub(HUB).id
    items = store.hub_items_changed_since(hub_id, 0)
    live = {h.uid: h.item for h in items if h.item is not None}
    tally.hub_items = len(live)
    tally.duplicates = [f"hub: {u} x{n}" for u, n in
                        Counter(h.uid for h in items if h.item is not None).items() if n > 1]
    tally.mismatches = []
    for spoke, seen in w.views().items():
        counts = Counter(s.uid for s in seen)
        tally.duplicates += [f"{spoke}: {u} x{n}" for u, n in counts.items() if n > 1]
        for u in sorted(set(live) - set(counts)):
            tally.mismatches.append(f"{spoke}: missing {u}")
        for s in seen:
            if s.uid not in live:
                tally.mismatches.append(f"{spoke}: {s.uid} is not in the hub")
                continue
            item = live[s.uid]
            want = (str(item.fields.get("summary")), len(item.fields.get("exdates") or ()))
            if (s.summary, s.excluded) != want:
                tally.mismatches.append(f"{spoke}: {s.uid} shows {(s.summary, s.excluded)}, "
                                        f"the hub {want}")
    _check_edits(w, tally, live)
    tally.not_ok = [f"{s.name}: {s.state} ({(s.last_error or {}).get('message', '')}"
                    f"{s.halted_reason or ''})"[:300]
                    for s in w.rt.status(HUB) if s.state not in ("ok", "running")]
    tally.meeting_messages = len(w.emu.meeting_messages)
    tally.left_running = sum(1 for r in store.list_runs(hub=HUB, limit=1000)
                             if r.status == "running")
    return tally.settled


def _check_edits(w: World, tally: Tally, live: dict[str, object]) -> None:
    conflicts = w.rt.store.list_conflicts(HUB, limit=1000)
    tally.conflicts = len(conflicts)
    names = {s.id: s.name for s in w.rt.store.list_spokes(HUB)}
    tally.conflict_rows = [
        f"{c.uid}: with {names.get(c.spoke_id or '', '?')}, " + ", ".join(
            f"{f.get('field')} (winner {f.get('winner')}: {f.get('reason')})" for f in c.fields)
        + _story(w, c.uid) for c in conflicts]
    losers = set()
    for c in conflicts:  # the losing side's whole item, as Item.to_json() keeps it
        lost_fields = (c.losing_item or {}).get("fields") or {}
        losers.add((c.uid, str(lost_fields.get("summary")),
                    len(lost_fields.get("exdates") or ())))
    tally.lost, tally.conflict_losers = [], 0
    for uid, exp in sorted(w.model.items()):
        item = live.get(uid)
        if exp.deleted:
            if item is not None:
                tally.lost.append(f"{uid}: deleted by {exp.owner}, still in the hub" + _story(w, uid))
            continue
        got = None if item is None else (str(item.fields.get("summary")),  # type: ignore[attr-defined]
                                          len(item.fields.get("exdates") or ()))  # type: ignore[attr-defined]
        if got == (exp.summary, len(exp.excluded)):
            continue
        if (uid, exp.summary, len(exp.excluded)) in losers:
            tally.conflict_losers += 1
            continue
        tally.lost.append(f"{uid}: {exp.owner} left {(exp.summary, len(exp.excluded))}, "
                          f"the hub has {got}" + _story(w, uid))


def restore_mirror(w: World) -> int:
    """The operator's answer to the memory mirror's halt: its calendar lived in a spoke
    actor's process that a fault killed, so its complete listing came back empty and the
    safety halted it (as it must); "restore" has the hub write its copies back. Any other
    halted spoke is left halted (the checker reports it)."""
    spoke = w.rt.store.find_spoke(HUB, "memory")
    if spoke.halt is None or spoke.halt.confirmed:
        return 0
    w.rt.store.restore_from_hub(spoke.id)
    return 1


def _story(w: World, uid: str) -> str:
    """The user's edits and the hub's versions of ``uid``, in time order (for a lost edit)."""
    store = w.rt.store
    names = {s.id: s.name for s in store.list_spokes(HUB)}
    rows = [(t, f"user {what}") for t, what in w.model[uid].log]
    found = store.hub_items_by_uid(store.get_hub(HUB).id, [uid])
    for hub_item in found.values():
        for v in store.hub_item_history(hub_item.id):
            shown = ("deleted" if v.item is None else
                     (v.item.fields.get("summary"), len(v.item.fields.get("exdates") or ())))
            rows.append((v.created_at.timestamp(),
                         f"hub v{v.version} from {names.get(v.spoke_id or '', '?')}: {shown}"))
    for c in store.list_conflicts(HUB, limit=1000):
        if c.uid == uid:
            rows.append((c.created_at.timestamp(), f"conflict with {names.get(c.spoke_id or '')}"
                         f": {[dict(f) for f in c.fields]}"))
    return "".join(f"\n    {t:.2f} {what}" for t, what in sorted(rows))


def converge(w: World, tally: Tally, last_fault: float) -> bool:
    """Sync-now rounds until the checker passes (bounded); records the time it took."""
    for _ in range(CONVERGE_ROUNDS):
        retry(lambda: list(w.rt.sync_now(HUB)))
        tally.mirror_restores += retry(lambda: restore_mirror(w))
        if retry(lambda: check(w, tally)):
            tally.converge_seconds = time.time() - last_fault
            return True
    tally.converge_seconds = time.time() - last_fault
    return False


def start_world(root: Path, attempts: int = 3) -> World:
    """The world, in a fresh folder below ``root``; a start that fails is shown and tried
    again (bounded). Under load Ray's raylet gives up when its dashboard agent takes more
    than a fixed 15 s to start (ray-project/ray#65983: the head then dies before any sync
    ran, and the soak had no tally to show); nothing of cirahub has run yet."""
    for attempt in range(attempts):
        folder = root / f"world-{attempt}"
        folder.mkdir(mode=0o755)
        folder.chmod(0o755)  # the postgres user must reach it (whatever the umask)
        try:
            return World(folder).start()
        except Exception:
            if attempt == attempts - 1:
                raise
            traceback.print_exc()
            print(f"the soak's cluster did not start (attempt {attempt + 1} of {attempts}); "
                  "starting it again", flush=True)
            if ray.is_initialized():
                ray.shutdown()
    raise AssertionError("unreachable")


def soak(root: Path, seed: int, total: int, max_node_kills: int, max_pg_restarts: int,
         edits_per_step: int = 2, log: bool = True) -> Tally:
    rng = random.Random(seed)
    tally = Tally()
    w = start_world(root)
    try:
        for _ in range(6):  # a first calendar content before the faults start
            w.user_edit(rng)
        retry(lambda: list(w.rt.sync_now(HUB)))
        kinds = faults.schedule(rng, total, max_node_kills, max_pg_restarts)
        last = run_schedule(w, tally, rng, kinds, edits_per_step, log)
        quiet(w)
        converge(w, tally, last)
        tally.edits = Counter(w.edits)
    finally:
        w.close()
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faults", type=int, default=110)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--node-kills", type=int, default=4)
    parser.add_argument("--pg-restarts", type=int, default=6)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cirahub-soak-") as tmp:
        root = Path(tmp)
        root.chmod(0o755)
        tally = soak(root, args.seed, args.faults, args.node_kills, args.pg_restarts)
    print(tally.report())
    return 0 if tally.ok else 1


if __name__ == "__main__":
    sys.exit(main())
