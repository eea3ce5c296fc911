"""The runtime: Ray started once per process, the store opened, the actors attached.

This is the API the control plane (gRPC servicer, CLI) builds on; it is kept stable:

``Runtime.start(settings: Settings | None = None) -> Runtime``
    ``ray.init`` once per process (reused when already initialized: embedded local Ray by
    default, ``settings.ray_address`` for an existing cluster), opens the store (creating the
    data folder and the secret key), then gets-or-creates the detached supervisor (which
    gets-or-creates the hub actors and spoke actors) in the ``cirahub`` namespace, so a
    restarted control process re-attaches to what runs. Attributes: ``store``, ``settings``.
``reconcile() -> dict``
    Converge the actors to the topology now (the supervisor also does it every few seconds);
    call it after changing the topology for an immediate effect.
``sync_now(hub: str, spoke: str | None = None, only: Collection[str] | None = None)
-> Iterator[ProgressEvent]``
    Runs the hub's spokes (or one, by name, or those of ``only``, by id) at once; yields ``progress`` events while they
    run, then exactly one final ``run`` event per targeted spoke whose ``summary`` is the
    RunSummary as a dict (status ok | partial | error | halted | skipped). Raises NotFound for
    an unknown hub or spoke before anything runs.
``status(hub: str | None = None) -> list[SpokeStatus]``
    One SpokeStatus per spoke (of one hub or all), store state refined by the actors' view.
``events(since: int = 0, timeout: float = 0.0) -> list[ProgressEvent]``
    The event stream: events with ``seq > since``, waiting up to ``timeout`` seconds.
``shutdown(stop_actors: bool = False) -> None``
    Detach (actors keep running on a cluster) or stop every cirahub actor. An embedded Ray
    started by this process ends with it either way. Calls in flight on other threads (a sync
    stream, an event wait) end first, with StoreError "shutting down", before Ray is freed;
    later calls raise the same.

Errors: the project's (NotFound, InvalidInput, StoreError). An actor that died or does not
answer surfaces as StoreError (retryable).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.progress import ProgressEvent, SpokeStatus
from cirahub.cluster.bootstrap import init_ray, open_store, ray_get
from cirahub.cluster.names import (
    HUB_ACTOR_PREFIX,
    SPOKE_ACTOR_PREFIX,
    SUPERVISOR_NAME,
    named_actors,
)
from cirahub.cluster.settings import Settings
from cirahub.core.errors import CirahubError, StoreError
from cirahub.core.states import HostedState, SpokeState

log = logging.getLogger(__name__)

STARTUP_TIMEOUT = 120.0
#: seconds one wait for a sync's progress events may take (the runs' end ends it sooner)
EVENT_WAIT = 0.5
#: longest single wait inside Ray, so a shutdown is noticed within it: ray.shutdown() frees the
#: core worker under any thread still waiting in Ray, and that thread then crashes the whole
#: process (SIGSEGV), so no call of ours waits in Ray without a bound
WAIT_SLICE = 0.2
#: how long shutdown waits for the calls in flight to leave Ray (each leaves within a slice)
DRAIN_TIMEOUT = 30.0


class _Calls:
    """The runtime's Ray calls in flight on any thread, so shutdown lets them leave Ray first.

    Guarantee: once :meth:`close` returned True, no thread is inside a Ray call made through
    :meth:`call`, and every later :meth:`call` raises :func:`shutting_down`."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active = 0
        self.closing = False

    @contextmanager
    def call(self) -> Iterator[None]:
        with self._cond:
            if self.closing:
                raise shutting_down()
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                self._cond.notify_all()

    def close(self, timeout: float) -> bool:
        """Refuse new calls, then wait up to ``timeout`` for those in flight; True when none
        is left."""
        with self._cond:
            self.closing = True
            return self._cond.wait_for(lambda: self._active == 0, timeout)


def shutting_down() -> StoreError:
    return StoreError("the cirahub runtime is shutting down: this call ended before its "
                      "answer (a sync's runs go on in a cluster, or are closed as interrupted "
                      "with an embedded runtime)", action="runtime")


def take_lease(store: Any, owns_ray: bool) -> int:
    """The runtime epoch the actors of this runtime run under. A Ray of our own (embedded)
    is a new runtime: it takes a new epoch, fencing the actors any earlier server left
    behind, and closes every run still "running" as interrupted (its process is gone with
    that server). Joining a cluster keeps the cluster's epoch: its actors outlive a control
    process by design, and the supervisor closes the runs of actors that died."""
    if not owns_ray and store.runtime_epoch():
        return int(store.runtime_epoch())
    started = datetime.now(UTC)
    epoch = int(store.take_runtime_lease())
    if owns_ray:
        closed = store.interrupt_runs(
            before=started, reason="the server running it stopped before the run ended "
                                   "(killed, crashed or restarted)")
        if closed:
            log.warning("%d sync run(s) of an earlier server closed as interrupted", closed)
    return epoch


@dataclass
class Runtime:
    settings: Settings
    store: Any
    supervisor: Any
    owns_ray: bool
    _calls: _Calls = field(default_factory=_Calls, repr=False, compare=False)

    @classmethod
    def start(cls, settings: Settings | None = None) -> Runtime:
        import ray

        from cirahub.actors.supervisor import detached_options, pinned, supervisor_class

        settings = settings or Settings.from_env()
        settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        store = open_store(settings)  # creates the secret key before any actor reads it
        owns = init_ray(settings)
        # hub writers inside the supervisor only with a Ray of our own (see Settings)
        settings = settings.with_changes(
            lease_epoch=take_lease(store, owns),
            hubs_in_supervisor=settings.hubs_in_supervisor and owns,
            spokes_in_supervisor=settings.spokes_in_supervisor and owns)
        node = ray.get_runtime_context().get_node_id()
        opts = detached_options(SUPERVISOR_NAME, settings.namespace, max_restarts=-1,
                                max_task_retries=-1, max_concurrency=1000)
        opts.update(pinned(node, soft=True))
        supervisor = supervisor_class().options(**opts).remote(settings.to_dict(), node)
        ray_get(supervisor.ping.remote(), timeout=STARTUP_TIMEOUT)
        return cls(settings, store, supervisor, owns)

    # --- Ray calls: each bounded, each noticing a shutdown ----------------------------------

    def _wait(self, refs: Sequence[Any]) -> list[Any]:
        """The refs of ``refs`` ready, waiting until one is; call inside ``_calls.call()``.
        Raises StoreError when the runtime shuts down meanwhile."""
        import ray

        while True:
            if self._calls.closing:
                raise shutting_down()
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=WAIT_SLICE)
            if ready:
                return ready

    def _get(self, ref: Any) -> Any:
        """:func:`ray_get` of one ref, in slices (see :data:`WAIT_SLICE`)."""
        with self._calls.call():
            self._wait([ref])
            return ray_get(ref)

    def _ask(self, method: str, *args: Any) -> Any:
        """The supervisor's answer to ``method(*args)``; not even sent once shutting down."""
        with self._calls.call():
            ref = getattr(self.supervisor, method).remote(*args)
            self._wait([ref])
            return ray_get(ref)

    # --- operations -----------------------------------------------------------------------

    def reconcile(self) -> dict[str, Any]:
        return self._ask("reconcile")

    def reconcile_soon(self) -> None:
        """Ask the supervisor to converge now, without waiting for it: after a topology
        change, which is stored already (starting the spoke actors a fleet of 10,000 needs
        takes longer than storing it)."""
        with self._calls.call():
            self.supervisor.reconcile.remote()

    def sync_now(self, hub: str, spoke: str | None = None,
                 only: Collection[str] | None = None) -> Iterator[ProgressEvent]:
        hub_rec = self.store.get_hub(hub)
        targets = ({self.store.find_spoke(hub, spoke).id} if spoke is not None
                   else {s.id for s in self.store.list_spokes(hub)
                         if only is None or s.id in only})
        return self._sync_now(hub_rec.id, hub, spoke, targets, only is not None)

    def _sync_now(self, hub_id: str, hub: str, spoke: str | None, targets: set[str],
                  only: bool) -> Iterator[ProgressEvent]:
        with self._calls.call():
            # sent together, not one round trip after the other. An async actor may start
            # them out of order, but no run of this sync has an event before sync_now's
            # first hop to a thread; at worst a progress event is not shown (the results
            # come with done_ref, not as events)
            seq_ref = self.supervisor.last_seq.remote()
            done_ref = self.supervisor.sync_now.remote(hub, spoke,
                                                       sorted(targets) if only else None)
        since = int(self._get(seq_ref))
        done = False
        while not done:
            # inside Ray only between yields: a consumer that stops reading holds up no shutdown
            with self._calls.call():
                events, done = self._next_events(since, done_ref)
            for event in events:
                since = max(since, event.seq)
                if event.spoke_id in targets and event.kind == "progress":
                    yield event
        for summary in self._get(done_ref):
            phase = "failed" if summary["status"] == "error" else "done"
            yield ProgressEvent("run", hub_id, summary["spoke_id"], phase, datetime.now(UTC),
                                counts=dict(summary.get("counts") or {}), summary=summary,
                                trigger="manual")

    def _next_events(self, since: int, done_ref: Any) -> tuple[list[ProgressEvent], bool]:
        """The events after ``since`` and whether the runs of ``done_ref`` ended."""
        import ray

        # woken by new progress or by the runs' end, whichever comes first: the end is
        # not noticed one event wait late (a wait left pending is dropped)
        events_ref = self.supervisor.events.remote(since, EVENT_WAIT)
        ready = self._wait([events_ref, done_ref])
        done = done_ref in ready or bool(ray.wait([done_ref], timeout=0)[0])
        if done and events_ref not in ready:
            events_ref = self.supervisor.events.remote(since, 0.0)
            self._wait([events_ref])
        return list(ray_get(events_ref)), done

    def status(self, hub: str | None = None) -> list[SpokeStatus]:
        spokes = self.store.list_spokes(hub)
        hub_names = {h.id: h.name for h in self.store.list_hubs()}
        hub_id = self.store.get_hub(hub).id if hub is not None else None
        live = {d["spoke_id"]: d for d in self._ask("status", hub_id)}
        return [self._spoke_status(s, hub_names.get(s.hub_id, ""), live.get(s.id))
                for s in spokes]

    def _spoke_status(self, s: Any, hub_name: str, live: dict[str, Any] | None) -> SpokeStatus:
        runs = self.store.list_runs(spoke_id=s.id, limit=1)
        last_run = None
        if runs:
            r = runs[0]
            last_run = {"id": r.id, "status": r.status, "trigger": r.trigger,
                        "started_at": r.started_at.isoformat(),
                        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
                        "counts": dict(r.counts), "error": r.error}
        state: SpokeState
        if not s.enabled:
            state = SpokeState.DISABLED
        elif live is None or live["state"] == SpokeState.UNASSIGNED:  # no actor / node down
            state = SpokeState.UNASSIGNED
        elif live["state"] in (HostedState.RUNNING, HostedState.BACKOFF):
            state = SpokeState(live["state"])
        else:
            state = s.state
        next_at = live.get("next_run_at") if live and s.enabled else None
        return SpokeStatus(
            spoke_id=s.id, hub_id=s.hub_id, hub=hub_name, name=s.name, kind=s.kind,
            enabled=s.enabled, state=state, last_run=last_run,
            next_run_at=datetime.fromtimestamp(next_at, UTC) if next_at else None,
            linked_items=self.store.count_links(s.id),
            last_error=(live or {}).get("last_error") or s.last_error,
            halted_reason=s.halted_reason,
            node_id=(live or {}).get("node_id"), node=(live or {}).get("node") or None,
            actor=(live or {}).get("actor"),
            failures=int((live or {}).get("failures", 0)), halt=s.halt,
            projected_items=self.store.count_projections(s.id),
        )

    def last_seq(self) -> int:
        """The sequence number of the newest event (follow from here for "from now on")."""
        return int(self._ask("last_seq"))

    def events(self, since: int = 0, timeout: float = 0.0) -> list[ProgressEvent]:
        return self._ask("events", since, timeout)

    def hub_actors(self) -> list[dict[str, Any]]:
        """Status of the hub actors (writer epochs, fenced hubs, merges done)."""
        return self._ask("hub_actors")

    # --- lifecycle ------------------------------------------------------------------------

    def shutdown(self, stop_actors: bool = False) -> None:
        import ray

        # first the calls in flight on other threads leave Ray (each within a slice): freeing
        # the core worker under one of them would crash the process
        if not self._calls.close(DRAIN_TIMEOUT):
            log.warning("calls to the runtime still in flight after %.0f s", DRAIN_TIMEOUT)
        if stop_actors and ray.is_initialized():
            stop_all_actors(self.settings.namespace)
        if self.owns_ray:
            stopped = datetime.now(UTC)
            if ray.is_initialized():
                ray.shutdown()  # our actors end with our Ray: their runs cannot finish
            try:
                self.store.interrupt_runs(before=stopped, reason="the server stopped during "
                                                                 "the run (SIGTERM or Ctrl-C)")
            except CirahubError as exc:  # the next start closes them
                log.warning("could not close the runs in flight: %s", exc)
        self.store.close()


def stop_all_actors(namespace: str) -> None:
    """Kill the supervisor first (so nothing is re-created), then spoke and hub actors."""
    import ray

    names = named_actors(namespace)
    order = sorted(names, key=lambda n: (n != SUPERVISOR_NAME, n.startswith(HUB_ACTOR_PREFIX)))
    for name in order:
        if name == SUPERVISOR_NAME or name.startswith((SPOKE_ACTOR_PREFIX, HUB_ACTOR_PREFIX)):
            try:
                ray.kill(ray.get_actor(name, namespace=namespace), no_restart=True)
            except ValueError:
                continue
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # names are released asynchronously
        left = [n for n in named_actors(namespace) if n in names]
        if not left:
            return
        time.sleep(0.2)
    log.warning("some cirahub actors still registered after stop: %s", left)
