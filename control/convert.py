"""Conversions between the store's / runtime's values and the control API's messages.

Pure functions. Nothing here ever reads a secret: spoke records carry only ``has_secret``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from google.protobuf import json_format, struct_pb2
from google.protobuf.timestamp_pb2 import Timestamp

from cirahub.actors.progress import ProgressEvent, SpokeStatus
from cirahub.connectors.kinds import DiscoveryPage, all_kinds, by_pb_field, kind_names
from cirahub.core.counts import MERGE_COUNTS
from cirahub.core.errors import InvalidInput
from cirahub.core.options import SyncOptions
from cirahub.core.states import SUCCESS_STATUSES
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.store.records import HaltInfo, HubRecord, QuarantineEntry, RunRecord, SpokeRecord


def timestamp(value: datetime | str | None) -> Timestamp | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    out = Timestamp()
    out.FromDatetime(value)
    return out


def _set_ts(msg: Any, name: str, value: datetime | str | None) -> None:
    ts = timestamp(value)
    if ts is not None:
        getattr(msg, name).CopyFrom(ts)


def error_info(error: Mapping[str, Any] | None) -> pb.ErrorInfo | None:
    if not error:
        return None
    fields = error.get("fields") or {}
    return pb.ErrorInfo(
        code=str(error.get("code") or ""),
        message=str(error.get("message") or ""),
        fields={str(k): str(v) for k, v in fields.items()},
    )


def _set_error(msg: Any, name: str, error: Mapping[str, Any] | None) -> None:
    info = error_info(error)
    if info is not None:
        getattr(msg, name).CopyFrom(info)


# --- spoke config ----------------------------------------------------------------------------


def config_from_pb(config: pb.SpokeConfig) -> tuple[str, dict[str, Any]]:
    """(kind, config dict in stored keys) from the oneof; only non-empty fields are kept.
    InvalidInput when no kind is set."""
    which = config.WhichOneof("kind")
    if which is None:
        raise InvalidInput(
            "spoke config is missing: set one of " + ", ".join(kind_names()), field="config"
        )
    kind = by_pb_field(which)
    out: dict[str, Any] = {}
    for f, value in getattr(config, which).ListFields():
        spec = kind.field_named(f.name)
        key = spec.stored_key if spec else f.name
        if spec is not None and spec.inverted:
            out[key] = not value
        elif value not in ("", None):
            out[key] = value
    return kind.name, out


def config_to_pb(kind: str, config: Mapping[str, Any]) -> pb.SpokeConfig:
    """The oneof for a stored config; keys the message does not know are left out."""
    out = pb.SpokeConfig()
    spec = all_kinds().get(kind)
    if spec is None:
        return out
    sub = getattr(out, spec.pb_field)
    sub.SetInParent()
    for f in sub.DESCRIPTOR.fields:
        cf = spec.field_named(f.name)
        key = cf.stored_key if cf else f.name
        if cf is not None and cf.inverted:
            setattr(sub, f.name, config.get(key) is False)
            continue
        value = config.get(key)
        if value not in (None, ""):
            setattr(sub, f.name, str(value))
    return out


# --- sync options ----------------------------------------------------------------------------


def options_to_pb(options: SyncOptions) -> pb.SyncOptions:
    return pb.SyncOptions(
        hub_writes=str(options.hub_writes),
        contributes=str(options.contributes),
        days_back=-1 if options.days_back is None else options.days_back,
        days_ahead=-1 if options.days_ahead is None else options.days_ahead,
        private=options.private.value,
        categories_include=pb.StringList(values=sorted(options.categories_include)),
        categories_exclude=pb.StringList(values=sorted(options.categories_exclude)),
        tentative=options.tentative,
        tag_category=options.tag_category or "",
        meetings_as_appointments=options.meetings_as_appointments,
        reminders=options.reminders,
        interval_seconds=options.interval_seconds,
        enabled=options.enabled,
    )


def options_patch(options: pb.SyncOptions | None) -> dict[str, Any]:
    """The option changes a request asks for: only the fields it set, in SyncOptions terms
    (negative days = unbounded, empty tag = none)."""
    if options is None:
        return {}
    out: dict[str, Any] = {}
    for f, value in options.ListFields():
        if f.name in ("days_back", "days_ahead"):
            out[f.name] = None if value < 0 else int(value)
        elif f.name in ("categories_include", "categories_exclude"):
            out[f.name] = list(value.values)
        elif f.name == "tag_category":
            out[f.name] = value or None
        else:
            out[f.name] = value
    return out


# --- topology --------------------------------------------------------------------------------


def hub_to_pb(hub: HubRecord, spoke_count: int = 0) -> pb.Hub:
    msg = pb.Hub(
        id=hub.id, name=hub.name, object_type=hub.object_type, policy=str(hub.policy.value
        if hasattr(hub.policy, "value") else hub.policy), version=int(hub.version),
        spoke_count=spoke_count,
    )
    _set_ts(msg, "created_at", hub.created_at)
    return msg


def halt_to_pb(halt: HaltInfo) -> pb.Halt:
    """A HaltInfo as a message (hub item ids stay inside: they mean nothing outside)."""
    msg = pb.Halt(
        id=halt.id, reason=halt.reason, lost=int(halt.lost), deleting=int(halt.deleting),
        confirmed=bool(halt.confirmed),
        items=[pb.PendingDelete(uid=i.uid, summary=i.summary, start=i.start)
               for i in halt.items],
    )
    _set_ts(msg, "at", halt.at)
    return msg


def spoke_to_pb(spoke: SpokeRecord, hub_name: str) -> pb.Spoke:
    """A SpokeRecord as a message. Records never hold the secret; only ``has_secret``."""
    msg = pb.Spoke(
        id=spoke.id, hub=hub_name, name=spoke.name, kind=spoke.kind,
        config=config_to_pb(spoke.kind, spoke.config), options=options_to_pb(spoke.options),
        has_secret=bool(spoke.has_secret), state=str(spoke.state), enabled=spoke.options.enabled,
        halted_reason=spoke.halted_reason or "",
    )
    _set_error(msg, "last_error", spoke.last_error)
    if spoke.halt is not None:
        msg.halt.CopyFrom(halt_to_pb(spoke.halt))
    _set_ts(msg, "created_at", spoke.created_at)
    _set_ts(msg, "updated_at", spoke.updated_at)
    return msg


# --- runs, status, conflicts, quarantine -----------------------------------------------------


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


def run_to_pb(run: RunRecord | Mapping[str, Any], hub: str, spoke: str) -> pb.RunInfo:
    """A RunRecord (or the runtime's last-run dict) as a message."""
    counts = _get(run, "counts") or {}
    msg = pb.RunInfo(
        id=str(_get(run, "id") or ""), hub=hub, spoke=spoke,
        trigger=str(_get(run, "trigger") or ""), status=str(_get(run, "status") or ""),
        counts={str(k): int(v) for k, v in counts.items() if isinstance(v, int | float)},
    )
    _set_ts(msg, "started_at", _get(run, "started_at"))
    _set_ts(msg, "finished_at", _get(run, "finished_at"))
    _set_error(msg, "error", _get(run, "error"))
    return msg


def status_to_pb(status: SpokeStatus) -> pb.SpokeStatus:
    """The runtime's SpokeStatus as a message."""
    msg = pb.SpokeStatus(
        hub=status.hub, spoke=status.name, kind=status.kind, state=str(status.state),
        enabled=status.enabled, item_count=int(status.linked_items or 0),
        halted=bool(status.halted_reason), halted_reason=status.halted_reason or "",
        node=getattr(status, "node", None) or "",
        projected_count=int(getattr(status, "projected_items", 0) or 0),
    )
    if status.last_run:
        msg.last_run.CopyFrom(run_to_pb(status.last_run, status.hub, status.name))
    _set_ts(msg, "next_run", status.next_run_at)
    _set_error(msg, "last_error", status.last_error)
    if getattr(status, "halt", None) is not None:
        msg.halt.CopyFrom(halt_to_pb(status.halt))
    return msg


def value_pb(value: Any) -> struct_pb2.Value:
    """A stored JSON value as a protobuf Value (shown as plain JSON, not a JSON string)."""
    out = struct_pb2.Value()
    json_format.ParseDict(jsonable(value), out)
    return out


def struct_pb(value: Mapping[str, Any]) -> struct_pb2.Struct:
    out = struct_pb2.Struct()
    json_format.ParseDict(jsonable(value), out)
    return out


def jsonable(value: Any) -> Any:
    """``value`` with what JSON cannot hold (datetimes, tuples, sets) made JSON values."""
    return json.loads(json.dumps(value, default=str))


#: characters of each text in a conflict list's field values
VALUE_PREVIEW = 200
#: characters of JSON one item body (or field value) of GetConflict carries at most; each
#: text in it is cut at a quarter of that, and the item's iCalendar source is left out
BODY_LIMIT = 1 << 20


def bounded(value: Any, cut: int, whole: int) -> tuple[Any, bool]:
    """(``value`` as plain JSON with every text longer than ``cut`` characters cut short and
    saying so, whether anything was cut); a value whose JSON is still longer than ``whole``
    becomes null."""
    if isinstance(value, str):
        if len(value) > cut:
            return value[:cut] + f"... ({len(value)} characters)", True
        return value, False
    if isinstance(value, list | tuple):
        parts = [bounded(v, cut, whole) for v in value]
        out: Any = [v for v, _ in parts]
        cutoff = any(t for _, t in parts)
    elif isinstance(value, Mapping):
        pairs = {str(k): bounded(v, cut, whole) for k, v in value.items()}
        out, cutoff = {k: v for k, (v, _) in pairs.items()}, any(t for _, t in pairs.values())
    else:
        return jsonable(value), False
    if len(json.dumps(out, default=str)) > whole:
        return None, True
    return out, cutoff


def conflict_to_pb(entry: Any, hub: str, spoke: str, current: Mapping[str, Any] | None,
                   *, bodies: bool = True) -> pb.Conflict:
    """The conflict as the API shows it, every value plain JSON: with ``bodies``
    (GetConflict) both item versions (without their iCalendar source), each at most
    BODY_LIMIT characters of JSON; without (lists) no bodies and texts cut at VALUE_PREVIEW.
    ``truncated`` says something was cut."""
    cut, whole = (BODY_LIMIT // 4, BODY_LIMIT) if bodies else (VALUE_PREVIEW, 4 * VALUE_PREVIEW)
    truncated = False

    def value(raw: Any) -> Any:
        nonlocal truncated
        if isinstance(raw, Mapping) and "source" in raw:  # verbatim iCalendar: not content
            raw = {k: v for k, v in raw.items() if k != "source"}
        out, cutoff = bounded(raw, cut, whole)
        truncated = truncated or cutoff
        return out

    msg = pb.Conflict(
        id=entry.id, hub=hub, spoke=spoke, uid=entry.uid[:VALUE_PREVIEW], kind=entry.kind,
        fields=[
            pb.FieldConflict(
                field=str(f.get("field", "")), base=value_pb(value(f.get("base"))),
                hub_value=value_pb(value(f.get("hub_value"))),
                spoke_value=value_pb(value(f.get("spoke_value"))),
                winner=str(f.get("winner", "")), reason=str(f.get("reason", ""))[:cut],
            )
            for f in entry.fields
        ],
    )
    if bodies and entry.losing_item is not None:
        msg.losing_item.CopyFrom(struct_pb(value(entry.losing_item) or {}))
    if bodies and current is not None:
        msg.current_item.CopyFrom(struct_pb(value(current) or {}))
    msg.truncated = truncated
    _set_ts(msg, "created_at", entry.created_at)
    return msg


def quarantine_to_pb(entry: QuarantineEntry, hub: str, spoke: str) -> pb.QuarantineEntry:
    msg = pb.QuarantineEntry(
        hub=hub, spoke=spoke, remote_id=entry.remote_id, uid=entry.uid or "",
        reason=entry.reason, detail=entry.detail,
    )
    _set_ts(msg, "first_seen", entry.first_seen)
    _set_ts(msg, "last_seen", entry.last_seen)
    return msg


# --- sync progress ---------------------------------------------------------------------------


def merged_count(counts: Mapping[str, int]) -> int:
    return sum(int(counts.get(k, 0)) for k in MERGE_COUNTS)


def progress_to_pb(event: ProgressEvent, hub: str, spoke: str) -> pb.SpokeProgress:
    """A ProgressEvent as a message. The final event of a run carries its summary."""
    summary = event.summary or {}
    counts = dict(summary.get("counts") or event.counts or {})
    msg = pb.SpokeProgress(
        hub=hub, spoke=spoke, phase=event.phase, pulled=int(counts.get("pulled", 0)),
        merged=merged_count(counts), pushed=int(counts.get("pushed", 0)),
        conflicts=int(counts.get("conflicts", 0)), quarantined=int(counts.get("quarantine", 0)),
        status=str(summary.get("status") or ""), run_id=str(summary.get("run_id") or ""),
        message=event.detail or "",
    )
    _set_error(msg, "error", summary.get("error"))
    _set_ts(msg, "at", event.at)
    return msg


def result_from_progress(progress: pb.SpokeProgress) -> pb.SpokeResult:
    return pb.SpokeResult(
        hub=progress.hub, spoke=progress.spoke, status=progress.status or progress.phase,
        pulled=progress.pulled, merged=progress.merged, pushed=progress.pushed,
        conflicts=progress.conflicts, quarantined=progress.quarantined,
        error=progress.error if progress.HasField("error") else None, run_id=progress.run_id,
    )


def add_results(before: pb.SpokeResult | None, after: pb.SpokeResult) -> pb.SpokeResult:
    """One spoke's result over several runs, per item: status and error of the last run;
    pulled the most any run saw (later runs see the same items again, not new ones); merged,
    pushed and conflicts added up (each is a distinct change). Quarantined is set by the
    caller from the store (items in quarantine now)."""
    if before is None:
        return after
    out = pb.SpokeResult()
    out.CopyFrom(after)
    out.pulled = max(before.pulled, after.pulled)
    for name in ("merged", "pushed", "conflicts"):
        setattr(out, name, getattr(before, name) + getattr(after, name))
    return out


def summary(results: Iterable[pb.SpokeResult], outcomes: Iterable[Any] = ()) -> pb.SyncSummary:
    """The SyncSummary of a sync now: ``outcomes`` are the hubs' HubOutcome values."""
    items = list(results)
    ends = list(outcomes)
    converged = all(o.converged for o in ends)
    return pb.SyncSummary(
        ok=converged and all(r.status in SUCCESS_STATUSES for r in items), results=items,
        converged=converged, rounds=max((o.rounds for o in ends), default=0),
        messages=[o.message for o in ends],
    )


def event_to_pb(event: ProgressEvent, hub: str, spoke: str) -> pb.Event:
    """A runtime event as a message; the event that ends a run carries how it ended."""
    summary = event.summary or {}
    counts = {str(k): int(v) for k, v in dict(summary.get("counts") or event.counts or {}).items()
              if isinstance(v, int | float)}
    msg = pb.Event(
        seq=int(event.seq), type=event.kind, hub=hub, spoke=spoke,
        message=event.detail or event.phase, phase=event.phase, counts=counts,
        trigger=str(event.trigger or ""),
    )
    if summary:
        msg.status = str(summary.get("status") or "")
        msg.run_id = str(summary.get("run_id") or "")
        msg.duration_seconds = float(summary.get("duration") or 0.0)
        _set_error(msg, "error", summary.get("error"))
    _set_ts(msg, "at", event.at)
    return msg


def discovery_to_pb(kind: str, page: DiscoveryPage) -> pb.DiscoverCalendarsResponse:
    """A DiscoveryPage as the RPC answer; ``next_offset`` becomes the page token."""
    out = pb.DiscoverCalendarsResponse(
        kind=kind, next_page_token="" if page.next_offset is None else str(page.next_offset))
    for c in page.calendars:
        entry = out.calendars.add(path=c.path, display_name=c.display_name, is_calendar=c.is_calendar,
                                  writable=c.writable, child_count=c.child_count, owner=c.owner or "",
                                  config_key=c.key)
        if c.item_count is not None:
            entry.item_count = int(c.item_count)
    return out
