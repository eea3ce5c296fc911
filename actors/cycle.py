"""One sync run for one spoke: pull → plan → merge → push, recorded as a sync run.

The cycle is plain Python (no Ray): the spoke actor wraps it, tests drive it directly. It only
orchestrates — decisions are :mod:`cirahub.core.plan`'s, I/O is the connector's and the store's,
merges go through a :class:`Merger` (the store directly, or the hub actor on Ray).

Ordering guarantees (these are what make a crash at any point safe):

- the pull cursor advances only after the merge committed, so a crash re-pulls (merge ops are
  idempotent);
- a link is committed only after its spoke write succeeded, and holds the returned remote
  version and the fingerprint of what was written, so the next pull recognizes the echo;
- the push cursor advances only past hub versions whose writes all succeeded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from cirahub.actors.failures import note_failure, note_projection, partial_error
from cirahub.actors.known import KnownVersions
from cirahub.connectors.base import SpokeConnector, Write, WriteResult
from cirahub.core.errors import AuthError, CirahubError, StoreError, WriterFenced
from cirahub.core.fingerprint import match_key
from cirahub.core.item import Item
from cirahub.core.model import Delta, HubItem, Link, WriteFailure
from cirahub.core.ops import (
    BumpLink,
    CreateInSpoke,
    DeleteInSpoke,
    HubOp,
    SpokeOp,
    UpdateInSpoke,
)
from cirahub.core.plan import HubView, PullPlan, SpokeContext, plan_pull
from cirahub.core.push import plan_push
from cirahub.core.safety import halt_digest
from cirahub.store.records import PendingDelete

log = logging.getLogger(__name__)

#: how many spoke writes go to the connector at once (EWS batches them, others loop)
WRITE_CHUNK = 100
#: how often stale merge ops are re-planned within one run before the run gives up on them
MAX_REPLANS = 2


class Merger(Protocol):
    """Applies pull ops to the hub. Implementations serialize merges per hub."""

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> Any:
        """Apply ``ops``; returns the store's MergeResult (has ``.stale`` remote ids)."""
        ...


class LocalMerger:
    """Merges straight into the store under this process's writer epoch for each hub.

    One LocalMerger per process per hub: acquiring the writer epoch fences any older writer
    (a restarted or duplicated process) so two writers can never interleave commits.
    """

    def __init__(self, store: Any) -> None:
        self._store = store
        self._epochs: dict[str, int] = {}

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> Any:
        epoch = self._epochs.get(hub_id)
        if epoch is None:
            epoch = self._epochs[hub_id] = self._store.acquire_writer(hub_id)
        return self._store.apply_hub_ops(hub_id, spoke_id, epoch, ops)


@dataclass
class RunSummary:
    """What a run did. ``status``: ok | partial (some writes failed, retried next run) |
    error | halted | skipped."""

    run_id: str | None
    spoke_id: str
    status: str
    counts: dict[str, int] = field(default_factory=dict)
    error: dict[str, Any] | None = None
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status == "ok"


Progress = Callable[[str, Mapping[str, int]], None]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SyncCycle:
    """Runs sync runs for one spoke of one hub.

    :param store: the canonical store (``cirahub.store.repository.Store``)
    :param connector: the spoke's connector
    :param merger: where pull ops are applied (defaults to a :class:`LocalMerger`)
    :param clock: returns "now" (UTC-aware); passed into the planner
    :param progress: called with (phase, counts) as the run advances
    """

    def __init__(
        self,
        store: Any,
        connector: SpokeConnector,
        spoke_id: str,
        merger: Merger | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.connector = connector
        self.spoke_id = spoke_id
        self.merger = merger or LocalMerger(store)
        self.clock = clock
        self.progress = progress or (lambda phase, counts: None)
        #: the current run's failed writes (see :func:`partial_error`)
        self._failures: dict[str, WriteFailure] = {}

    # --- the run ------------------------------------------------------------------------------

    def run(self, trigger: str = "manual") -> RunSummary:
        """One complete run. Never raises for spoke-side failures (they end up in the summary
        and the spoke's state); raises WriterFenced (this process must stop writing) and
        StoreError (the store itself is down)."""
        spoke = self.store.get_spoke(self.spoke_id)
        if not spoke.options.enabled:
            return RunSummary(None, self.spoke_id, "skipped", error={"code": "disabled"})
        if spoke.halted_reason:
            return RunSummary(
                None,
                self.spoke_id,
                "halted",
                error={"code": "spoke_halted", "message": spoke.halted_reason},
            )
        started = time.monotonic()
        run_id = self.store.start_run(self.spoke_id, trigger)
        counts: dict[str, int] = {}
        self._failures = {}
        try:
            status = self._run(spoke, counts)
            # A stale remote version on push means "re-pull and re-plan", never overwrite:
            # the spoke changed under us, so run again at once (bounded).
            for _ in range(MAX_REPLANS):
                if status != "partial" or not counts.get("push_stale"):
                    break
                counts["repulls"] = counts.get("repulls", 0) + 1
                counts.pop("push_stale")
                status = self._run(self.store.get_spoke(self.spoke_id), counts)
            if status == "partial":
                self.store.set_spoke_state(self.spoke_id, "error", error=partial_error(list(self._failures.values())))
        except WriterFenced:
            self.store.finish_run(run_id, "error", counts, {"code": WriterFenced.code})
            raise
        except StoreError:
            raise  # the store itself is down: nothing can be recorded; the caller backs off
        except Exception as exc:
            error: dict[str, Any] | None
            if isinstance(exc, CirahubError):
                error = exc.to_dict()
                log.warning("sync run of spoke %s failed: %s", self.spoke_id, exc)
            else:
                # A bug (ours or a library's) must not leave the run "running" forever nor
                # stop the other spokes; the message is the exception's type only, since a
                # library message may quote anything, secrets included.
                error = {"code": "internal", "message": f"internal error ({type(exc).__name__})"}
                log.exception("sync run of spoke %s failed unexpectedly", self.spoke_id)
            # sign-in refused, consent missing, EWS off: waits for an administrator, not a retry
            state = "action_required" if isinstance(exc, AuthError) else "error"
            self.store.set_spoke_state(self.spoke_id, state, error=error)
            self.store.finish_run(run_id, "error", counts, error)
            self.progress("failed", counts)
            return RunSummary(run_id, self.spoke_id, "error", counts, error,
                              time.monotonic() - started)
        error = partial_error(list(self._failures.values())) if status == "partial" else None
        if status == "halted":
            error = {"code": "safety_halt", "message": self.store.get_spoke(self.spoke_id).halted_reason}
        self.store.finish_run(run_id, status, counts, error)
        self.progress("done", counts)
        return RunSummary(run_id, self.spoke_id, status, counts, error, time.monotonic() - started)

    def _run(self, spoke: Any, counts: dict[str, int]) -> str:
        hub = self.store.get_hub(spoke.hub_id)
        now = self.clock()
        ctx = SpokeContext(
            spoke_id=spoke.id,
            options=spoke.options,
            capabilities=self.connector.capabilities,
            first_attach=not spoke.initial_done,
        )
        # Pull.
        self.progress("pulling", counts)
        known = KnownVersions(self.store, spoke.id)
        delta = self.connector.delta(spoke.pull_cursor, known)
        links = self._links_for(spoke.id, delta, known)
        counts["pulled"] = len(delta.changed)
        counts["remote_deleted"] = len(delta.deleted)
        # Plan + merge (re-planning ops that went stale because another spoke merged first).
        self.progress("merging", counts)
        touched: set[str] = set()
        allow = False
        for attempt in range(MAX_REPLANS + 1):
            plan = self._plan_pull(ctx, hub, delta, links, now, allow)
            if plan.halt and attempt == 0:
                allow = self._confirmed(spoke, delta, links)
                if not allow:
                    self._halt(spoke, hub.id, plan.halt, delta, links)
                    counts["halted"] = 1
                    return "halted"
                plan = self._plan_pull(ctx, hub, delta, links, now, allow)
            _add(counts, plan.stats)
            touched |= plan.touched
            result = self.merger.merge(hub.id, spoke.id, plan.ops) if plan.ops else None
            # Logged after the merge committed: a record must describe what really happened.
            self.store.record_conflicts(hub.id, spoke.id, plan.conflicts)
            stale = set(getattr(result, "stale", ()) or ())
            if not stale:
                break
            if attempt == MAX_REPLANS:
                counts["stale"] = len(stale)
                break
            delta = replace(
                delta,
                changed=tuple(r for r in delta.changed if r.remote_id in stale),
                deleted=tuple(d for d in delta.deleted if d in stale),
            )
            links = self._links_for(spoke.id, delta, None)
        if spoke.halt is not None:
            # Applied as confirmed, or nothing halts any more: either way the halt is over
            # and its confirmation must not carry over to a later one.
            self.store.clear_halt(spoke.id)
        # Only now is the pull durable: advance the pull cursor.
        self.store.set_cursors(spoke.id, pull_cursor=delta.cursor if not counts.get("stale") else spoke.pull_cursor)
        # Push.
        self.progress("pushing", counts)
        push_failed = self._push(ctx, hub.id, spoke.push_cursor, touched, now, counts)
        if not spoke.initial_done:
            self.store.mark_initial_done(spoke.id)
        if push_failed or counts.get("stale"):
            return "partial"
        self.store.set_spoke_state(spoke.id, "ok")
        return "ok"

    def _lost(self, delta: Delta, links: Mapping[str, Link]) -> list[str]:
        """Remote ids of linked items the delta says the spoke no longer holds."""
        return sorted(d for d in delta.deleted if d in links and d not in
                      {r.remote_id for r in delta.changed})

    def _confirmed(self, spoke: Any, delta: Delta, links: Mapping[str, Link]) -> bool:
        """Whether an operator confirmed exactly this loss (see core.safety.halt_digest)."""
        halt = spoke.halt
        return bool(halt is not None and halt.confirmed
                    and halt.digest == halt_digest(self._lost(delta, links), delta.listing_size))

    def _halt(self, spoke: Any, hub_id: str, reason: str, delta: Delta,
              links: Mapping[str, Link]) -> None:
        lost = [links[d] for d in self._lost(delta, links)]
        items = self.store.hub_items(hub_id, {ln.hub_item_id for ln in lost}) if lost else {}
        pending = [_pending(ln, items.get(ln.hub_item_id)) for ln in lost]
        pending.sort(key=lambda p: (p.start, p.summary, p.uid))
        deleting = sum(1 for ln in lost if items.get(ln.hub_item_id) is not None
                       and items[ln.hub_item_id].item is not None)
        halt = self.store.record_halt(spoke.id, reason,
                                      halt_digest(self._lost(delta, links), delta.listing_size),
                                      pending, deleting)
        log.warning("spoke %s halted (%s): %s", spoke.id, halt.id, reason)

    def _links_for(self, spoke_id: str, delta: Delta, known: KnownVersions | None) -> dict[str, Link]:
        """The links planning this delta needs (see plan_pull): all of them when the connector
        listed everything anyway, else those of the delta's remote ids and changed UIDs."""
        if known is not None and known.all_links is not None:
            return dict(known.all_links)
        return self.store.links_for(
            spoke_id,
            remote_ids=[r.remote_id for r in delta.changed] + list(delta.deleted),
            uids={r.item.uid for r in delta.changed if r.item is not None},
        )

    def _plan_pull(
        self, ctx: SpokeContext, hub: Any, delta: Delta, links: Mapping[str, Link], now: datetime,
        allow_mass_delete: bool,
    ) -> PullPlan:
        """Load exactly the hub state the delta needs, then plan (pure)."""
        refs = [links[r.remote_id] for r in delta.changed if r.remote_id in links]
        refs += [links[d] for d in delta.deleted if d in links]
        uids = {r.item.uid for r in delta.changed if r.item is not None and r.remote_id not in links}
        by_uid = self.store.hub_items_by_uid(hub.id, uids) if uids else {}
        by_match: Mapping[str, HubItem] = {}
        if ctx.first_attach:
            keys = {
                k for r in delta.changed
                if r.item is not None and r.remote_id not in links and (k := match_key(r.item))
            }
            by_match = self.store.hub_items_by_match_key(hub.id, keys) if keys else {}
        # Hub items an unlinked remote item may be matched to (same UID, or same content on
        # first attach), and whether this spoke already links them elsewhere.
        candidates = {h.id: h for h in (*by_uid.values(), *by_match.values())}
        ids = {ln.hub_item_id for ln in refs}
        by_id = {**candidates, **(self.store.hub_items(hub.id, ids) if ids else {})}
        bases = self.store.item_versions({(ln.hub_item_id, ln.hub_version) for ln in refs})
        linked = {ln.hub_item_id: ln.remote_id for ln in links.values()}
        unknown = set(candidates) - set(linked)
        if unknown:
            linked.update((i, ln.remote_id) for i, ln in
                          self.store.links_by_item(ctx.spoke_id, unknown).items())
        # A spoke edit of an item deleted in the hub revives it with what it held before
        # the delete (rare: only read for tombstones this delta edits).
        changed_ids = {links[r.remote_id].hub_item_id for r in delta.changed
                       if r.remote_id in links}
        last_alive = {
            i: alive for i in changed_ids if i in by_id and by_id[i].deleted
            and (alive := self._last_alive(i)) is not None
        }
        view = HubView(
            by_id=by_id,
            by_uid=by_uid,
            by_match_key=by_match,
            bases=bases,
            linked_in_spoke=linked,
            last_alive=last_alive,
        )
        # Only the safety checks (deletions, an empty complete listing) need the spoke's total
        # number of links; ``links`` may be just the ones this delta concerns.
        linked_count = (self.store.count_links(ctx.spoke_id) if delta.deleted or delta.complete
                        else len(links))
        return plan_pull(ctx, delta, links, view, hub.policy, now,
                         allow_mass_delete=allow_mass_delete, linked_count=linked_count)

    def _last_alive(self, hub_item_id: str) -> Item | None:
        versions = [v.item for v in self.store.hub_item_history(hub_item_id) if v.item is not None]
        return versions[-1] if versions else None

    # --- push ---------------------------------------------------------------------------------

    def _push(
        self, ctx: SpokeContext, hub_id: str, push_cursor: int, touched: Iterable[str],
        now: datetime, counts: dict[str, int],
    ) -> bool:
        """Write hub changes to the spoke; returns True when some write failed."""
        # Captured before reading candidates: merges by other spokes after this point are
        # picked up next run rather than skipped by an advanced cursor.
        hub_version = self.store.hub_version(hub_id)
        candidates = {h.id: h for h in self.store.hub_items_changed_since(hub_id, push_cursor)}
        extra = set(touched) - set(candidates)
        if extra:
            candidates.update(self.store.hub_items(hub_id, extra))
        candidates = {i: h for i, h in candidates.items() if h.version <= hub_version or i in extra}
        if not candidates:
            self.store.set_cursors(ctx.spoke_id, push_cursor=hub_version)
            return False
        links = self.store.links_by_item(ctx.spoke_id, list(candidates))
        plan = plan_push(ctx, candidates.values(), links, now)
        _add(counts, plan.stats)
        failed_versions: list[int] = []
        failures: list[WriteFailure] = []
        succeeded: list[str] = []
        upserts: list[Link] = []
        deletes: list[str] = []
        writes: list[tuple[SpokeOp, Write]] = []
        for op in plan.ops:
            if isinstance(op, BumpLink):
                link = links[op.hub_item_id]
                upserts.append(replace(link, hub_version=op.hub_version))
            else:
                writes.append((op, _to_write(op)))
        pushed = 0
        for start in range(0, len(writes), WRITE_CHUNK):
            chunk = writes[start:start + WRITE_CHUNK]
            outcomes = self.connector.write_many([w for _, w in chunk])
            for (op, w), outcome in zip(chunk, outcomes, strict=True):
                if isinstance(outcome, WriteResult):
                    pushed += 1
                    succeeded.append(op.hub_item_id)
                    note_projection(ctx.spoke_id, op, outcome, counts)
                    if isinstance(op, DeleteInSpoke):
                        deletes.append(op.hub_item_id)
                    else:
                        upserts.append(self._link_after_write(ctx.spoke_id, op, outcome, candidates))
                else:
                    failed_versions.append(op.hub_version)
                    failures.extend(note_failure(ctx.spoke_id, op, w, outcome, candidates, counts))
            # Commit per chunk so a crash loses at most one chunk's links (and the next pull
            # matches those items by UID / hub-id stamp instead of duplicating them).
            self.store.commit_links(ctx.spoke_id, upserts, deletes)
            upserts, deletes = [], []
        if upserts or deletes:
            self.store.commit_links(ctx.spoke_id, upserts, deletes)
        counts["pushed"] = counts.get("pushed", 0) + pushed
        self._keep_failures(ctx.spoke_id, failures, succeeded)
        # A failed write keeps its hub version (and everything after it) in the next run's
        # candidates; this may move the cursor back, which only costs a re-check.
        new_cursor = min(failed_versions) - 1 if failed_versions else hub_version
        self.store.set_cursors(ctx.spoke_id, push_cursor=new_cursor)
        return bool(failed_versions)

    def _keep_failures(self, spoke_id: str, failures: list[WriteFailure], succeeded: list[str]) -> None:
        """Record failed writes per item (store) and for this run's error."""
        self.store.record_write_errors(spoke_id, failures, succeeded)
        for hub_item_id in succeeded:
            self._failures.pop(hub_item_id, None)
        self._failures.update((f.hub_item_id, f) for f in failures)

    def _link_after_write(
        self, spoke_id: str, op: SpokeOp, result: WriteResult, candidates: Mapping[str, HubItem]
    ) -> Link:
        assert isinstance(op, CreateInSpoke | UpdateInSpoke)
        return Link(
            spoke_id=spoke_id,
            hub_item_id=op.hub_item_id,
            uid=candidates[op.hub_item_id].uid,
            remote_id=result.remote_id,
            remote_version=result.remote_version,
            fingerprint=op.fingerprint,
            hub_version=op.hub_version,
        )


def _pending(link: Link, hub_item: HubItem | None) -> PendingDelete:
    """What a halt shows of one lost item: the hub's copy (summary, start as stored)."""
    item = hub_item.item if hub_item is not None else None
    start = item.get("start") if item is not None else None
    when = ""
    if isinstance(start, Mapping):
        when = str(start.get("date") or start.get("utc") or start.get("floating") or "")
    return PendingDelete(hub_item_id=link.hub_item_id, uid=link.uid,
                         summary=str(item.get("summary") or "") if item is not None else "",
                         start=when)


def _to_write(op: SpokeOp) -> Write:
    if isinstance(op, CreateInSpoke):
        return Write("create", op.hub_item_id, item=op.item)
    if isinstance(op, UpdateInSpoke):
        return Write("update", op.hub_item_id, item=op.item, remote_id=op.remote_id,
                     expected_version=op.expected_version)
    assert isinstance(op, DeleteInSpoke)
    return Write("delete", op.hub_item_id, remote_id=op.remote_id, expected_version=op.expected_version)


def _add(counts: dict[str, int], stats: Mapping[str, int]) -> None:
    for key, value in stats.items():
        counts[key] = counts.get(key, 0) + int(value)
