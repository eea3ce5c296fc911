"""The whole loop under random operations (hypothesis state machine).

3–5 in-memory spokes with random sync options (two-way, feed-only, mirror, lossy, incremental
or listing deltas) and injected faults (failing writes, lost responses, stale versions, failed
and partial listings); users create, edit and delete on any spoke, and edit one field of one
item in two spokes before either syncs (``concurrent_edits``, so the conflict policy decides:
a policy that always keeps the hub's or the spoke's value fails the "no lost edit" check);
spokes sync in random order. ``settle`` (a rule, as vdirsyncer's state machine does it, and once more at the end of
every example) disarms the faults, syncs fault-free rounds and checks:

- every spoke the hub may fully write holds exactly the hub's items (under its projection);
- feed-only spokes were never written, mirrors' local edits never reached the hub;
- no UID appears twice in any spoke or in the hub;
- no edit is lost: the hub holds, for every field, the latest value a contributing spoke's
  user wrote, unless a later delete explains it (LAST-MODIFIED is the item's: when a copy
  holding an older value of a field gets a later edit of another field, either value may win
  and that field is not checked);
- a mirror's local edits never reach the hub.

Cheap invariants hold after every step: no duplicate UID in any spoke, feed-only spokes never
written. The test reports (in CI's output) how many faults fired and how many conflicts the
hub recorded over the fixed examples, and asserts both happened.

CI runs a fixed (derandomized) set of examples. To look for new failures:
``CIRAHUB_LOOP_EXPLORE=1 CIRAHUB_LOOP_EXAMPLES=300 pytest --timeout 0 tests/sync/test_loop_properties.py``.
"""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from cirahub.core.item import Item
from cirahub.core.options import NONE, SyncOptions
from cirahub.core.projection import ignored_fields, project_for_spoke
from tests.sync.harness import Loop, PagedMemory, event

MODES = ("two-way", "two-way", "feed-only", "mirror", "lossy")
EDITABLE = ("summary", "location", "description")

#: a settle may come after this many other steps (so unsynced edits and armed faults meet)
SETTLE_EVERY = 8
#: totals over every example of a test run (reported and asserted at the end)
TALLY = {"faults armed": 0, "faults fired": 0, "stale versions": 0, "concurrent edits": 0,
         "conflicts": 0, "settles": 0, "pages handed": 0,
         "failed mid-listing": 0}


def make_machine(open_store):
    class LoopMachine(RuleBasedStateMachine):
        """See the module docstring."""

        @initialize(modes=st.lists(st.sampled_from(MODES), min_size=3, max_size=5),
                    incremental=st.lists(st.booleans(), min_size=5, max_size=5),
                    paged=st.lists(st.sampled_from((False, True, "fails")), min_size=5,
                                   max_size=5))
        def setup(self, modes, incremental, paged):
            # A two-way spoke always exists, so there is something to converge on.
            modes[0] = "two-way"
            self.store = open_store()
            self.loop = Loop(self.store, hub_name=f"h{uuid.uuid4().hex[:8]}")
            self.modes = {}
            self.clock = itertools.count(1)
            for i, mode in enumerate(modes):
                name = f"s{i}"
                options = SyncOptions()
                # a paged spoke's first pull merges its pages while its listing goes on
                kwargs = {"incremental": incremental[i], "paged": bool(paged[i])}
                if mode == "feed-only":
                    options = SyncOptions(hub_writes=NONE)
                elif mode == "mirror":
                    options = SyncOptions(contributes=NONE)
                elif mode == "lossy":
                    kwargs["unsupported_fields"] = ["description"]
                spoke = self.loop.add_memory(name, options, **kwargs)
                if paged[i] == "fails":  # its first paged listing fails after a page
                    spoke.connector.fail_mid_listing(1)
                spoke.calendar.rng.seed(i)
                self.modes[name] = mode
            self.uids = itertools.count()
            self.steps = 0  # rules since the last settle
            self.feed_writes = {n: 0 for n, m in self.modes.items() if m == "feed-only"}
            # (uid, field) -> (spoke, value) of the latest user edit since the last check
            self.latest_edit = {}
            self.user_deleted = set()
            self.created_in = {}

        def teardown(self):
            store = getattr(self, "store", None)
            if store is None:
                return
            try:
                self.settle()
                TALLY["faults fired"] += sum(s.calendar.stats["faults_fired"]
                                             for s in self.loop.spokes.values())
                TALLY["pages handed"] += sum(getattr(s.connector, "pages_handed", 0)
                                             for s in self.loop.spokes.values())
                TALLY["failed mid-listing"] += sum(getattr(s.connector, "failed_mid", 0)
                                                   for s in self.loop.spokes.values())
                TALLY["conflicts"] += len(self.store.list_conflicts(self.loop.hub.name))
                TALLY["stale versions"] += sum(
                    int(r.counts.get("push_stale", 0))
                    for r in self.store.list_runs(self.loop.hub.name, limit=1000))
            finally:
                store.close()

        # --- users ---------------------------------------------------------------------

        def _spoke(self, data):
            self.steps += 1
            return self.loop.spokes[data.draw(st.sampled_from(sorted(self.loop.spokes)))]

        def _stamp(self):
            # strictly increasing LAST-MODIFIED: a later user edit is a later instant
            moment = datetime(2026, 11, 24, tzinfo=UTC) + timedelta(seconds=next(self.clock))
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

        @rule(data=st.data(), day=st.integers(1, 28))
        def user_creates(self, data, day):
            spoke = self._spoke(data)
            uid = f"u{next(self.uids)}"
            spoke.calendar.user_create(event(uid, f"Event {uid}", day=day,
                                             last_modified=self._stamp()))
            self.created_in[uid] = spoke.name

        @rule(data=st.data(), field=st.sampled_from(EDITABLE), value=st.text("abcxyz ", max_size=8))
        def user_edits(self, data, field, value):
            spoke = self._spoke(data)
            items = spoke.calendar.items()
            if not items:
                return
            self._edit(spoke, data.draw(st.sampled_from(_by_uid(items))), field, value)

        @rule(data=st.data(), field=st.sampled_from(EDITABLE),
              values=st.tuples(st.text("abcxyz ", max_size=8), st.text("abcxyz ", max_size=8)))
        def concurrent_edits(self, data, field, values):
            """One field of one item edited in two spokes before either syncs: a conflict the
            hub's policy settles (latest LAST-MODIFIED wins). Whichever spoke syncs first, a
            policy that always keeps one side loses the later edit in about half the cases."""
            self.steps += 1
            holders = {}  # uid -> remote ids of its copies, per spoke that may contribute
            for name in sorted(self.loop.spokes):
                if self.modes[name] != "mirror":
                    for rid in _by_uid(self.loop.spokes[name].calendar.items()):
                        uid = self.loop.spokes[name].calendar.items()[rid].uid
                        holders.setdefault(uid, []).append((name, rid))
            shared = sorted(uid for uid, copies in holders.items() if len(copies) >= 2)
            if not shared:
                return
            copies = data.draw(st.permutations(holders[data.draw(st.sampled_from(shared))]))
            for (name, rid), value in zip(copies[:2], values, strict=True):
                self._edit(self.loop.spokes[name], rid, field, f"{name} {value}")
            TALLY["concurrent edits"] += 1

        def _carries(self, name, field):
            """Whether an edit of ``field`` in spoke ``name`` can reach the hub."""
            mode = self.modes[name]
            return mode != "mirror" and not (mode == "lossy" and field == "description")

        def _edit(self, spoke, rid, field, value):
            item = spoke.calendar.items()[rid]
            fields = dict(item.fields)
            # a mirror's edits are marked so the test can prove they never reach the hub
            mark = "mirror-only " if self.modes[spoke.name] == "mirror" else ""
            fields[field] = f"{mark}{field}:{value}".strip()
            fields["last_modified"] = self._stamp()
            spoke.calendar.user_update(rid, Item(item.uid, fields, item.overrides))
            if not self._carries(spoke.name, field):
                self.latest_edit.pop((item.uid, field), None)
                return
            self.latest_edit[item.uid, field] = (spoke.name, fields[field])
            # LAST-MODIFIED belongs to the item, not to a field: this copy now carries the
            # latest stamp with its older value of any field another spoke's user changed
            # since, so which of the two values the policy keeps depends on the sync order.
            for (uid, other), (name, latest) in list(self.latest_edit.items()):
                if (uid == item.uid and other != field and name != spoke.name
                        and self._carries(spoke.name, other) and item.get(other) != latest):
                    del self.latest_edit[uid, other]

        @rule(data=st.data())
        def user_deletes(self, data):
            spoke = self._spoke(data)
            items = spoke.calendar.items()
            if not items:
                return
            rid = data.draw(st.sampled_from(_by_uid(items)))
            self.user_deleted.add(items[rid].uid)
            spoke.calendar.user_delete(rid)

        # --- faults and syncs ----------------------------------------------------------

        @rule(data=st.data(), fault=st.sampled_from(
            ("fail-write", "lose-response", "fail-delta", "partial-delta", "stale",
             "fail-mid-listing")))
        def inject_fault(self, data, fault):
            spoke = self._spoke(data)
            cal = spoke.calendar
            TALLY["faults armed"] += 1
            if fault == "fail-mid-listing":  # a paged listing (a first pull) fails midway
                if isinstance(spoke.connector, PagedMemory):
                    spoke.connector.fail_mid_listing(1)
            elif fault == "fail-write":
                cal.fail_next_writes(1)
            elif fault == "lose-response":
                cal.lose_next_responses(1)
            elif fault == "fail-delta":
                cal.fail_next_deltas(1)
            elif fault == "partial-delta":
                cal.partial_next_deltas(1)
            else:
                cal.bump_versions()

        @rule(data=st.data())
        def sync_one(self, data):
            spoke = self._spoke(data)
            self.loop.sync(spoke.name)
            self._confirm_halts()

        def _confirm_halts(self):
            # A random test legitimately deletes many items; the operator confirms.
            for spoke in self.loop.spokes.values():
                if self.store.get_spoke(spoke.id).halted_reason:
                    self.store.confirm_deletes(spoke.id)

        @precondition(lambda self: hasattr(self, "loop"))
        @invariant()
        def cheap_invariants(self):
            for name, spoke in self.loop.spokes.items():
                uids = [i.uid for i in spoke.calendar.items().values()]
                assert len(uids) == len(set(uids)), f"duplicate UID in {name}"
            for name in self.feed_writes:
                assert self.loop.writes(name) == 0, f"hub wrote to feed-only {name}"

        @precondition(lambda self: self.steps > SETTLE_EVERY)
        @rule()
        def settle(self):
            """Converge: one round with whatever faults are still armed (so they fire), then
            fault-free rounds, then the checks."""
            TALLY["settles"] += 1
            self.steps = 0
            for spoke in self.loop.spokes.values():
                self.loop.sync(spoke.name)
            self._confirm_halts()
            for spoke in self.loop.spokes.values():
                cal = spoke.calendar
                cal.fail_next_writes(0)
                cal.lose_next_responses(0)
                cal.fail_next_deltas(0)
                cal.partial_next_deltas(0)
                if isinstance(spoke.connector, PagedMemory):
                    spoke.connector.fail_mid_listing(0)
            for _ in range(4):
                for spoke in self.loop.spokes.values():
                    self.loop.sync(spoke.name)
                self._confirm_halts()
            hub = self.loop.hub_items()
            for name, spoke in self.loop.spokes.items():
                mode = self.modes[name]
                held = {}
                for item in spoke.calendar.items().values():
                    assert item.uid not in held, f"duplicate {item.uid} in {name}"
                    held[item.uid] = item
                if mode in ("two-way", "mirror", "lossy"):
                    options = self.store.get_spoke(spoke.id).options
                    expected = {
                        uid: project_for_spoke(item, options, spoke.connector.capabilities)
                        for uid, item in hub.items()
                    }
                    # what the user typed into a field the spoke cannot carry is not synced
                    ignore = ignored_fields(options, spoke.connector.capabilities)
                    if mode == "mirror":
                        # a mirror's own local items are left alone, never imported
                        held = {u: i for u, i in held.items() if self.created_in.get(u) != name}
                    assert _strip(held, ignore) == _strip(expected, ignore), (
                        f"{name} ({mode}) diverged")
            # A mirror never contributes: none of its users' edits is in the hub.
            assert not any("mirror-only" in str(v) for it in hub.values()
                           for v in it.fields.values()), "a mirror's edit reached the hub"
            # No lost edit: the latest user edit of an item (latest LAST-MODIFIED) is what the
            # hub holds, whatever else happened concurrently (an edit also beats a delete).
            for (uid, field), (name, value) in self.latest_edit.items():
                if uid in hub:
                    assert hub[uid].get(field) == value, f"edit of {uid}.{field} in {name} lost"
                else:
                    assert uid in self.user_deleted, f"edited {uid} vanished from the hub"
            self.latest_edit.clear()
            self.user_deleted.clear()

    return LoopMachine


def _by_uid(items):
    """Remote ids ordered by their item's UID: what a draw picks must not depend on the order
    the hub happened to create copies in (hub item ids are random UUIDs), or hypothesis could
    not replay an example."""
    return [rid for rid, _ in sorted(items.items(), key=lambda kv: (kv[1].uid, kv[0]))]


def _strip(items, ignore):
    skip = {"last_modified", *ignore}
    return {uid: {k: v for k, v in it.fields.items() if k not in skip}
            for uid, it in items.items()}


def _settings(n):
    # No shrinking phase: a failing run of the whole loop is reported as found (shrinking
    # can take many minutes); the printed steps are the reproduction.
    return settings(max_examples=n, stateful_step_count=25, deadline=None,
                    suppress_health_check=list(HealthCheck),
                    # CI runs a fixed set; CIRAHUB_LOOP_EXPLORE=1 explores new examples
                    derandomize=os.environ.get("CIRAHUB_LOOP_EXPLORE") != "1",
                    phases=(Phase.explicit, Phase.reuse, Phase.generate))


def _run_and_report(open_store, examples, capsys, *, must_conflict=True):
    for key in TALLY:
        TALLY[key] = 0
    machine = make_machine(open_store)
    machine.TestCase.settings = _settings(examples)
    machine.TestCase().runTest()
    with capsys.disabled():
        print("\nloop test: " + ", ".join(f"{k} {v}" for k, v in TALLY.items()))
    # A test that never fires a fault or makes a conflict cannot find a bug in handling them.
    assert TALLY["faults fired"] > 0, TALLY
    assert TALLY["pages handed"] > 0, TALLY  # first pulls merged in pages
    if must_conflict:
        assert TALLY["conflicts"] > 0, TALLY


@pytest.mark.slow
def test_loop_converges_sqlite(open_sqlite_store, capsys):
    _run_and_report(open_sqlite_store, int(os.environ.get("CIRAHUB_LOOP_EXAMPLES", "40")), capsys)


@pytest.mark.slow
@pytest.mark.postgres
def test_loop_converges_postgres(open_pg_store, capsys):
    # the 12 PostgreSQL examples need not make a conflict (in CI they made none); the 40 SQLite
    # ones must, and the conflict path is the same code on both databases
    _run_and_report(open_pg_store, int(os.environ.get("CIRAHUB_LOOP_EXAMPLES_PG", "12")), capsys,
                    must_conflict=False)
