"""Generated calendars for the side-by-side benchmarks, the edits a user makes, and the check
that a folder (or CalDAV collection) holds exactly the expected content.

Events look like what calendar programs write: a VTIMEZONE (Europe/Berlin) and a VEVENT with
TZID'd times, a description, location, categories, a VALARM, X- properties, every tenth one
weekly recurring with an exception date, every fifth with an organizer and attendees.

Verification is per item and per property: a file whose bytes equal the expected text holds
every property by definition; any other file is parsed (icalendar) and each component's
properties (name, parameters, value) and subcomponents are compared with the expected ones,
DTSTAMP excepted (a writer stamps the write time there, RFC 5545 §3.8.7.2). Items are matched
by UID; a missing, extra, or different item fails the check with the first difference named.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from icalendar import Calendar, Component

VTIMEZONE = (
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\n"
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"
    "END:VTIMEZONE\r\n"
)


def event_text(uid: str, i: int, summary: str | None = None, modified: str = "20261101T080000Z") -> str:
    """One VCALENDAR file for event number ``i``."""
    day, hour = 1 + i % 28, 8 + i % 9
    month = 1 + (i // 28) % 12
    lines = [
        "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//cirahub bench//generated//EN",
    ]
    body = [
        "BEGIN:VEVENT",
        f"UID:{uid}",
        "DTSTAMP:20261101T080000Z",
        f"CREATED:20261001T0{i % 10}0000Z",
        f"LAST-MODIFIED:{modified}",
        f"DTSTART;TZID=Europe/Berlin:2027{month:02d}{day:02d}T{hour:02d}0000",
        f"DTEND;TZID=Europe/Berlin:2027{month:02d}{day:02d}T{hour:02d}4500",
        f"SUMMARY:{summary or f'Team meeting {i}'}",
        f"LOCATION:Room {i % 40}\\, building {i % 3}",
        "DESCRIPTION:Agenda:\\n- status\\n- risks\\n- next steps for item " + str(i),
        f"CATEGORIES:Team,Project {i % 7}",
        "SEQUENCE:0",
        f"X-BENCH-INDEX:{i}",
        "X-MICROSOFT-CDO-BUSYSTATUS:BUSY",
    ]
    if i % 10 == 0:
        body += ["RRULE:FREQ=WEEKLY;COUNT=10",
                 f"EXDATE;TZID=Europe/Berlin:{_plus_week(month, day, hour)}"]
    if i % 5 == 0:
        body += ["ORGANIZER;CN=Olga Organizer:mailto:olga@example.com",
                 "ATTENDEE;CN=Ann;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED:mailto:ann@example.com",
                 "ATTENDEE;CN=Bob;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION:mailto:bob@example.com"]
    body += ["BEGIN:VALARM", "ACTION:DISPLAY", "DESCRIPTION:Reminder", "TRIGGER:-PT15M",
             "END:VALARM", "END:VEVENT"]
    return "\r\n".join(lines) + "\r\n" + VTIMEZONE + "\r\n".join(body) + "\r\nEND:VCALENDAR\r\n"


def _plus_week(month: int, day: int, hour: int) -> str:
    """The second occurrence of the weekly series starting at that day and hour."""
    return (datetime(2027, month, day, hour) + timedelta(days=7)).strftime("%Y%m%dT%H%M%S")


def uid_of(i: int, tag: str = "") -> str:
    return f"bench-{tag}{i:06d}@example.com"


@dataclass
class Truth:
    """What every replica must hold: UID → expected iCalendar text."""

    items: dict[str, str] = field(default_factory=dict)

    def add(self, uid: str, text: str) -> None:
        self.items[uid] = text

    def remove(self, uid: str) -> None:
        self.items.pop(uid, None)


def fill_folder(folder: Path, n: int, truth: Truth, tag: str = "") -> None:
    """``n`` new event files in ``folder`` (recorded in ``truth``)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        uid = uid_of(i, tag)
        text = event_text(uid, i)
        (folder / f"{uid}.ics").write_bytes(text.encode())
        truth.add(uid, text)


def file_by_uid(folder: Path) -> dict[str, Path]:
    """UID → file of every .ics file in ``folder`` (reads the UID line only)."""
    out: dict[str, Path] = {}
    for path in folder.glob("*.ics"):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith("UID:"):
                out[line[4:].strip()] = path
                break
    return out


def edit_text(text: str, stamp: str, note: str) -> str:
    """The user's edit: a new SUMMARY, LAST-MODIFIED and DTSTAMP, the rest as it was."""
    out = []
    for line in text.split("\r\n"):
        if line.startswith("SUMMARY:"):
            line = f"SUMMARY:{line[8:]} ({note})"
        elif line.startswith("LAST-MODIFIED:"):
            line = f"LAST-MODIFIED:{stamp}"
        elif line.startswith("DTSTAMP:"):
            line = f"DTSTAMP:{stamp}"
        out.append(line)
    return "\r\n".join(out)


def edit_folder(folder: Path, truth: Truth, rng: random.Random, edits: int, deletes: int,
                note: str, exclude: set[str]) -> set[str]:
    """Edit ``edits`` and delete ``deletes`` random items of ``folder`` (not in ``exclude``),
    like a calendar program: files rewritten in place (new mtime), files removed. Returns the
    UIDs touched."""
    files = file_by_uid(folder)
    candidates = sorted(set(files) - exclude)
    chosen = rng.sample(candidates, edits + deletes)
    stamp = "20261201T1000" + f"{rng.randrange(60):02d}Z"
    for uid in chosen[:edits]:
        text = edit_text(truth.items[uid], stamp, note)
        files[uid].write_bytes(text.encode())
        truth.add(uid, text)
    for uid in chosen[edits:]:
        files[uid].unlink()
        truth.remove(uid)
    return set(chosen)


# --- verification -----------------------------------------------------------------------------

_IGNORED = frozenset({"DTSTAMP"})


def _props(component: Component) -> list[tuple[str, str]]:
    out = []
    for name, value in component.property_items(recursive=False):
        if name in _IGNORED or name in ("BEGIN", "END"):
            continue
        params = getattr(value, "params", {})
        rendered = value.to_ical() if hasattr(value, "to_ical") else str(value)
        if isinstance(rendered, bytes):
            rendered = rendered.decode()
        out.append((name, ";".join(f"{k}={params[k]}" for k in sorted(params)) + ":" + rendered))
    return sorted(out)


def _shape(component: Component) -> tuple[object, ...]:
    """A component as comparable data: its name, properties and subcomponents (sorted)."""
    subs = sorted((_shape(c) for c in component.subcomponents), key=repr)
    return (component.name, tuple(_props(component)), tuple(subs))


def content_shape(text: str) -> dict[str, tuple[object, ...]]:
    """Per UID, the shape of its components (VTIMEZONEs keyed by TZID)."""
    out: dict[str, list[tuple[object, ...]]] = {}
    for calendar in Calendar.from_ical(text, multiple=True):
        for component in calendar.subcomponents:
            key = str(component.get("UID") or f"TZ:{component.get('TZID')}")
            out.setdefault(key, []).append(_shape(component))
    return {k: tuple(sorted(v, key=repr)) for k, v in out.items()}


def _digest(text: str) -> str:
    return hashlib.sha256(text.replace("\r\n", "\n").encode()).hexdigest()


def check_texts(where: str, texts: Iterable[str], truth: Truth) -> None:
    """Raise AssertionError naming the first item of ``texts`` (one replica's item texts)
    that differs from ``truth`` in any property, or a missing / extra item."""
    expected_digest = {_digest(t): uid for uid, t in truth.items.items()}
    seen: set[str] = set()
    for text in texts:
        uid = expected_digest.get(_digest(text))
        if uid is not None:  # byte-identical (line ends aside): every property equal
            seen.add(uid)
            continue
        got = content_shape(text)
        uids = [k for k in got if not k.startswith("TZ:")]
        if len(uids) != 1:
            raise AssertionError(f"{where}: an item holds {len(uids)} UIDs: {uids[:3]}")
        uid = uids[0]
        if uid not in truth.items:
            raise AssertionError(f"{where}: unexpected item {uid}")
        want = content_shape(truth.items[uid])
        if got != want:
            raise AssertionError(f"{where}: {uid} differs: {_first_difference(want, got)}")
        seen.add(uid)
    missing = set(truth.items) - seen
    if missing:
        raise AssertionError(f"{where}: {len(missing)} items missing, e.g. {sorted(missing)[:3]}")


def _first_difference(want: Mapping[str, object], got: Mapping[str, object]) -> str:
    for key in sorted(set(want) | set(got)):
        if want.get(key) != got.get(key):
            return f"{key}: expected {str(want.get(key))[:300]} got {str(got.get(key))[:300]}"
    return "?"


def check_folder(folder: Path, truth: Truth) -> None:
    texts = [p.read_text(encoding="utf-8") for p in folder.glob("*.ics")]
    if len(texts) != len(truth.items):
        raise AssertionError(f"{folder}: {len(texts)} files, expected {len(truth.items)}")
    check_texts(str(folder), texts, truth)
