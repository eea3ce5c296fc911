"""The server's own log: one line per run, halt, quarantine, conflict and back-off.

Runs happen in Ray actors (other processes, other machines); their events reach the server
through the runtime's event stream, and :class:`RunLogger` (a thread of the server) turns each
into one log line with hub and spoke *names*, so the server's stderr tells what it does
(systemd's journal and ``docker logs`` collect it). :func:`configure` sets the format: text
(``time level logger: message key=value ...``) or JSON (one object per line, the same keys).

Idle polls (scheduled polls that found nothing to do) are logged folded, as the run history
folds them (:mod:`cirahub.actors.idle`): the first idle poll of a spoke after any other run is
its ``run finished … idle=folded`` line, and the later ones are counted in one ``idle polls
hub=… polls=… spokes=… longest_gap=…`` line per hub a minute (per spoke actor), not one line
each (10,000 spokes polled every minute were 167 lines a second).

Guarantee: a line carries names, statuses, counts, durations and error messages the
connectors built without secrets; never a config value or a secret.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("cirahub.runs")

#: seconds one poll of the event stream waits
POLL = 1.0
#: loggers of libraries that are loud at INFO
NOISY = ("ray", "urllib3", "exchangelib", "httpx", "msal", "aiohttp.access")


class KeyValueFormatter(logging.Formatter):
    """``2026-12-01T09:00:00+00:00 INFO cirahub.runs: run finished hub=team spoke=a ...``"""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        line = f"{when} {record.levelname} {record.name}: {record.getMessage()}"
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{k}={_text(v)}" for k, v in fields.items())
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg and the record's fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def _text(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if (not text or " " in text or "=" in text) else text


def configure(level: str, fmt: str, library_level: str = "WARNING") -> None:
    """Root logging on stderr in ``fmt`` ("text" | "json"); the libraries' own loggers
    (Ray's included) stay at ``library_level`` unless the server runs at DEBUG."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else KeyValueFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    quiet = level.upper() if level.upper() == "DEBUG" else library_level
    for name in NOISY:
        logging.getLogger(name).setLevel(quiet)


def emit(level: int, message: str, **fields: Any) -> None:
    """One structured line on the server's log (``fields`` become key=value / JSON keys)."""
    log.log(level, message, extra={"fields": fields})


_config_log = logging.getLogger("cirahub.config")


def config_change(message: str, **fields: Any) -> None:
    """One line for a change of the topology or of options (names only, never values of a
    spoke's config or its secret)."""
    _config_log.info(message, extra={"fields": fields})


class RunLogger:
    """Follows the runtime's event stream from now on and logs what happens (a thread)."""

    def __init__(self, runtime: Any) -> None:
        self.runtime = runtime
        self._stop = threading.Event()
        self._names: tuple[dict[str, str], dict[str, str]] = ({}, {})
        self._thread = threading.Thread(target=self._loop, name="cirahub-runlog", daemon=True)

    def start(self) -> RunLogger:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        since = -1
        while not self._stop.is_set():
            try:
                if since < 0:
                    since = int(self.runtime.last_seq())
                for event in self.runtime.events(since, POLL):
                    since = max(since, int(event.seq))
                    self.log_event(event)
            except Exception:  # the runtime restarting: keep following, say it once per poll
                log.warning("the event stream of the runtime is not answering; retrying",
                            exc_info=log.isEnabledFor(logging.DEBUG))
                self._stop.wait(POLL)

    def _name(self, hub_id: str, spoke_id: str) -> tuple[str, str]:
        hubs, spokes = self._names
        if hub_id not in hubs or (spoke_id and spoke_id not in spokes):
            store = self.runtime.store
            hubs = {h.id: h.name for h in store.list_hubs()}
            spokes = {s.id: s.name for s in store.list_spokes()}
            self._names = (hubs, spokes)
        return hubs.get(hub_id, hub_id), spokes.get(spoke_id, spoke_id)

    def log_event(self, event: Any) -> None:
        """The lines for one event (runs and spoke state changes; progress is not logged)."""
        if event.kind == "state":
            hub, spoke = self._name(event.hub_id, event.spoke_id)
            emit(logging.INFO if event.phase != "actor_died" else logging.WARNING,
                 f"spoke {event.phase}", hub=hub, spoke=spoke, actor=event.detail or "")
            return
        if event.kind == "polls":
            hub, _ = self._name(event.hub_id, "")
            log_polls(hub, event.counts, event.detail or "")
            return
        if event.kind != "run" or not event.summary:
            return
        hub, spoke = self._name(event.hub_id, event.spoke_id)
        self.log_run(hub, spoke, event.summary, event.trigger or "", event.detail,
                     folded=event.phase == "idle")

    def log_run(self, hub: str, spoke: str, summary: Mapping[str, Any], trigger: str,
                detail: str | None = None, *, folded: bool = False) -> None:
        """The lines of one finished run; ``folded``: an idle poll whose spoke's next idle
        polls are folded into ``idle polls`` lines."""
        from cirahub.control.convert import merged_count  # lazy: the CLI imports this module

        counts = summary.get("counts") or {}
        status = str(summary.get("status") or "")
        error = summary.get("error") or {}
        fields: dict[str, Any] = {
            "hub": hub, "spoke": spoke, "status": status, "trigger": trigger,
            "pulled": int(counts.get("pulled", 0)), "merged": merged_count(counts),
            "pushed": int(counts.get("pushed", 0)),
            "conflicts": int(counts.get("conflicts", 0)),
            "quarantined": int(counts.get("quarantine", 0)),
            "duration": f"{float(summary.get('duration') or 0.0):.2f}s",
        }
        if error and status not in ("ok", "skipped"):
            fields["error"] = f"{error.get('code', '')}: {error.get('message', '')}".strip(": ")
        if folded:
            fields["idle"] = "folded"
        level = logging.INFO if status in ("ok", "skipped") else logging.WARNING
        emit(level, "run finished", **fields)
        if status == "halted":
            emit(logging.WARNING, "spoke halted", hub=hub, spoke=spoke,
                 reason=error.get("message", ""),
                 answer=f"cirahubctl confirm|restore {hub} {spoke}")
        if fields["quarantined"]:
            emit(logging.WARNING, "items quarantined", hub=hub, spoke=spoke,
                 items=fields["quarantined"], see=f"cirahubctl quarantine {hub} --spoke {spoke}")
        if fields["conflicts"]:
            emit(logging.INFO, "conflicts settled", hub=hub, spoke=spoke,
                 count=fields["conflicts"], see=f"cirahubctl conflicts {hub} --spoke {spoke}")
        if detail and detail.startswith("back-off"):
            emit(logging.WARNING, "spoke backing off", hub=hub, spoke=spoke, detail=detail)


def log_polls(hub: str, counts: Mapping[str, int], actor: str) -> None:
    """The line of one ``polls`` event: a hub's folded idle polls in one spoke actor since
    its last report (how many, of how many spokes, the longest gap between two consecutive
    polls of one spoke among them)."""
    emit(logging.INFO, "idle polls", hub=hub, polls=int(counts.get("polls", 0)),
         spokes=int(counts.get("spokes", 0)),
         longest_gap=f"{int(counts.get('longest_gap_ms', 0)) / 1000:.1f}s", actor=actor)
