"""EWS CalendarItem (exchangelib) ↔ canonical :class:`~cirahub.core.item.Item`.

Decisions (the fields an EWS spoke cannot carry are in :data:`UNSUPPORTED`):

- body: HTML is turned into text for ``description``; the hub always writes text.
- times: instants keep their zone (Windows ids mapped to IANA); the Windows ↔ IANA mapping is
  lossy (Europe/Copenhagen comes back as Europe/Paris), so the IANA name the hub wrote is kept
  in the ``HubExtra`` sidecar property and used on read while it maps to the same Windows
  zone. All-day items are dates both ways, never UTC midnights.
- free/busy: Free ↔ ``transparency: TRANSPARENT``, Tentative ↔ ``status: TENTATIVE`` (one
  value in EWS: an item both tentative and transparent is written Tentative).
- sensitivity Private/Confidential ↔ ``privacy``; Personal reads as not private.
- what Exchange cannot hold (one reminder, limits on lengths, ranges and dates, no
  THISANDFUTURE...) is written as :func:`.projection.project` says, and the hub's values
  behind it are kept in the sidecar and given back on read while nobody edits them
  (:mod:`.sidecar`); items written by older versions keep their ``alarms`` sidecar entry.
- ``url`` lives only in the sidecar; a foreign ``organizer`` cannot be carried; RDATEs (and
  other occurrences no Exchange pattern expresses) are written as explicit occurrences of a
  daily series (:mod:`.explicit`), the hub's RDATEs kept in the sidecar.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from exchangelib import EWSDateTime, EWSTimeZone, ExtendedProperty
from exchangelib.items import CalendarItem
from exchangelib.properties import Attendee, Body, HTMLBody, Mailbox

from cirahub.core.ical_values import as_moment, compact_key, instant_text, time_value
from cirahub.core.item import Item
from cirahub.core.timezones import iana_to_windows

from . import recurrence, sidecar, zones

#: canonical fields an EWS spoke cannot carry (the fingerprint ignores them); a series' further
#: RRULEs are written as its occurrences (:mod:`.explicit`)
UNSUPPORTED: frozenset[str] = frozenset({"organizer"})
#: one fixed property set (named properties are a per-mailbox quota)
PROPERTY_SET = "c11ff724-aa03-4555-9952-8fa248a11c3e"


class HubId(ExtendedProperty):
    """The hub item id stamped on every item the hub writes."""

    property_set_id = PROPERTY_SET
    property_name = "HubEventId"
    property_type = "String"


class HubExtra(ExtendedProperty):
    """JSON sidecar with what EWS cannot hold natively (IANA zone, all alarms, url)."""

    property_set_id = PROPERTY_SET
    property_name = "HubExtra"
    property_type = "String"


def register_properties() -> None:
    """Register the extended properties on CalendarItem once per process."""
    names = {f.name for f in CalendarItem.FIELDS}
    if "hub_id" not in names:
        CalendarItem.register("hub_id", HubId)
    if "hub_extra" not in names:
        CalendarItem.register("hub_extra", HubExtra)


#: exchangelib field names read for an item (never the 79-field default)
READ_FIELDS = (
    "subject", "body", "location", "start", "end", "is_all_day", "legacy_free_busy_status",
    "sensitivity", "categories", "importance", "reminder_is_set", "reminder_minutes_before_start",
    "recurrence", "modified_occurrences", "deleted_occurrences", "organizer", "required_attendees",
    "optional_attendees", "uid", "last_modified_time", "_start_timezone", "_end_timezone",
    "type", "original_start", "hub_id", "hub_extra",
)
_RESPONSES = {"Accept": "ACCEPTED", "Decline": "DECLINED", "Tentative": "TENTATIVE"}
_RESPONSES_BACK = {v: k for k, v in _RESPONSES.items()}


def html_to_text(text: str) -> str:
    """Plain text of an HTML body: block ends become newlines, tags go, entities decode."""
    text = re.sub(r"(?is)<(script|style|head)\b.*?</\1>", "", text)
    text = re.sub(r"(?i)<br\s*/?>", "\n", text)
    text = re.sub(r"(?i)</(p|div|li|tr|h[1-6])\s*>", "\n", text)
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("\xa0", " ")
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _extra(ci: CalendarItem) -> dict[str, Any]:
    try:
        value = json.loads(getattr(ci, "hub_extra", None) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _zone_name(tz: Any, extra: Mapping[str, Any]) -> str | None:
    if tz is None:
        return None
    wanted = extra.get("tz")
    if wanted and getattr(tz, "ms_id", None) in (iana_to_windows(wanted), zones.windows_of(str(wanted))):
        return str(wanted)
    key = getattr(tz, "key", None)
    if key in ("Etc/UTC", "Etc/GMT", "GMT", "UCT", "Etc/UCT", "Zulu"):
        return "UTC"  # time_value drops "UTC": an instant with no zone
    return key


def plain(value: Any) -> Any:
    """A stdlib datetime/date for an exchangelib EWSDateTime/EWSDate (whose astimezone only
    accepts EWSTimeZone)."""
    if isinstance(value, datetime):
        return datetime.fromisoformat(value.isoformat())
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    return value


def _time(value: Any, tz: str | None) -> dict[str, str]:
    value = plain(value)
    if isinstance(value, datetime):
        return time_value(value, tz)
    return time_value(value, None)


def read_fields(ci: CalendarItem, extra: Mapping[str, Any]) -> dict[str, Any]:
    """Canonical fields of one EWS calendar item (a master, single or exception)."""
    f: dict[str, Any] = {}
    if ci.subject and ci.subject.strip():
        f["summary"] = ci.subject.strip()
    if ci.body:
        text = html_to_text(ci.body) if isinstance(ci.body, HTMLBody) else str(ci.body)
        text = text.replace("\r\n", "\n").rstrip()
        if text:
            f["description"] = text
    if ci.location and ci.location.strip():
        f["location"] = ci.location.strip()
    tz = _zone_name(ci._start_timezone, extra)
    if ci.start is not None:
        f["start"] = _time(ci.start, tz)
    if ci.end is not None:
        end = ci.end
        if not isinstance(end, datetime) and isinstance(end, date):
            # exchangelib's all-day end is the last day (inclusive); ours is exclusive (DTEND)
            end = plain(end) + timedelta(days=1)
        f["end"] = _time(end, _zone_name(ci._end_timezone, extra) or tz)
    if ci.legacy_free_busy_status == "Tentative":
        f["status"] = "TENTATIVE"
    elif ci.legacy_free_busy_status == "Free":
        f["transparency"] = "TRANSPARENT"
    if ci.sensitivity in ("Private", "Confidential"):
        f["privacy"] = ci.sensitivity.upper()
    if ci.categories:
        f["categories"] = sorted({c for c in ci.categories if c})
    if ci.importance in ("High", "Low"):
        f["importance"] = ci.importance.lower()
    if ci.reminder_is_set:
        minutes = int(ci.reminder_minutes_before_start or 0)
        alarms = extra.get("alarms")
        f["alarms"] = sorted(alarms) if alarms and min(alarms) == minutes else [minutes]
    attendees = _attendees(ci)
    if attendees:
        f["attendees"] = attendees
    if ci.organizer is not None and ci.organizer.email_address:
        f["organizer"] = ci.organizer.email_address.lower()
    if extra.get("url"):
        f["url"] = str(extra["url"])
    if ci.last_modified_time is not None:
        f["last_modified"] = instant_text(plain(ci.last_modified_time))
    return f


def _attendees(ci: CalendarItem) -> list[dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for role, group in (("REQ-PARTICIPANT", ci.required_attendees), ("OPT-PARTICIPANT", ci.optional_attendees)):
        for att in group or []:
            email = (att.mailbox.email_address or "").strip().lower() if att.mailbox else ""
            if not email or email in found:
                continue
            entry = {"email": email, "role": role,
                     "partstat": _RESPONSES.get(att.response_type or "", "NEEDS-ACTION")}
            if att.mailbox.name and att.mailbox.name.strip():
                entry["name"] = att.mailbox.name.strip()
            found[email] = entry
    return [found[k] for k in sorted(found)]


def to_item(ci: CalendarItem, exceptions: Mapping[str, CalendarItem] | None = None, *,
            restore: bool = True) -> Item:
    """The canonical item of a single item or series master, with its modified occurrences
    (``exceptions``: exception item id → fetched exception) as overrides and deleted
    occurrences as exdates. With ``restore``, values the hub wrote through a projection and
    nobody changed since are given as the hub's values (:mod:`.sidecar`); without, as
    Exchange holds them."""
    extra = _extra(ci)
    fields = read_fields(ci, extra)
    uid = ci.uid or ci.id
    overrides: dict[str, dict[str, Any]] = {}
    if ci.recurrence is not None and "start" in fields:
        fields["rrule"] = recurrence.to_rrule(ci.recurrence, fields["start"], uid)
        zone = ci._start_timezone
        keys = [occurrence_key(d.start, fields["start"], zone) for d in ci.deleted_occurrences or []]
        if keys:
            fields["exdates"] = sorted(set(keys))
        for occ in ci.modified_occurrences or []:
            exc = (exceptions or {}).get(occ.id)
            if exc is None:
                continue
            ov = read_fields(exc, {k: v for k, v in extra.items() if k == "tz"})
            ov.pop("organizer", None)
            overrides[occurrence_key(occ.original_start, fields["start"], zone)] = ov
    if restore:
        fields, overrides = sidecar.restore(fields, overrides, extra)
    return Item(uid, fields, overrides)


def occurrence_key(original: datetime, series_start: Mapping[str, str], series_zone: Any = None) -> str:
    """Occurrence key of an original start (a date for all-day series: the day in the zone
    the series is kept in, ``series_zone`` — Exchange keeps all-day midnights there)."""
    if "date" in series_start:
        if series_zone is not None:
            return plain(original).astimezone(series_zone).strftime("%Y%m%d")
        zone = as_moment({"utc": "2000-01-01T00:00:00Z", **({"tz": series_start["tz"]} if "tz" in series_start else {})})
        tzinfo = zone.tzinfo if isinstance(zone, datetime) else None
        return plain(original).astimezone(tzinfo).strftime("%Y%m%d")
    return compact_key(time_value(plain(original), None))


# --- writing -----------------------------------------------------------------------------------


def ews_zone(name: str | None, default: EWSTimeZone) -> EWSTimeZone:
    """The exchangelib zone for ``name`` (IANA, Windows or vendor-prefixed, mapped through the
    CLDR table), ``default`` when there is none. The projection refuses a series whose zone
    has none, so only single items (whose instant is what counts) fall back."""
    return zones.ews_timezone(name) or default


def _moment(value: Mapping[str, str], default_tz: EWSTimeZone) -> date | EWSDateTime:
    moment = as_moment(value)
    if not isinstance(moment, datetime):
        return moment
    tz = ews_zone(value.get("tz"), default_tz) if moment.tzinfo is not None else default_tz
    if moment.tzinfo is None:  # floating: read in the spoke's zone
        return EWSDateTime.from_datetime(moment.replace(tzinfo=tz))
    # by way of UTC: the moment's own zone may be one exchangelib cannot name (posix/...)
    return EWSDateTime.from_datetime(moment.astimezone(UTC)).astimezone(tz)


def write_values(fields: Mapping[str, Any], default_tz: EWSTimeZone, *, attendees: bool,
                 kept: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """exchangelib field values for canonical ``fields`` — already projected onto what
    Exchange can hold (:func:`.projection.project`) — with every writable field (None =
    clear); ``kept`` are the sidecar entries of the hub's values behind that projection."""
    status, transp = fields.get("status"), fields.get("transparency")
    alarms = sorted(fields.get("alarms") or [])
    extra = {k: v for k, v in (("tz", (fields.get("start") or {}).get("tz")),
                               ("url", fields.get("url")), (sidecar.KEY, kept)) if v}
    start, end = fields.get("start") or {}, fields.get("end") or fields.get("start") or {}
    if "utc" in start and not start.get("tz"):
        default_tz = EWSTimeZone("UTC")  # an instant in UTC stays in UTC (a series repeats there)
    out: dict[str, Any] = {
        "subject": fields.get("summary"),
        "body": Body(fields["description"]) if fields.get("description") else None,
        "location": fields.get("location"),
        "is_all_day": "date" in start,
        "start": _moment(start, default_tz) if start else None,
        "end": _moment(end, default_tz) if end else None,
        "legacy_free_busy_status": "Tentative" if status == "TENTATIVE" else "Free" if transp == "TRANSPARENT" else "Busy",
        "sensitivity": {"PRIVATE": "Private", "CONFIDENTIAL": "Confidential"}.get(fields.get("privacy") or "", "Normal"),
        "categories": list(fields["categories"]) if fields.get("categories") else None,
        "importance": {"high": "High", "low": "Low"}.get(fields.get("importance") or "", "Normal"),
        "reminder_is_set": bool(alarms),
        "reminder_minutes_before_start": alarms[0] if alarms else 0,
        "hub_extra": json.dumps(extra, sort_keys=True) if extra else None,
    }
    if out["is_all_day"] and isinstance(out["start"], date) and isinstance(out["end"], date):
        # exchangelib takes the last day (inclusive) and writes midnights in the item's zone;
        # keep them in the spoke's zone, not the host's
        out["end"] = max(out["start"], out["end"] - timedelta(days=1))
        out["_start_timezone"] = out["_end_timezone"] = default_tz
    if attendees:
        req: list[Attendee] = []
        opt: list[Attendee] = []
        for a in fields.get("attendees") or []:
            att = Attendee(mailbox=Mailbox(email_address=a["email"], name=a.get("name")),
                           response_type=_RESPONSES_BACK.get(a.get("partstat", ""), "Unknown"))
            (opt if a.get("role") == "OPT-PARTICIPANT" else req).append(att)
        out["required_attendees"], out["optional_attendees"] = req or None, opt or None
    return out


#: canonical field → exchangelib fields it is written through
FIELD_MAP: dict[str, tuple[str, ...]] = {
    "summary": ("subject",), "description": ("body",), "location": ("location",),
    "start": ("start", "end", "is_all_day"), "end": ("start", "end", "is_all_day"),
    "status": ("legacy_free_busy_status",), "transparency": ("legacy_free_busy_status",),
    "privacy": ("sensitivity",), "categories": ("categories",), "importance": ("importance",),
    "alarms": ("reminder_is_set", "reminder_minutes_before_start", "hub_extra"),
    "url": ("hub_extra",), "attendees": ("required_attendees", "optional_attendees"),
    "rrule": ("recurrence",),
}


def changed_fields(current: Mapping[str, Any], wanted: Mapping[str, Any], *, attendees: bool) -> list[str]:
    """exchangelib field names to send so ``current`` becomes ``wanted`` (canonical fields)."""
    out: list[str] = []
    for name, targets in FIELD_MAP.items():
        if name == "attendees" and not attendees:
            continue
        if current.get(name) != wanted.get(name) or (
            name == "start" and (current.get(name) or {}).get("tz") != (wanted.get(name) or {}).get("tz")
        ):
            out.extend(t for t in targets if t not in out)
    if "start" in out and "hub_extra" not in out:
        out.append("hub_extra")
    if "start" in out and wanted.get("rrule") and "recurrence" not in out:
        out.append("recurrence")  # a moved series start re-states its pattern
    return out
