"""Canonical sample items the contract suite round-trips through every spoke kind.

Values are in the canonical forms of :mod:`cirahub.core.item` (already normalized), so a
connector that carries a field must give it back *equal*, not merely similar.
"""

from __future__ import annotations

from cirahub.core.item import Item


def _utc(stamp: str, tz: str = "Europe/Berlin") -> dict[str, str]:
    return {"utc": stamp, "tz": tz}


def timed_berlin(uid: str = "contract-timed@cirahub.test") -> Item:
    """A single timed event written in Europe/Berlin (09:00 to 10:30 local in winter)."""
    return Item(uid, {
        "summary": "Planning meeting",
        "location": "Room 4.12",
        "start": _utc("2026-03-02T08:00:00Z"),
        "end": _utc("2026-03-02T09:30:00Z"),
    })


def all_day(uid: str = "contract-allday@cirahub.test") -> Item:
    """A two-day all-day event: dates stay dates."""
    return Item(uid, {
        "summary": "Company offsite",
        "start": {"date": "2026-03-05"},
        "end": {"date": "2026-03-07"},
        "transparency": "TRANSPARENT",
    })


def weekly_series(uid: str = "contract-series@cirahub.test") -> Item:
    """A weekly Monday series with one EXDATE and one overridden (moved, renamed) occurrence;
    it spans the 2026-03-29 DST change, so the zone matters."""
    return Item(
        uid,
        {
            "summary": "Team standup",
            "start": _utc("2026-03-02T08:00:00Z"),
            "end": _utc("2026-03-02T08:15:00Z"),
            "rrule": "FREQ=WEEKLY;COUNT=8;BYDAY=MO",
            "exdates": ["20260309T080000Z"],
        },
        {
            "20260316T080000Z": {
                "summary": "Team standup (moved)",
                "start": _utc("2026-03-16T09:00:00Z"),
                "end": _utc("2026-03-16T09:15:00Z"),
            },
        },
    )


def with_attendees(uid: str = "contract-meeting@cirahub.test") -> Item:
    """A meeting with an organizer and two attendees."""
    return Item(uid, {
        "summary": "Budget review",
        "start": _utc("2026-04-14T12:00:00Z"),
        "end": _utc("2026-04-14T13:00:00Z"),
        "organizer": "alice@example.org",
        "attendees": [
            {"email": "bob@example.org", "name": "Bob Builder",
             "role": "REQ-PARTICIPANT", "partstat": "ACCEPTED"},
            {"email": "carol@example.org", "name": "Carol",
             "role": "OPT-PARTICIPANT", "partstat": "TENTATIVE"},
        ],
    })


def with_alarms(uid: str = "contract-alarms@cirahub.test") -> Item:
    """An event with two display reminders and a few non-default flags."""
    return Item(uid, {
        "summary": "Dentist",
        "start": _utc("2026-05-20T07:30:00Z"),
        "end": _utc("2026-05-20T08:00:00Z"),
        "alarms": [15, 1440],
        "status": "TENTATIVE",
        "privacy": "PRIVATE",
        "importance": "high",
    })


def unicode_rich(uid: str = "contract-unicode-äöü@cirahub.test") -> Item:
    """Non-ASCII everywhere (and a long line that iCalendar folds mid-character)."""
    return Item(uid, {
        "summary": "Café ☕ 会议 — Zürich",
        "description": "Zeile 1\nZeile 2 ✓ " + "ünïcödé " * 12 + "\nEnde",
        "location": "Straße 5, Köln",
        "categories": ["Büro", "Ärger"],
        "start": _utc("2026-06-01T10:00:00Z"),
        "end": _utc("2026-06-01T11:00:00Z"),
        "url": "https://example.org/événement",
    })


def simple(uid: str, summary: str = "Simple event", day: int = 10) -> Item:
    """A minimal timed event (for tests that need many distinct items)."""
    return Item(uid, {
        "summary": summary,
        "start": {"utc": f"2026-07-{day:02d}T09:00:00Z"},  # UTC instants carry no tz
        "end": {"utc": f"2026-07-{day:02d}T10:00:00Z"},
    })


#: name → factory, for parametrized round-trip tests
ROUND_TRIP = {
    "timed-berlin": timed_berlin,
    "all-day": all_day,
    "weekly-series": weekly_series,
    "attendees": with_attendees,
    "alarms": with_alarms,
    "unicode": unicode_rich,
}
