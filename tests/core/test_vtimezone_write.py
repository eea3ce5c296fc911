"""VTIMEZONEs we write are RRULE-based and valid for any date (issue 9, class 7): read back
under a name no zone database knows (so only their rules count), they give zoneinfo's
offsets — before 2038 by icalendar's own converter, up to 2100 by the rules evaluator."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item
from cirahub.core.vtimezone_write import rrule_vtimezone
from cirahub.core.zone_rules import vtimezone_zone

ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Pacific/Auckland",
         "America/Santiago", "Asia/Jerusalem", "Australia/Lord_Howe", "Europe/London",
         "Asia/Kolkata", "Africa/Casablanca", "America/Sao_Paulo", "Europe/Moscow"]


def _renamed(name: str) -> str:
    vtimezone = rrule_vtimezone(name, 1971)
    assert vtimezone is not None
    return vtimezone.to_ical().decode().replace(f"TZID:{name}", "TZID:Renamed/Zone")


def _samples(first: int, last: int) -> list[datetime]:
    moment, out = datetime(first, 1, 1, tzinfo=UTC), []
    while moment.year < last:
        out.append(moment)
        moment += timedelta(days=3, hours=7)
    return out


@pytest.mark.parametrize("name", ZONES)
def test_regression_written_vtimezone_is_rrule_based_and_valid_for_any_date(name: str) -> None:
    text = _renamed(name)
    if name in ("Europe/Berlin", "America/New_York", "Europe/London", "Pacific/Auckland"):
        assert "RDATE" not in text and "RRULE" in text
    ours = vtimezone_zone(text)
    assert ours is not None
    reference = ZoneInfo(name)
    # every transition from 1971 to 2100, exactly
    wrong = [m for m in _samples(1971, 2100)
             if m.astimezone(ours).utcoffset() != m.astimezone(reference).utcoffset()]
    assert wrong == []
    # an independent reader (icalendar's converter, which stops at 2038) agrees
    calendar = Calendar.from_ical(
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n" + text + "END:VCALENDAR\r\n")
    theirs = calendar.walk("VTIMEZONE")[0].to_tz(lookup_tzid=False)
    wrong = [m for m in _samples(1972, 2037)
             if m.astimezone(theirs).utcoffset() != m.astimezone(reference).utcoffset()]
    assert wrong == []


def test_written_files_carry_rrule_vtimezones() -> None:
    item = Item("z@x", {"start": {"utc": "2026-03-02T09:00:00Z", "tz": "America/New_York"},
                        "end": {"utc": "2026-03-02T10:00:00Z", "tz": "America/New_York"},
                        "rrule": "FREQ=WEEKLY"})
    text = to_ics(item)
    block = text[text.index("BEGIN:VTIMEZONE"):text.index("END:VTIMEZONE")]
    assert "RDATE" not in block and "RRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3" in block
    assert parse_item(text) == item
