"""Sample calendars for ``cirahubctl demo``: realistic events relative to today.

- Alice: a weekly team meeting series (Mondays 10:00 Europe/Berlin, ten weeks) with one
  occurrence moved (an overridden instance) and one cancelled (EXDATE), and a private
  doctor's appointment;
- Bob: a two-day all-day offsite (dates, not midnights);
- Room: a quarterly review with a location and a description.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

TZ = "Europe/Berlin"
OFFSITE_UID = "offsite-2f1c@demo.cirahub"
SERIES_UID = "team-weekly-7a3e@demo.cirahub"


def _cal(body: str) -> str:
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//cirahub//demo//EN", body.strip(),
             "END:VCALENDAR"]
    return "\r\n".join("\r\n".join(lines).splitlines()) + "\r\n"


def _local(d: date, hour: int, minute: int = 0) -> str:
    return datetime(d.year, d.month, d.day, hour, minute).strftime("%Y%m%dT%H%M%S")


def _stamp(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%SZ")


def next_monday(today: date) -> date:
    return today + timedelta(days=(7 - today.weekday()) % 7 or 7)


def samples(today: date, now: datetime) -> dict[str, dict[str, str]]:
    """folder name → {file name: iCalendar text}."""
    monday = next_monday(today)
    moved = monday + timedelta(weeks=2)
    cancelled = monday + timedelta(weeks=4)
    offsite = monday + timedelta(days=17)
    review = monday + timedelta(days=9)
    stamp = _stamp(now)
    series = _cal(f"""
BEGIN:VEVENT
UID:{SERIES_UID}
DTSTAMP:{stamp}
LAST-MODIFIED:{stamp}
DTSTART;TZID={TZ}:{_local(monday, 10)}
DTEND;TZID={TZ}:{_local(monday, 10, 45)}
RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10
EXDATE;TZID={TZ}:{_local(cancelled, 10)}
SUMMARY:Team meeting
LOCATION:Room 4.12
DESCRIPTION:Weekly sync: status\\, blockers\\, next steps.
CATEGORIES:Team
END:VEVENT
BEGIN:VEVENT
UID:{SERIES_UID}
DTSTAMP:{stamp}
LAST-MODIFIED:{stamp}
RECURRENCE-ID;TZID={TZ}:{_local(moved, 10)}
DTSTART;TZID={TZ}:{_local(moved, 14)}
DTEND;TZID={TZ}:{_local(moved, 14, 45)}
SUMMARY:Team meeting (moved to the afternoon)
LOCATION:Room 4.12
END:VEVENT
""")
    doctor = _cal(f"""
BEGIN:VEVENT
UID:dentist-91b0@demo.cirahub
DTSTAMP:{stamp}
LAST-MODIFIED:{stamp}
DTSTART;TZID={TZ}:{_local(monday + timedelta(days=3), 8, 30)}
DTEND;TZID={TZ}:{_local(monday + timedelta(days=3), 9, 15)}
SUMMARY:Dentist
CLASS:PRIVATE
END:VEVENT
""")
    offsite_ics = _cal(f"""
BEGIN:VEVENT
UID:{OFFSITE_UID}
DTSTAMP:{stamp}
LAST-MODIFIED:{stamp}
DTSTART;VALUE=DATE:{offsite.strftime('%Y%m%d')}
DTEND;VALUE=DATE:{(offsite + timedelta(days=2)).strftime('%Y%m%d')}
SUMMARY:Team offsite
LOCATION:Lakeside Lodge
TRANSP:TRANSPARENT
END:VEVENT
""")
    review_ics = _cal(f"""
BEGIN:VEVENT
UID:q-review-55d2@demo.cirahub
DTSTAMP:{stamp}
LAST-MODIFIED:{stamp}
DTSTART;TZID={TZ}:{_local(review, 13)}
DTEND;TZID={TZ}:{_local(review, 15)}
SUMMARY:Quarterly review
LOCATION:Board room
DESCRIPTION:Numbers\\, roadmap and hiring.
END:VEVENT
""")
    return {
        "alice": {"team-weekly.ics": series, "dentist.ics": doctor},
        "bob": {"offsite.ics": offsite_ics},
        "room": {"quarterly-review.ics": review_ics},
    }


def edited_offsite(text: str, now: datetime, location: str) -> str:
    """The offsite moved to another venue, as a calendar app would save it."""
    out = []
    for line in text.splitlines():
        if line.startswith("LOCATION:"):
            line = f"LOCATION:{location}"
        elif line.startswith(("LAST-MODIFIED:", "DTSTAMP:")):
            line = f"{line.split(':', 1)[0]}:{_stamp(now)}"
        out.append(line)
    return "\r\n".join(out) + "\r\n"
