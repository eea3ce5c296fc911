"""Push runs of many spokes at once: the store side of the fan-out shared by a *wave*.

A merge that changed a hub gives every other spoke of it a push run (see
:mod:`cirahub.core.fanout`); with 1,000 spokes on one hub, per-spoke store round trips (a
dozen statements in six write transactions each, every one waiting for SQLite's one writer)
cost far more than the push itself. So the push runs a spoke actor starts together share:

- one read (:func:`read_wave`): the spokes, their hubs' versions and the runtime lease in one
  query, the changed hub items once per (hub, push cursor) — the fan-out of one edit: once —
  and the links of all of them in a few statements;
- the pure per-spoke planning, in the wave too (:func:`plan_wave`, for the spokes whose
  connector is open and whose push fits one chunk of writes), and the pending fingerprints
  of every write it plans noted in ONE job before any is sent; the spoke's own writes per
  spoke on the actor's push threads. A sync's push runs (after its pull runs, see
  :mod:`cirahub.actors.sync_phases`) go in waves as the fan-out's do;
- one writer (:class:`GroupCommit`): every store write of the actor's push runs goes through
  one thread that commits whatever is queued in ONE transaction (group commit): the pending
  fingerprints of writes about to be sent, and each run's end (links, failed writes,
  projections, push cursor, spoke state, its run record). A push thread does not wait for
  its run's end to be committed (it writes the next spoke meanwhile); the run does, before
  it counts as done.

Guarantees kept from the single push run (:class:`~cirahub.actors.pushing.Pusher`): a pending
fingerprint is durable before its write is sent; a link is committed only after the spoke's
write returned (durable there), so a crash in between leaves an unlinked copy that the next
pull links by UID (or recognizes by the pending fingerprint), never a link to a write that
did not happen; the push cursor passes only hub versions whose writes all succeeded. One
spoke's failure stays with it: a group that fails is committed again one job at a time.

A push run is recorded when it ends (one finished run row in the commit), not when it
starts: a push run cut short by a crash leaves no row (and nothing "running" to close).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from cirahub.actors.failures import failure_record, partial_error
from cirahub.actors.idle import IdlePolls
from cirahub.actors.pushing import (
    WRITE_CHUNK,
    LinkChanges,
    PlannedPush,
    PushBasis,
    Pusher,
    PushOutcome,
    pending_of,
    plan_from,
)
from cirahub.actors.summary import RunStatus, RunSummary
from cirahub.connectors.base import SpokeConnector
from cirahub.core.errors import AuthError, NotFound, StoreError, WriterFenced
from cirahub.core.model import Capabilities, HubItem, PendingWrite
from cirahub.core.plan import SpokeContext
from cirahub.core.states import SpokeState
from cirahub.store.engine import translate
from cirahub.store.pushes import PushCommit
from cirahub.store.records import SpokeRecord
from cirahub.store.repository import Store

log = logging.getLogger(__name__)

#: most jobs one group commit takes (bounds one transaction)
GROUP_MAX = 2000
#: how long a wave's read waits for more spokes to join it (they are woken together)
WAVE_WINDOW = 0.01


@dataclass
class _Job:
    pending: Mapping[str, Sequence[PendingWrite]] | None = None
    commit: PushCommit | None = None
    done: Future[None] = field(default_factory=Future)


class GroupCommit:
    """One writer thread for the push runs of a spoke actor: :meth:`note_pending(_many)` and
    :meth:`commit` block until their write is committed (:meth:`submit`: a future of it),
    together with whatever else was queued meanwhile (one transaction); a group that fails is retried one job at a time, so
    each job gets its own error (NotFound for a spoke removed meanwhile, ...)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._queue: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.groups = 0  # transactions committed (diagnostics and tests)

    def note_pending(self, spoke_id: str, pending: Sequence[PendingWrite]) -> None:
        self.note_pending_many({spoke_id: pending})

    def note_pending_many(self, pending: Mapping[str, Sequence[PendingWrite]]) -> None:
        """The pending writes of many spokes (a wave's), as one job: all or none."""
        self._submit(_Job(pending=pending)).result()

    def commit(self, commit: PushCommit | None,
               then: Mapping[str, Sequence[PendingWrite]] | None = None) -> None:
        """``commit`` and (``then``) pending writes, as one job: one transaction, waited
        for (a chunk's links and the next chunk's pending writes)."""
        self._submit(_Job(pending=then, commit=commit)).result()

    def submit(self, commit: PushCommit) -> Future[None]:
        """:meth:`commit` without waiting: the future is done once it is committed (or
        failed), so the caller's thread is free meanwhile."""
        return self._submit(_Job(commit=commit))

    def _submit(self, job: _Job) -> Future[None]:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="push-commit",
                                                daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job.done

    def _work(self) -> None:
        while True:
            jobs = [self._queue.get()]
            while len(jobs) < GROUP_MAX:
                try:
                    jobs.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            try:
                self._apply(jobs)
            except StoreError as exc:
                if isinstance(exc.__cause__, IntegrityError):  # one job's data: isolate it
                    self._one_by_one(jobs)
                else:  # the database itself: the same answer for every job
                    for job in jobs:
                        job.done.set_exception(exc)
            except Exception:
                self._one_by_one(jobs)
            else:
                for job in jobs:
                    job.done.set_result(None)

    def _one_by_one(self, jobs: Sequence[_Job]) -> None:
        """Each job alone: one spoke's failure must not fail the others."""
        for job in jobs:
            try:
                self._apply([job])
            except Exception as exc:
                job.done.set_exception(exc)
            else:
                job.done.set_result(None)

    def _apply(self, jobs: Sequence[_Job]) -> None:
        pending: dict[str, list[PendingWrite]] = defaultdict(list)
        for job in jobs:
            for spoke_id, writes in (job.pending or {}).items():
                pending[spoke_id].extend(writes)
        commits = [job.commit for job in jobs if job.commit is not None]
        try:
            with self._store.transaction():
                self._store.note_pending_many(pending)
                self._store.commit_pushes(commits)
        except SQLAlchemyError as exc:  # the commit itself failed
            raise translate(exc, "commit_pushes") from exc
        self.groups += 1


class WaveWrites:
    """A push run's :class:`~cirahub.actors.pushing.PushWrites` through a
    :class:`GroupCommit`; its end carries the run's record (``status`` and ``error`` are
    set by :meth:`finish`) and is not waited for: ``ended`` is done once it is committed."""

    def __init__(self, writer: GroupCommit, spoke: SpokeRecord, run_id: str, trigger: str,
                 started_at: datetime) -> None:
        self.writer, self.spoke = writer, spoke
        self.run_id, self.trigger, self.started_at = run_id, trigger, started_at
        self.status = RunStatus.OK
        self.error: dict[str, Any] | None = None
        self.ended: Future[None] | None = None

    def note_pending(self, spoke_id: str, pending: Sequence[PendingWrite]) -> None:
        self.writer.note_pending(spoke_id, pending)

    def commit_links(self, spoke_id: str, links: LinkChanges,
                     then: Sequence[PendingWrite] = ()) -> None:
        commit = (PushCommit(spoke_id, self.spoke.hub_id, upserts=list(links.upserts),
                             deletes=list(links.deletes), confirmed=list(links.confirmed))
                  if links.upserts or links.deletes else None)
        if commit is not None or then:
            self.writer.commit(commit, {spoke_id: then} if then else None)

    def finish(self, spoke_id: str, outcome: PushOutcome, links: LinkChanges,
               push_cursor: int | None) -> None:
        if outcome.failed:
            self.status, self.error = RunStatus.PARTIAL, partial_error(outcome.failures)
        self.ended = self.writer.submit(PushCommit(
            spoke_id, self.spoke.hub_id, upserts=list(links.upserts),
            deletes=list(links.deletes), confirmed=list(links.confirmed),
            failures=list(outcome.failures), settled=outcome.settled,
            projections=dict(outcome.projections), push_cursor=push_cursor,
            run_id=self.run_id, trigger=self.trigger, started_at=self.started_at,
            status=self.status, counts=dict(outcome.counts), error=self.error,
            state=SpokeState.ERROR if outcome.failed else None))


class SharedPlans:
    """The plans of a wave group's spokes (the same hub items, read after the same push
    cursor) that hold no link to any of them: spokes of equal options and capabilities get
    the same writes (a plan names no spoke), so the first push thread plans and the others
    take its plan, with their own basis (a sync's push after an initial pull: nine spokes,
    one plan of 2,000 items instead of nine). A plan that failed is made again by each."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._plans: list[tuple[tuple[Any, ...], Future[PlannedPush]]] = []

    def plan(self, ctx: SpokeContext, basis: PushBasis, now: datetime) -> PlannedPush:
        if basis.links:
            return plan_from(ctx, basis, now)
        key = (ctx.options, ctx.capabilities, ctx.first_attach)
        with self._lock:
            made = next((f for k, f in self._plans if k == key), None)
            if made is None:
                mine: Future[PlannedPush] = Future()
                self._plans.append((key, mine))
        if made is not None:
            try:
                return replace(made.result(), basis=basis)
            except Exception:
                return plan_from(ctx, basis, now)
        try:
            planned = plan_from(ctx, basis, now)
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        mine.set_result(planned)
        return planned


@dataclass(frozen=True)
class WaveInput:
    """What a wave read for one spoke: its record, the runtime lease's epoch and what its
    push decides from (None: the spoke needs the cycle's own run — disabled, halted, or its
    first run not done — and reads for itself). ``planned``: its push as the wave planned it
    for a connector of ``capabilities``, its pending writes durable (None: the push thread
    plans, and notes them, itself); ``shared``: its group's plans (:class:`SharedPlans`),
    for the push thread's plan."""

    spoke: SpokeRecord
    epoch: int
    basis: PushBasis | None
    planned: PlannedPush | None = None
    capabilities: Capabilities | None = None
    shared: SharedPlans | None = None


def read_wave(store: Store, spoke_ids: Iterable[str]) -> dict[str, WaveInput | Exception]:
    """One shared read for the push runs of ``spoke_ids`` (NotFound for a spoke gone)."""
    ids = list(spoke_ids)
    view = store.push_view(ids)
    groups: dict[tuple[str, int], list[SpokeRecord]] = defaultdict(list)
    for spoke in view.spokes.values():
        if spoke.options.enabled and not spoke.halted_reason and not spoke.first_attach:
            groups[(spoke.hub_id, spoke.push_cursor)].append(spoke)
    candidates: dict[str, dict[str, HubItem]] = {}
    shared: dict[str, SharedPlans] = {}
    for (hub_id, cursor), members in groups.items():
        version = view.hub_versions[hub_id]
        # read after the hub version (the snapshot): later merges wait for the next run
        items = ({h.id: h for h in store.hub_items_changed_since(hub_id, cursor)
                  if h.version <= version} if version > cursor else {})
        candidates.update((s.id, items) for s in members)
        plans = SharedPlans()
        shared.update((s.id, plans) for s in members)
    links = store.links_of({s: list(items) for s, items in candidates.items()})
    out: dict[str, WaveInput | Exception] = {}
    for spoke_id in ids:
        record = view.spokes.get(spoke_id)
        if record is None:
            out[spoke_id] = NotFound(f"spoke {spoke_id!r} does not exist", spoke_id=spoke_id)
            continue
        basis = (PushBasis(view.hub_versions[record.hub_id], record.push_cursor,
                           candidates[spoke_id], links.get(spoke_id, {}))
                 if spoke_id in candidates else None)
        out[spoke_id] = WaveInput(record, view.epoch, basis, shared=shared.get(spoke_id))
    return out


def plan_wave(writer: GroupCommit, read: dict[str, WaveInput | Exception],
              capabilities: Callable[[str], Capabilities | None], now: datetime) -> None:
    """Plan the pushes of a wave's spokes whose connector's ``capabilities`` are known, and
    note all their pending writes in ONE job of ``writer`` (before any of them is sent):
    each push thread then only writes and commits its end. A spoke this cannot plan (its
    connector not open yet, an error) is left to its push thread, and so is every spoke of
    the wave when the note fails (each notes its own: a failure of one spoke's data stays
    with it), and one of more candidates than a chunk of writes (a sync's push after an
    initial pull): its thread plans it once, at once, and notes each chunk before sending
    it, while the wave would plan every such spoke one after the other before any write."""
    plans: dict[str, tuple[PlannedPush, Capabilities]] = {}
    for spoke_id, wave in read.items():
        caps = capabilities(spoke_id) if isinstance(wave, WaveInput) else None
        if (caps is None or not isinstance(wave, WaveInput) or wave.basis is None
                or len(wave.basis.candidates) > WRITE_CHUNK):  # its thread plans (at once)
            continue
        ctx = SpokeContext(spoke_id=spoke_id, options=wave.spoke.options, capabilities=caps)
        try:
            planned = plan_from(ctx, wave.basis, now)
        except Exception:  # the push thread plans it again and records the error
            log.debug("planning %s in its wave failed", spoke_id, exc_info=True)
            continue
        if len(planned.writes) <= WRITE_CHUNK:
            plans[spoke_id] = (planned, caps)
    pending = {i: p for i, (planned, _) in plans.items() if (p := pending_of(planned.writes))}
    try:
        if pending:
            writer.note_pending_many(pending)
    except Exception:
        log.warning("noting a wave's pending writes failed; its spokes note their own",
                    exc_info=True)
        return
    for spoke_id, (planned, caps) in plans.items():
        wave = read[spoke_id]
        assert isinstance(wave, WaveInput)
        read[spoke_id] = replace(wave, planned=replace(planned, noted=True), capabilities=caps)


def prepare_wave(store: Store, writer: GroupCommit,
                 capabilities: Callable[[str], Capabilities | None],
                 spoke_ids: list[str]) -> list[WaveInput | BaseException]:
    """:func:`read_wave` and :func:`plan_wave`, in the order of ``spoke_ids`` (for the
    actor's batching)."""
    read = read_wave(store, spoke_ids)
    plan_wave(writer, read, capabilities, datetime.now(UTC))
    return [read[i] for i in spoke_ids]


def push_one(store: Store, writer: GroupCommit, idle: IdlePolls, connector: SpokeConnector,
             wave: WaveInput, trigger: str
             ) -> tuple[RunSummary, int | None, Future[None] | None]:
    """One spoke's push run of a wave: plan from the wave's basis (or take the wave's plan,
    when it was made for this connector's capabilities), write to the spoke, commit through
    ``writer``. Returns the summary, the hub version it pushed up to (None: it failed) and
    the future of its end's commit (the run is over once it is done; it raises what the
    commit raised). Never raises for spoke-side failures (recorded as the run's error and
    the spoke's state); raises WriterFenced and StoreError as a sync run does."""
    spoke, basis = wave.spoke, wave.basis
    assert basis is not None
    idle.close(spoke.id)  # a push run ends the spoke's fold of idle polls
    started, now = time.monotonic(), datetime.now(UTC)
    writes = WaveWrites(writer, spoke, str(uuid.uuid4()), trigger, now)
    ctx = SpokeContext(spoke_id=spoke.id, options=spoke.options,
                       capabilities=connector.capabilities)
    planned = (wave.planned if wave.planned is not None
               and wave.capabilities == connector.capabilities else None)
    try:
        pusher = Pusher(store, connector, ctx, writes)
        if planned is None:
            planned = (wave.shared.plan(ctx, basis, now) if wave.shared is not None
                       else plan_from(ctx, basis, now))
        outcome = pusher.send(planned)
    except (WriterFenced, StoreError):
        raise
    except Exception as exc:
        failure = failure_record(spoke.id, exc)
        state = SpokeState.ACTION_REQUIRED if isinstance(exc, AuthError) else SpokeState.ERROR
        ended = writer.submit(PushCommit(
            spoke.id, spoke.hub_id, run_id=writes.run_id, trigger=trigger, started_at=now,
            status=RunStatus.ERROR, error=failure, state=state))
        return RunSummary(writes.run_id, spoke.id, RunStatus.ERROR, {}, failure,
                          time.monotonic() - started), None, ended
    return (RunSummary(writes.run_id, spoke.id, writes.status, dict(outcome.counts),
                       writes.error, time.monotonic() - started), outcome.version, writes.ended)
