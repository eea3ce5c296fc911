"""Prometheus metrics of a cirahub server (``GET /metrics``).

Names follow Prometheus conventions: ``cirahub_`` prefix, base units (seconds), ``_total``
counters. Labels are bounded: ``hub`` and ``spoke`` are names from the stored topology (an
operator's own, limited by what they attach), ``status``/``state`` come from closed sets
(:data:`RUN_STATUSES`, :data:`SPOKE_STATES`), ``node`` from the cluster's nodes.

Two sources feed them:

- the runtime's event stream (:meth:`Metrics.observe`): every finished run counts into
  ``cirahub_runs_total``, the duration histogram, items pulled/pushed/merged, conflicts and
  halts; a run that changed the hub starts a propagation clock for the hub's other spokes;
- the store and the runtime at scrape time (:class:`TopologyCollector`): spoke state, items
  linked, quarantined items, hub items, last success, actors alive.

Series are pre-registered at zero for every spoke the topology holds (:meth:`Metrics.sync`,
called at each scrape and after a console change), and removed with the spoke.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cirahub.control.convert import merged_count

log = logging.getLogger(__name__)

RUN_STATUSES = ("ok", "partial", "error", "halted", "skipped")
SPOKE_STATES = ("idle", "ok", "running", "backoff", "error", "action_required", "halted",
                "disabled", "unassigned")
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
DELAY_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 3600)
TX_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True)
class SpokeKey:
    hub: str
    spoke: str


class Metrics:
    """The registry and the event-fed metrics. Thread-safe (prometheus-client is)."""

    def __init__(self, handlers: Any) -> None:
        # no ``*_created`` series: they double every counter and histogram for nothing a
        # dashboard uses (prometheus-client's switch is process-wide; only we export here)
        disable_created_metrics()
        self.handlers = handlers
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        spoke_labels = ("hub", "spoke")
        self.runs = Counter("cirahub_runs", "Sync runs finished, by result.",
                            (*spoke_labels, "status"), registry=r)
        self.duration = Histogram("cirahub_run_duration_seconds", "Duration of sync runs.",
                                  spoke_labels, buckets=DURATION_BUCKETS, registry=r)
        self.pulled = Counter("cirahub_items_pulled", "Items read from spokes (new or "
                              "changed).", spoke_labels, registry=r)
        self.pushed = Counter("cirahub_items_pushed", "Items written to spokes.",
                              spoke_labels, registry=r)
        self.merged = Counter("cirahub_items_merged", "Hub items created, updated or "
                              "deleted from a spoke's changes.", spoke_labels, registry=r)
        self.conflicts = Counter("cirahub_conflicts", "Fields changed on both sides and "
                                 "settled by the hub's policy.", spoke_labels, registry=r)
        self.halts = Counter("cirahub_halts", "Runs halted by a safety check (mass "
                             "deletion, emptied spoke).", spoke_labels, registry=r)
        self.delay = Histogram(
            "cirahub_propagation_delay_seconds",
            "From the end of the run that changed a hub to the end of the next run that "
            "pushed to another spoke of that hub.", ("hub",), buckets=DELAY_BUCKETS, registry=r)
        self.tx = Histogram("cirahub_store_transaction_seconds",
                            "Store transactions of the control-plane process.", ("outcome",),
                            buckets=TX_BUCKETS, registry=r)
        self._known: set[SpokeKey] = set()
        #: spoke → Unix time its last ok/partial run finished, as seen on the event stream
        self.last_success: dict[SpokeKey, float] = {}
        self._pending: dict[SpokeKey, float] = {}  # spoke → when a change for it appeared
        self._lock = threading.Lock()
        r.register(TopologyCollector(handlers, self.last_success))

    # --- topology --------------------------------------------------------------------------

    def sync(self, spokes: Iterable[SpokeKey] | None = None) -> None:
        """Pre-register the series of every spoke at zero; remove those of gone spokes."""
        if spokes is None:
            names = self.handlers.names()
            spokes = [SpokeKey(names.hub(s.hub_id), s.name)
                      for s in self.handlers.list_spokes("")]
        wanted = set(spokes)
        with self._lock:
            for key in wanted - self._known:
                self._add(key)
            for key in self._known - wanted:
                self._remove(key)
            self._known = wanted

    def _add(self, key: SpokeKey) -> None:
        for status in RUN_STATUSES:
            self.runs.labels(key.hub, key.spoke, status)
        for family in (self.duration, self.pulled, self.pushed, self.merged, self.conflicts,
                       self.halts):
            family.labels(key.hub, key.spoke)
        self.delay.labels(key.hub)

    def _remove(self, key: SpokeKey) -> None:
        for status in RUN_STATUSES:
            _drop(self.runs, key.hub, key.spoke, status)
        for family in (self.duration, self.pulled, self.pushed, self.merged, self.conflicts,
                       self.halts):
            _drop(family, key.hub, key.spoke)
        self._pending.pop(key, None)
        self.last_success.pop(key, None)
        if not any(k.hub == key.hub for k in self._known - {key}):
            _drop(self.delay, key.hub)

    # --- events ----------------------------------------------------------------------------

    def observe(self, event: Any, hub: str, spoke: str) -> None:
        """Count one event of the runtime's stream (only finished runs count)."""
        if event.kind != "run" or not event.summary or not hub or not spoke:
            return
        summary: Mapping[str, Any] = event.summary
        counts: Mapping[str, int] = summary.get("counts") or {}
        status = str(summary.get("status") or "error")
        if status not in RUN_STATUSES:
            status = "error"
        key = SpokeKey(hub, spoke)
        with self._lock:
            if key not in self._known:
                self._add(key)
                self._known.add(key)
        self.runs.labels(hub, spoke, status).inc()
        self.duration.labels(hub, spoke).observe(float(summary.get("duration") or 0.0))
        self.pulled.labels(hub, spoke).inc(int(counts.get("pulled", 0)))
        self.pushed.labels(hub, spoke).inc(int(counts.get("pushed", 0)))
        merged = merged_count(counts)
        self.merged.labels(hub, spoke).inc(merged)
        self.conflicts.labels(hub, spoke).inc(int(counts.get("conflicts", 0)))
        if status == "halted":
            self.halts.labels(hub, spoke).inc()
        if status in ("ok", "partial"):
            self.last_success[key] = event.at.timestamp()
        self._propagation(key, merged, int(counts.get("pushed", 0)), status)

    def _propagation(self, key: SpokeKey, merged: int, pushed: int, status: str) -> None:
        now = time.monotonic()
        with self._lock:
            started = self._pending.pop(key, None) if status in ("ok", "partial") else None
            if merged:
                for other in self._known:
                    if other.hub == key.hub and other != key:
                        self._pending.setdefault(other, now)
        if started is not None and pushed:
            self.delay.labels(key.hub).observe(now - started)

    def observe_transaction(self, seconds: float, outcome: str) -> None:
        self.tx.labels(outcome).observe(seconds)

    def render(self) -> bytes:
        try:
            self.sync()
        except Exception:  # a scrape still answers with what it has
            log.exception("metrics: reading the topology failed")
        return generate_latest(self.registry)


def _drop(family: Any, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never registered: nothing to remove
        family.remove(*labels)


class TopologyCollector(Collector):
    """Gauges read at scrape time from the runtime's status and the store."""

    def __init__(self, handlers: Any, last_success: Mapping[SpokeKey, float]) -> None:
        self.handlers = handlers
        self.last_success = last_success

    def describe(self) -> Iterator[Metric]:
        return iter(())  # values are read per scrape: nothing to describe up front

    def collect(self) -> Iterator[Metric]:
        state = GaugeMetricFamily("cirahub_spoke_state", "1 for the state a spoke is in.",
                                  labels=("hub", "spoke", "state"))
        linked = GaugeMetricFamily("cirahub_spoke_items_linked", "Hub items linked to the "
                                   "spoke.", labels=("hub", "spoke"))
        quarantined = GaugeMetricFamily("cirahub_quarantined_items", "Items of the spoke "
                                        "held in quarantine.", labels=("hub", "spoke"))
        success = GaugeMetricFamily("cirahub_last_success_timestamp_seconds", "When the "
                                    "spoke's last successful run finished (Unix time).",
                                    labels=("hub", "spoke"))
        items = GaugeMetricFamily("cirahub_hub_items", "Alive items of the hub.",
                                  labels=("hub",))
        actors = GaugeMetricFamily("cirahub_actors_alive", "Runtime actors answering, by "
                                   "node and kind.", labels=("node", "kind"))
        up = GaugeMetricFamily("cirahub_runtime_up", "1 when the runtime answered this "
                               "scrape.")
        try:
            self._fill(state, linked, quarantined, success, items, actors)
            up.add_metric((), 1)
        except Exception as exc:
            log.warning("metrics: the runtime did not answer: %s", type(exc).__name__)
            up.add_metric((), 0)
        yield from (state, linked, quarantined, success, items, actors, up)

    def _fill(self, state: GaugeMetricFamily, linked: GaugeMetricFamily,
              quarantined: GaugeMetricFamily, success: GaugeMetricFamily,
              items: GaugeMetricFamily, actors: GaugeMetricFamily) -> None:
        h = self.handlers
        statuses = h.status("")
        per_spoke: dict[str, int] = {}
        for q in h.quarantine("", ""):
            per_spoke[q.spoke_id] = per_spoke.get(q.spoke_id, 0) + 1
        nodes: dict[str, set[str]] = {}
        for s in statuses:
            current = s.state if s.state in SPOKE_STATES else "error"
            for name in SPOKE_STATES:
                state.add_metric((s.hub, s.name, name), 1.0 if name == current else 0.0)
            linked.add_metric((s.hub, s.name), float(s.linked_items or 0))
            quarantined.add_metric((s.hub, s.name), float(per_spoke.get(s.spoke_id, 0)))
            last = self._last_success(s)
            if last is not None:
                success.add_metric((s.hub, s.name), last)
            if s.node_id and s.actor:
                nodes.setdefault(s.node_id, set()).add(s.actor)
        for hub in h.list_hubs():
            items.add_metric((hub.name,), float(h.hub_item_count(hub.name)))
        for node, names in sorted(nodes.items()):
            actors.add_metric((node, "spoke"), float(len(names)))
        alive_hubs = sum(1 for a in h.hub_actors() if "error" not in a)
        actors.add_metric(("", "hub"), float(alive_hubs))


    def _last_success(self, s: Any) -> float | None:
        seen = self.last_success.get(SpokeKey(s.hub, s.name))
        run = s.last_run or {}
        if run.get("status") in ("ok", "partial") and run.get("finished_at"):
            stored = datetime.fromisoformat(str(run["finished_at"])).timestamp()
            seen = max(seen or 0.0, stored)
        return seen


def watch_engine(engine: Any, metrics: Metrics) -> None:
    """Time every transaction on ``engine`` (this process's store) into
    ``cirahub_store_transaction_seconds``."""
    from sqlalchemy import event

    started: dict[int, float] = {}

    def begin(conn: Any) -> None:
        started[id(conn)] = time.perf_counter()

    def end(outcome: str) -> Any:
        def done(conn: Any) -> None:
            t0 = started.pop(id(conn), None)
            if t0 is not None:
                metrics.observe_transaction(time.perf_counter() - t0, outcome)
        return done

    event.listen(engine, "begin", begin)
    event.listen(engine, "commit", end("commit"))
    event.listen(engine, "rollback", end("rollback"))
