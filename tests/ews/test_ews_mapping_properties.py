"""Issue 9, property: random series written to Exchange and read back keep their occurrences.

Each example is an iCalendar series (zones incl. Windows and vendor-prefixed TZIDs, floating
times, DST-crossing rules, rules no Exchange pattern expresses, COUNT and UNTIL as DATE-TIME
(floating too) and as DATE, EXDATEs, RDATEs, moved occurrences incl. RANGE=THISANDFUTURE and
without their series, all-day), parsed by
the core into a hub item, created through the EWS connector in the emulator with unmodified
exchangelib, and read back. Checked, with ``recurring-ical-events`` as the reference reader:

- what Exchange holds has exactly the occurrences of the projection the connector declared;
- the projection has the hub item's occurrences unless it declared a note that changes them;
- read back as the hub sees it, the item is the hub's item (same fingerprint): no rewrite;
- end to end, what Exchange holds has the occurrences the reference reader reads in the file.

``CIRAHUB_EWS_EXAMPLES`` sets the number of examples (default 40; 200 pass locally).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from dateutil.rrule import rrulestr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cirahub.connectors.ews.projection import project
from cirahub.connectors.registry import open_connector
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_item
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, USER, connector_config
from .occurrences import occurrences, text_occurrences, write_and_read

#: (TZID as written in the file, the IANA zone it means)
ZONES = [
    ("UTC", "UTC"),  # written as DTSTART:...Z
    ("Europe/Berlin", "Europe/Berlin"),
    ("America/New_York", "America/New_York"),
    ("Australia/Sydney", "Australia/Sydney"),
    ("Asia/Kolkata", "Asia/Kolkata"),
    ("W. Europe Standard Time", "Europe/Berlin"),
    ("Pacific Standard Time", "America/Los_Angeles"),
    ("/mozilla.org/20070129_1/Europe/Berlin", "Europe/Berlin"),
    ("/softwarestudio.org/Olson_20011030_5/America/New_York", "America/New_York"),
    ("/Europe/Stockholm", "Europe/Stockholm"),
    ("/freeassociation.sourceforge.net/Tzfile/Europe/Stockholm", "Europe/Stockholm"),
    ("posix/Europe/Vaduz", "Europe/Vaduz"),
    ("", "Europe/Berlin"),  # floating: placed in the spoke's zone (Europe/Berlin)
]
#: notes of a projection that changes occurrences (declared, so allowed to)
CHANGES_OCCURRENCES = ("not an occurrence of its rule", "longer than the gap", "without an occurrence",
                       "no duration kept", "one day kept", "cut to 5 years", "keep the series' time",
                       "that are no occurrence", "floating time placed", "later occurrences not written",
                       "extra occurrences not written", "first event alone", "only the first rule is written",
                       "written as one day", "own length")
_uids = count()


@pytest.fixture(scope="module")
def conn() -> Iterator[Any]:
    with EwsEmulator({USER: PASSWORD}) as emu:
        emu.add_public_folder("/Calendars/Team")
        c = open_connector("ews-public-folder", connector_config(emu, "ews-public-folder",
                                                                 timezone="Europe/Berlin"), PASSWORD)
        yield c
        c.close()
        assert emu.meeting_messages == []


@st.composite
def series(draw: st.DrawFn) -> str:
    """One VEVENT series (with its overrides) as iCalendar text."""
    tzid, iana = draw(st.sampled_from(ZONES))
    all_day = draw(st.booleans()) and draw(st.booleans())
    day = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 364)))
    local = datetime.combine(day, datetime.min.time()).replace(
        hour=draw(st.integers(0, 23)), minute=draw(st.sampled_from([0, 15, 30, 45])))
    rule = draw(_rule(day))
    if all_day:
        length = timedelta(days=draw(st.integers(1, 2)))
        dtstart, dtend = f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"DTEND;VALUE=DATE:{day + length:%Y%m%d}"
    else:
        length = timedelta(minutes=draw(st.sampled_from([15, 30, 60, 90, 180])))
        dtstart = f"DTSTART;TZID={tzid}:{local:%Y%m%dT%H%M%S}"
        dtend = f"DTEND;TZID={tzid}:{local + length:%Y%m%dT%H%M%S}"
        if not tzid:
            dtstart, dtend = f"DTSTART:{local:%Y%m%dT%H%M%S}", f"DTEND:{local + length:%Y%m%dT%H%M%S}"
        if tzid == "UTC":
            dtstart, dtend = f"DTSTART:{local:%Y%m%dT%H%M%S}Z", f"DTEND:{local + length:%Y%m%dT%H%M%S}Z"
    bound = draw(st.sampled_from(["count", "until", "until-date", "none"]))
    first = local.replace(tzinfo=ZoneInfo(iana))
    if bound == "count":
        rule += f";COUNT={draw(st.integers(1, 25))}"
    elif bound in ("until", "until-date"):  # at, a second before or after, or a day after an occurrence
        nth = _nth(rule, first if not all_day else datetime.combine(day, datetime.min.time()),
                   draw(st.integers(0, 20)))
        if bound == "until" and not all_day:
            offset = timedelta(seconds=draw(st.sampled_from([-1, 0, 1, -3600, 3600, 86400])))
            rule += (f";UNTIL={(nth + offset).replace(tzinfo=None):%Y%m%dT%H%M%S}" if not tzid  # floating
                     else f";UNTIL={(nth + offset).astimezone(ZoneInfo('UTC')):%Y%m%dT%H%M%SZ}")
        else:
            rule += f";UNTIL={nth.date() + timedelta(days=draw(st.sampled_from([-1, 0, 1]))):%Y%m%d}"
    uid = f"prop-{next(_uids)}@cirahub.test"
    lines = ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z", dtstart, dtend,
             f"RRULE:{rule}", "SUMMARY:Series"]
    lines += _exdates(draw, day, local, tzid, all_day)
    lines += _rdates(draw, day, local, tzid, all_day)
    lines.append("END:VEVENT")
    orphan = draw(st.integers(0, 5)) == 0  # only the moved occurrence, without its series
    moved = _moved(draw, uid, day, local, tzid, length, all_day, future=bound != "none" and not orphan)
    lines = moved if orphan and moved else lines + moved
    return "\r\n".join(["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//test//EN", *lines, "END:VCALENDAR", ""])


def _nth(rule: str, first: datetime, n: int) -> datetime:
    """The n-th occurrence of ``rule`` from ``first`` (the last one when there are fewer)."""
    found = first
    for k, occ in enumerate(rrulestr(rule, dtstart=first)):
        found = occ
        if k >= n:
            break
    return found


def _rule(day: date) -> st.SearchStrategy[str]:
    days = ["MO", "TU", "WE", "TH", "FR", "SA", "SU"]
    weekday = days[day.weekday()]
    return st.one_of(
        st.integers(1, 3).map(lambda n: f"FREQ=DAILY;INTERVAL={n}"),
        st.lists(st.sampled_from(days), min_size=1, max_size=3, unique=True).map(
            lambda ds: "FREQ=WEEKLY;BYDAY=" + ",".join(sorted({*ds, weekday}, key=days.index))),
        st.integers(1, 2).map(lambda n: f"FREQ=WEEKLY;INTERVAL={n}"),
        st.just(f"FREQ=MONTHLY;BYMONTHDAY={min(day.day, 28)}"),
        st.just(f"FREQ=MONTHLY;BYDAY={min((day.day - 1) // 7 + 1, 4)}{weekday}"),
        st.just("FREQ=YEARLY"),
        # no Exchange pattern: written as explicit occurrences of a daily series
        st.just(f"FREQ=MONTHLY;BYMONTHDAY={min(day.day, 14)},{min(day.day, 14) + 14}"),
        st.just(f"FREQ=YEARLY;BYMONTH={day.month},{(day.month + 5) % 12 + 1}"),
    )


def _exdates(draw: st.DrawFn, day: date, local: datetime, tzid: str, all_day: bool) -> list[str]:
    out = []
    for weeks in draw(st.lists(st.integers(1, 6), max_size=2, unique=True)):
        moment = local + timedelta(weeks=weeks)
        out.append(f"EXDATE;VALUE=DATE:{day + timedelta(weeks=weeks):%Y%m%d}" if all_day
                   else f"EXDATE:{moment:%Y%m%dT%H%M%S}Z" if tzid == "UTC"
                   else f"EXDATE:{moment:%Y%m%dT%H%M%S}" if not tzid
                   else f"EXDATE;TZID={tzid}:{moment:%Y%m%dT%H%M%S}")
    return out


def _rdates(draw: st.DrawFn, day: date, local: datetime, tzid: str, all_day: bool) -> list[str]:
    """Extra occurrences: some days after the start, at its time or a few hours later."""
    out = []
    for days, hours in draw(st.lists(st.tuples(st.integers(1, 60), st.sampled_from([0, 0, 3])),
                                     max_size=2, unique_by=lambda x: x[0])):
        moment = local + timedelta(days=days, hours=hours)
        out.append(f"RDATE;VALUE=DATE:{day + timedelta(days=days):%Y%m%d}" if all_day
                   else f"RDATE:{moment:%Y%m%dT%H%M%S}Z" if tzid == "UTC"
                   else f"RDATE:{moment:%Y%m%dT%H%M%S}" if not tzid
                   else f"RDATE;TZID={tzid}:{moment:%Y%m%dT%H%M%S}")
    return out


def _moved(draw: st.DrawFn, uid: str, day: date, local: datetime, tzid: str, length: timedelta,
           all_day: bool, *, future: bool) -> list[str]:
    """A moved occurrence (RECURRENCE-ID one to eight weeks in, when that is an occurrence),
    in a bounded series possibly with RANGE=THISANDFUTURE (it and every later one move)."""
    if all_day or not draw(st.booleans()):
        return []
    weeks = draw(st.integers(1, 8))
    original = local + timedelta(weeks=weeks)
    moved = original + timedelta(minutes=draw(st.sampled_from([-90, 30, 120, 24 * 60])))
    ranged = ";RANGE=THISANDFUTURE" if future and draw(st.booleans()) else ""
    zone, z = (f";TZID={tzid}", "") if tzid not in ("UTC", "") else ("", "Z" if tzid else "")
    return ["BEGIN:VEVENT", f"UID:{uid}", "DTSTAMP:20260101T000000Z",
            f"RECURRENCE-ID{ranged}{zone}:{original:%Y%m%dT%H%M%S}{z}",
            f"DTSTART{zone}:{moved:%Y%m%dT%H%M%S}{z}", f"DTEND{zone}:{moved + length:%Y%m%dT%H%M%S}{z}",
            "SUMMARY:Moved", "END:VEVENT"]




@settings(max_examples=int(os.environ.get("CIRAHUB_EWS_EXAMPLES", "40")), deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=series())
def test_series_round_trip_through_exchange_keeps_occurrences(conn: Any, text: str) -> None:
    hub = parse_item(text)
    projected = project(hub, conn.cfg.timezone)
    result, seen, held = write_and_read(conn, hub, hub_item_id=hub.uid)
    assert result.notes == projected.notes
    assert occurrences(held) == occurrences(projected.item), f"Exchange differs from the projection\n{text}"
    if not any(marker in note for note in projected.notes for marker in CHANGES_OCCURRENCES):
        assert occurrences(projected.item) == occurrences(hub), f"undeclared change\n{projected.notes}\n{text}"
        # end to end: what Exchange holds is what the reference reader reads in the file
        assert occurrences(held) == text_occurrences(text), f"differs from the file\n{text}"
    assert fingerprint(seen, conn.ignore) == fingerprint(hub, conn.ignore), f"read back differs\n{text}"
