"""iCalendar texts whose meaning lies partly in what fingerprint version 1 did not see:
STATUS:CONFIRMED (held as no status), LANGUAGE / ALTREP parameters of the texts, an
unmodelled STATUS value; beside them texts version 1 did see whole (X- properties, an
attendee's RSVP). Used by the fingerprint-version tests and the upgrade tests."""

from __future__ import annotations


def calendar(*events: str) -> str:
    body = "".join(f"BEGIN:VEVENT\r\n{e}END:VEVENT\r\n" for e in events)
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Google Inc//Google Calendar 70.9054"
            f"//EN\r\n{body}END:VCALENDAR\r\n")


def event(uid: str, summary: str = "Standup", *extra: str, day: int = 7) -> str:
    lines = [f"UID:{uid}", "DTSTAMP:20261101T000000Z", f"DTSTART:202612{day:02d}T090000Z",
             f"DTEND:202612{day:02d}T093000Z", f"SUMMARY:{summary}", *extra]
    return "".join(line + "\r\n" for line in lines)


GOOGLE = calendar(event("g1@google.com", "Standup", "STATUS:CONFIRMED", "TRANSP:OPAQUE",
                        "SEQUENCE:0", "CREATED:20261101T000000Z"))
PLAIN = calendar(event("p1@example.com", "Plain"))
TENTATIVE = calendar(event("t1@example.com", "Maybe", "STATUS:TENTATIVE"))
LANGUAGE = calendar(
    "UID:l1@example.com\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261208T100000Z\r\n"
    "DTEND:20261208T110000Z\r\nSUMMARY;LANGUAGE=de:Besprechung\r\n"
    "LOCATION;LANGUAGE=de:Raum 4\r\n"
    'DESCRIPTION;ALTREP="http://example.com/agenda.html":Agenda\r\n')
ODD_STATUS = calendar(event("o1@example.com", "Odd", "STATUS:X-PENDING"))
PARTIES = calendar(event(
    "a1@example.com", "Review", "X-MOZ-GENERATION:3", "ORGANIZER;CN=Ann:mailto:ann@example.com",
    "ATTENDEE;RSVP=TRUE;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com", "STATUS:CONFIRMED"))
SERIES = calendar(
    "UID:s1@example.com\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:20261201T090000\r\nDTEND;TZID=Europe/Berlin:20261201T100000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=10\r\nSUMMARY;LANGUAGE=en:Weekly\r\nSTATUS:CONFIRMED\r\n",
    "UID:s1@example.com\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID;TZID=Europe/Berlin:20261208T090000\r\n"
    "DTSTART;TZID=Europe/Berlin:20261208T110000\r\nDTEND;TZID=Europe/Berlin:20261208T120000\r\n"
    "SUMMARY;LANGUAGE=en:Weekly (moved)\r\nSTATUS:CONFIRMED\r\n")

SAMPLES = {"google": GOOGLE, "plain": PLAIN, "tentative": TENTATIVE, "language": LANGUAGE,
           "odd_status": ODD_STATUS, "parties": PARTIES, "series": SERIES}
