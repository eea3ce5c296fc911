"""Direct edits "as a person in Outlook would": create, change and delete items in the
emulator's folders without going through EWS (so they never show up in the request log).

Times are aware datetimes; ``tz`` is a Windows time zone id (what Outlook stores).
``recurrence`` is a dict: ``{"pattern": "Weekly", "interval": 1, "days": "Monday Wednesday",
"day_of_month": 3, "month": "May", "index": "First", "count": 10 | "until": date}``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from lxml import etree

from .state import State, StoredItem
from .xmlio import T, fmt_dt, sub, t


def _el(name: str, text: str | None = None, **attrs: str) -> etree._Element:
    el = etree.Element(t(name), attrs)
    el.text = text
    return el


def _recurrence(spec: dict[str, Any], first_day: date) -> etree._Element:
    rec = _el("Recurrence")
    pattern = sub(rec, t(f"{spec['pattern']}Recurrence"))
    if not spec["pattern"].endswith("Yearly"):
        sub(pattern, t("Interval"), str(spec.get("interval", 1)))
    if "days" in spec:
        sub(pattern, t("DaysOfWeek"), spec["days"])
    if "index" in spec:
        sub(pattern, t("DayOfWeekIndex"), spec["index"])
    if "day_of_month" in spec:
        sub(pattern, t("DayOfMonth"), str(spec["day_of_month"]))
    if "month" in spec:
        sub(pattern, t("Month"), spec["month"])
    if "count" in spec:
        rng = sub(rec, t("NumberedRecurrence"))
        sub(rng, t("StartDate"), first_day.isoformat())
        sub(rng, t("NumberOfOccurrences"), str(spec["count"]))
    elif "until" in spec:
        rng = sub(rec, t("EndDateRecurrence"))
        sub(rng, t("StartDate"), first_day.isoformat())
        sub(rng, t("EndDate"), spec["until"].isoformat())
    else:
        sub(sub(rec, t("NoEndRecurrence")), t("StartDate"), first_day.isoformat())
    return rec


def props_from(fields: dict[str, Any], tz: str | None = None) -> dict[str, etree._Element]:
    """Property elements for the keyword fields of :meth:`User.create`."""
    out: dict[str, etree._Element] = {}
    simple = {"subject": "Subject", "location": "Location", "sensitivity": "Sensitivity",
              "free_busy": "LegacyFreeBusyStatus", "importance": "Importance", "uid": "UID"}
    for key, name in simple.items():
        if fields.get(key) is not None:
            out[name] = _el(name, str(fields[key]))
    if fields.get("body") is not None:
        out["Body"] = _el("Body", fields["body"], BodyType=fields.get("body_type", "Text"))
    if fields.get("categories") is not None:
        out["Categories"] = cats = _el("Categories")
        for c in fields["categories"]:
            sub(cats, t("String"), c)
    if "reminder" in fields:
        out["ReminderIsSet"] = _el("ReminderIsSet", "true" if fields["reminder"] is not None else "false")
        out["ReminderMinutesBeforeStart"] = _el("ReminderMinutesBeforeStart", str(fields["reminder"] or 0))
    if fields.get("start") is not None:
        start, end = fields["start"], fields["end"]
        if isinstance(start, date) and not isinstance(start, datetime):
            from .recurrence import zone
            z = zone(tz)
            start = datetime.combine(start, datetime.min.time(), z)
            end = datetime.combine(end, datetime.min.time(), z)
            out["IsAllDayEvent"] = _el("IsAllDayEvent", "true")
        elif "all_day" not in fields:
            out["IsAllDayEvent"] = _el("IsAllDayEvent", "false")
        out["Start"], out["End"] = _el("Start", fmt_dt(start)), _el("End", fmt_dt(end))
    if tz is not None:
        out["StartTimeZone"], out["EndTimeZone"] = _el("StartTimeZone", Id=tz), _el("EndTimeZone", Id=tz)
    for key, name in (("required", "RequiredAttendees"), ("optional", "OptionalAttendees")):
        if fields.get(key):
            out[name] = group = _el(name)
            for address in fields[key]:
                att = sub(group, t("Attendee"))
                mbx = sub(att, t("Mailbox"))
                sub(mbx, t("EmailAddress"), address)
                sub(att, t("ResponseType"), "Unknown")
    return out


class User:
    """Outlook-like edits on the emulator's state (thread-safe)."""

    def __init__(self, state: State, address: str = "someone@example.com") -> None:
        self.state = state
        self.address = address

    def create(self, folder_id: str, *, tz: str | None = "UTC", tz_rules: str | None = None,
               recurrence: dict[str, Any] | None = None, **fields: Any) -> str:
        """Create an item; returns its id. ``start``/``end`` as dates make an all-day event.
        ``tz_rules``: the zone's own rules as Outlook sends them for a zone the registry does
        not name (``t:Periods``, ``t:TransitionsGroups``, ``t:Transitions`` elements, XML in
        the types namespace), kept inside StartTimeZone/EndTimeZone."""
        with self.state.lock:
            props = props_from(fields, tz)
            if tz_rules is not None:
                for name in ("StartTimeZone", "EndTimeZone"):
                    holder = etree.fromstring(f"<x xmlns=\"{T}\">{tz_rules}</x>")
                    props[name].extend(list(holder))
            if recurrence is not None:
                start = fields["start"]
                first = start.date() if isinstance(start, datetime) else start
                if isinstance(start, datetime) and tz:
                    from .recurrence import ZoneId, rules_zone, zone
                    zid = ZoneId(tz)
                    zid.rules = rules_zone(props["StartTimeZone"]) if tz_rules else None
                    first = start.astimezone(zone(zid)).date()
                props["Recurrence"] = _recurrence(recurrence, first)
            item = self.state.create(self.state.folder(folder_id), props, {}, self.address)
            return item.id

    def update(self, item_id: str, *, tz: str | None = None,
               recurrence: dict[str, Any] | None = None, **fields: Any) -> str:
        """Change fields (None removes one); returns the new ChangeKey."""
        with self.state.lock:
            item = self.state.item(item_id)
            for key in [k for k, v in fields.items() if v is None]:
                for name in _names(key):
                    item.props.pop(name, None)
            item.props.update(props_from({k: v for k, v in fields.items() if v is not None}, tz))
            if recurrence is not None:
                start = item.dt("Start")
                assert start is not None
                item.props["Recurrence"] = _recurrence(recurrence, start.date())
            self.state.touch(item)
            return item.change_key

    def delete(self, item_id: str) -> None:
        with self.state.lock:
            self.state.delete(self.state.item(item_id))

    def modify_occurrence(self, master_id: str, original_start: datetime, **fields: Any) -> str:
        """Edit one occurrence (by its original UTC start); returns the exception's id."""
        with self.state.lock:
            master = self.state.item(master_id)
            exc = self.state.materialize(master, original_start.astimezone(UTC))
            exc.props.update(props_from(fields))
            self.state.touch(exc)
            return exc.id

    def delete_occurrence(self, master_id: str, original_start: datetime) -> None:
        with self.state.lock:
            master = self.state.item(master_id)
            original = original_start.astimezone(UTC)
            if original in master.exceptions:
                self.state.delete(self.state.items[master.exceptions[original]])
            else:
                master.deleted_occurrences.add(original)
                self.state.touch(master)

    def touch(self, item_id: str) -> str:
        """A save without content change: new ChangeKey and LastModifiedTime."""
        with self.state.lock:
            item = self.state.item(item_id)
            self.state.touch(item)
            return item.change_key

    def items(self, folder_id: str) -> list[dict[str, Any]]:
        """Summaries of a folder's singles and masters."""
        with self.state.lock:
            return [summary(i) for i in self.state.folder_items(folder_id)]

    def get(self, item_id: str) -> dict[str, Any]:
        with self.state.lock:
            return summary(self.state.item(item_id))

    def find(self, folder_id: str, subject: str) -> list[dict[str, Any]]:
        return [i for i in self.items(folder_id) if i.get("subject") == subject]


def _names(key: str) -> Iterable[str]:
    return {"subject": ["Subject"], "location": ["Location"], "body": ["Body"],
            "categories": ["Categories"], "sensitivity": ["Sensitivity"],
            "free_busy": ["LegacyFreeBusyStatus"], "importance": ["Importance"],
            "reminder": ["ReminderIsSet", "ReminderMinutesBeforeStart"]}.get(key, [])


def summary(item: StoredItem) -> dict[str, Any]:
    """A plain-dict view of a stored item, for assertions."""
    cats = item.props.get("Categories")
    body = item.props.get("Body")
    return {
        "id": item.id, "change_key": item.change_key, "subject": item.text("Subject"),
        "start": item.dt("Start"), "end": item.dt("End"), "uid": item.text("UID"),
        "location": item.text("Location"), "all_day": item.text("IsAllDayEvent") == "true",
        "sensitivity": item.text("Sensitivity"), "free_busy": item.text("LegacyFreeBusyStatus"),
        "categories": [c.text for c in cats] if cats is not None else [],
        "body": None if body is None else body.text, "kind": item.kind,
        "exceptions": sorted(item.exceptions),
        "deleted_occurrences": sorted(item.deleted_occurrences),
        "attendees": [a.findtext(f".//{t('EmailAddress')}") for n in ("RequiredAttendees", "OptionalAttendees")
                      if n in item.props for a in item.props[n]],
        "ext": {dict(k).get("PropertyName", str(k)): v.findtext(t("Value")) for k, v in item.ext.items()},
        "modified": item.modified,
    }
