"""Microsoft Graph ``event`` JSON ↔ canonical item fields.

Decisions (what a Graph spoke cannot carry is :data:`UNSUPPORTED`):

- **attendees are never written as attendees**: Graph invites everyone on an event's
  attendee list, always. The hub writes a meeting as an appointment and puts the attendee
  list at the end of the body, under :data:`ATTENDEE_MARKER`; reading takes it back out, so
  the description and the attendees round-trip exactly. Attendees of a real meeting someone
  made in Outlook are read from ``attendees``.
- the organizer is always the mailbox's owner on Graph: not carried (like EWS). RDATEs and
  ``url`` have no Graph field: not carried.
- times keep their zone: written in the Windows zone name when that maps back to the same
  IANA zone, else in the IANA name (Graph takes both); read from ``originalStartTimeZone``.
  All-day events are dates both ways (midnight to midnight, ``isAllDay``), never UTC
  midnights.
- Graph has one reminder per event: the earliest alarm is written natively and the whole
  list in an extended property, used on read while the native reminder still agrees.
- the hub's UID lives in an extended property (Graph's ``iCalUId`` cannot be set); events
  without it (made by users) use ``iCalUId``.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cirahub.core.errors import MalformedItem
from cirahub.core.ical_values import as_moment, instant_text, time_value
from cirahub.core.timezones import iana_to_windows, resolve_tzid, windows_to_iana

#: (further RRULEs of a series: one Graph event holds one recurrence pattern)
UNSUPPORTED: frozenset[str] = frozenset({"organizer", "rdates", "url", "more_rrules"})
#: our single-value extended properties (one property set; named properties are a quota)
PROPERTY_SET = "{5c8a3f04-6d3e-4a5e-9a77-2f1b0f7c3e21}"
HUB_ID = f"String {PROPERTY_SET} Name cirahubHubId"
HUB_UID = f"String {PROPERTY_SET} Name cirahubUid"
HUB_ALARMS = f"String {PROPERTY_SET} Name cirahubAlarms"
#: the last occurrence key the hub wrote an exception for (how far to read instances)
HUB_HORIZON = f"String {PROPERTY_SET} Name cirahubHorizon"
STAMPS = (HUB_ID, HUB_UID, HUB_ALARMS, HUB_HORIZON)
#: ``$expand`` that reads our stamps with an event
EXPAND = "singleValueExtendedProperties($filter=" + " or ".join(
    f"id eq '{p}'" for p in STAMPS) + ")"
ATTENDEE_MARKER = "-- attendees (copied by cirahub, not invited) --"

_ROLES = {"REQ-PARTICIPANT": "required", "OPT-PARTICIPANT": "optional",
          "NON-PARTICIPANT": "resource", "CHAIR": "chair"}
_ROLE_BACK = {v: k for k, v in _ROLES.items()}
_LINE = re.compile(r"^- (?:(?P<name>.*?) )?<(?P<email>[^<>\s]+)>(?: \[(?P<tags>[^\]]*)\])?$")
_SENSITIVITY = {"private": "PRIVATE", "confidential": "CONFIDENTIAL"}
_RESPONSES = {"accepted": "ACCEPTED", "tentativelyAccepted": "TENTATIVE", "declined": "DECLINED",
              "none": "NEEDS-ACTION", "notResponded": "NEEDS-ACTION"}
_GRAPH_ROLE = {"required": "REQ-PARTICIPANT", "optional": "OPT-PARTICIPANT",
               "resource": "NON-PARTICIPANT"}


def stamps_of(event: Mapping[str, Any]) -> dict[str, str]:
    """Our extended properties of an event read with :data:`EXPAND`."""
    out: dict[str, str] = {}
    for prop in event.get("singleValueExtendedProperties") or []:
        pid, value = str(prop.get("id", "")), prop.get("value")
        for known in STAMPS:
            if pid.lower() == known.lower() and isinstance(value, str):
                out[known] = value
    return out


# --- times -------------------------------------------------------------------------------


def _zone(name: str | None) -> str | None:
    """IANA name for a Graph timeZone (Windows or IANA), UTC for UTC; None if unknown."""
    if not name:
        return None
    return resolve_tzid(name)


def _parse_local(text: str) -> datetime:
    base, _, frac = text.partition(".")
    try:
        moment = datetime.fromisoformat(base.rstrip("Z"))
    except ValueError:
        raise MalformedItem(f"not a Graph dateTime: {text!r}") from None
    return moment.replace(microsecond=int((frac + "000000")[:6]) if frac.isdigit() else 0)


def read_time(value: Mapping[str, Any] | None, all_day: bool, original_zone: str | None) -> dict[str, str]:
    """Canonical time value of a Graph ``dateTimeTimeZone``."""
    if not value or not value.get("dateTime"):
        raise MalformedItem("event without a start or end time")
    local = _parse_local(str(value["dateTime"]))
    if all_day:
        return {"date": local.date().isoformat()}
    zone = _zone(str(value.get("timeZone") or "UTC"))
    if zone is None:
        raise MalformedItem(f"unknown time zone {value.get('timeZone')!r}")
    moment = local.replace(microsecond=0, tzinfo=ZoneInfo(zone))
    written_in = _zone(original_zone) or zone
    return time_value(moment, written_in)


def graph_zone(iana: str | None) -> str:
    """The timeZone name to write for an IANA zone: its Windows name when that maps back to
    the same zone, else the IANA name (Graph accepts both)."""
    if not iana or iana == "UTC":
        return "UTC"
    windows = iana_to_windows(iana)
    return windows if windows and windows_to_iana(windows) == iana else iana


def write_time(value: Mapping[str, str]) -> dict[str, str]:
    """A Graph ``dateTimeTimeZone`` for a canonical time value."""
    moment = as_moment(value)
    if not isinstance(moment, datetime):
        return {"dateTime": f"{moment.isoformat()}T00:00:00", "timeZone": "UTC"}
    if moment.tzinfo is None:  # floating: Graph has no floating time; written as UTC
        return {"dateTime": moment.isoformat(), "timeZone": "UTC"}
    zone = value.get("tz") or "UTC"
    local = moment.astimezone(ZoneInfo(zone)).replace(tzinfo=None)
    return {"dateTime": local.isoformat(), "timeZone": graph_zone(zone)}


def key_of(value: Mapping[str, Any], all_day: bool) -> str:
    """Occurrence key of an instance's ``originalStart`` (UTC instant) or start (all-day)."""
    if all_day:
        return _parse_local(str(value["dateTime"])).strftime("%Y%m%d")
    zone = _zone(str(value.get("timeZone") or "UTC")) or "UTC"
    moment = _parse_local(str(value["dateTime"])).replace(tzinfo=ZoneInfo(zone))
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


# --- attendees in the body ---------------------------------------------------------------


def attendee_block(attendees: list[Mapping[str, Any]]) -> str:
    lines = [ATTENDEE_MARKER]
    for a in attendees:
        tags = [t for t in (_ROLES.get(str(a.get("role") or ""), a.get("role")),
                            str(a.get("partstat") or "").lower() or None) if t]
        name = f"{a['name']} " if a.get("name") else ""
        lines.append(f"- {name}<{a.get('email', '')}>" + (f" [{', '.join(map(str, tags))}]" if tags else ""))
    return "\n".join(lines)


def split_body(text: str) -> tuple[str, list[dict[str, str]] | None]:
    """(description, attendees from our block or None)."""
    at = text.rfind(ATTENDEE_MARKER)
    if at < 0:
        return text, None
    attendees: list[dict[str, str]] = []
    for line in text[at + len(ATTENDEE_MARKER):].strip().splitlines():
        m = _LINE.match(line.strip())
        if not m:
            return text, None  # edited beyond recognition: keep it as text
        entry = {"email": m.group("email").lower()}
        if m.group("name"):
            entry["name"] = m.group("name")
        tags = [t.strip() for t in (m.group("tags") or "").split(",") if t.strip()]
        if tags:
            entry["role"] = _ROLE_BACK.get(tags[0], tags[0])
        if len(tags) > 1:
            entry["partstat"] = tags[1].upper()
        attendees.append(entry)
    return text[:at].rstrip(), sorted(attendees, key=lambda a: a["email"])


def _text_of(body: Mapping[str, Any] | None) -> str:
    if not body:
        return ""
    content = str(body.get("content") or "")
    if str(body.get("contentType", "text")).lower() == "html":
        content = re.sub(r"(?i)<br\s*/?>|</p>|</div>", "\n", content)
        content = html.unescape(re.sub(r"<[^>]+>", "", content))
        content = "\n".join(line.rstrip() for line in content.replace("\r\n", "\n").split("\n"))
    return content.replace("\r\n", "\n").rstrip()


def _native_attendees(event: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for a in event.get("attendees") or []:
        addr = (a.get("emailAddress") or {})
        if not addr.get("address"):
            continue
        entry = {"email": str(addr["address"]).lower(),
                 "role": _GRAPH_ROLE.get(str(a.get("type")), "REQ-PARTICIPANT"),
                 "partstat": _RESPONSES.get(str((a.get("status") or {}).get("response")), "NEEDS-ACTION")}
        if addr.get("name"):
            entry["name"] = str(addr["name"])
        out.append(entry)
    return sorted(out, key=lambda a: a["email"])


# --- whole events ------------------------------------------------------------------------


def read_fields(event: Mapping[str, Any], stamps: Mapping[str, str]) -> dict[str, Any]:
    """Canonical fields of an event, series master, occurrence or exception (no recurrence:
    see the connector). Raises MalformedItem."""
    all_day = bool(event.get("isAllDay"))
    original = event.get("originalStartTimeZone")
    out: dict[str, Any] = {
        "start": read_time(event.get("start"), all_day, original),
        "end": read_time(event.get("end"), all_day, event.get("originalEndTimeZone") or original),
    }
    if str(event.get("subject") or "").strip():
        out["summary"] = str(event["subject"]).strip()
    description, block = split_body(_text_of(event.get("body")))
    if description:
        out["description"] = description
    location = str((event.get("location") or {}).get("displayName") or "").strip()
    if location:
        out["location"] = location
    show = event.get("showAs")
    if show == "free":
        out["transparency"] = "TRANSPARENT"
    elif show == "tentative":
        out["status"] = "TENTATIVE"
    if event.get("sensitivity") in _SENSITIVITY:
        out["privacy"] = _SENSITIVITY[event["sensitivity"]]
    if event.get("importance") in ("high", "low"):
        out["importance"] = event["importance"]
    categories = sorted({str(c) for c in event.get("categories") or [] if str(c).strip()})
    if categories:
        out["categories"] = categories
    alarms = _alarms(event, stamps)
    if alarms:
        out["alarms"] = alarms
    attendees = _native_attendees(event) or block
    if attendees:
        out["attendees"] = attendees
    if event.get("lastModifiedDateTime"):
        out["last_modified"] = instant_text(_parse_local(str(event["lastModifiedDateTime"]))
                                            .replace(tzinfo=UTC))
    return out


def _alarms(event: Mapping[str, Any], stamps: Mapping[str, str]) -> list[int]:
    if not event.get("isReminderOn"):
        return []
    native = int(event.get("reminderMinutesBeforeStart") or 0)
    try:
        stored = sorted({int(v) for v in json.loads(stamps.get(HUB_ALARMS, "[]"))})
    except (ValueError, TypeError):
        stored = []
    return stored if stored and stored[0] == native else [native]


def write_body(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The writable event properties for canonical fields, every one set (absent fields get
    Graph's default), so a PATCH replaces the whole content. Never ``attendees``."""
    all_day = "date" in fields["start"]
    text = str(fields.get("description") or "")
    if fields.get("attendees"):
        text = (text + "\n\n" if text else "") + attendee_block(list(fields["attendees"]))
    alarms = sorted(fields.get("alarms") or [])
    show = ("tentative" if fields.get("status") == "TENTATIVE" else
            "free" if fields.get("transparency") == "TRANSPARENT" else "busy")
    return {
        "subject": str(fields.get("summary") or ""),
        "body": {"contentType": "text", "content": text},
        "location": {"displayName": str(fields.get("location") or "")},
        "start": write_time(fields["start"]),
        "end": write_time(fields["end"]),
        "isAllDay": all_day,
        "showAs": show,
        "sensitivity": {"PRIVATE": "private", "CONFIDENTIAL": "confidential"}.get(
            str(fields.get("privacy")), "normal"),
        "importance": fields.get("importance") or "normal",
        "categories": sorted(fields.get("categories") or []),
        "isReminderOn": bool(alarms),
        "reminderMinutesBeforeStart": alarms[0] if alarms else 15,
    }


def stamp_properties(hub_item_id: str, uid: str, alarms: list[int], horizon: str) -> list[dict[str, str]]:
    return [{"id": HUB_ID, "value": hub_item_id}, {"id": HUB_UID, "value": uid},
            {"id": HUB_ALARMS, "value": json.dumps(sorted(alarms))},
            {"id": HUB_HORIZON, "value": horizon}]


def occurrence_start(key: str, master_start: Mapping[str, str]) -> dict[str, str]:
    """The canonical start of the occurrence ``key`` of a series starting at ``master_start``."""
    if "T" not in key:
        return {"date": datetime.strptime(key, "%Y%m%d").date().isoformat()}
    moment = datetime.strptime(key, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    return time_value(moment, master_start.get("tz"))


def duration(fields: Mapping[str, Any]) -> timedelta:
    start, end = as_moment(fields["start"]), as_moment(fields["end"])
    if isinstance(start, datetime) and isinstance(end, datetime):
        return end - start
    if isinstance(start, datetime) or isinstance(end, datetime):
        raise MalformedItem("start and end must both be dates or both be times")
    return end - start
