"""Windows ↔ IANA zone names and resolution of real-world TZIDs."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from cirahub.core.timezones import (
    iana_to_windows,
    is_iana,
    resolve_tzid,
    windows_to_iana,
)
from cirahub.core.windows_zones import WINDOWS_ZONES


@pytest.mark.parametrize(
    ("windows", "iana"),
    [
        ("UTC", "UTC"),
        ("GMT Standard Time", "Europe/London"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ("Romance Standard Time", "Europe/Paris"),
        ("Pacific Standard Time", "America/Los_Angeles"),
        ("Eastern Standard Time", "America/New_York"),
        ("Central Standard Time", "America/Chicago"),
        ("China Standard Time", "Asia/Shanghai"),
        ("Tokyo Standard Time", "Asia/Tokyo"),
        ("AUS Eastern Standard Time", "Australia/Sydney"),
        ("India Standard Time", "Asia/Kolkata"),
        ("Nepal Standard Time", "Asia/Kathmandu"),
        ("Dateline Standard Time", "Etc/GMT+12"),
        ("New Zealand Standard Time", "Pacific/Auckland"),
    ],
)
def test_windows_to_iana_and_back(windows: str, iana: str) -> None:
    assert windows_to_iana(windows) == iana
    assert windows_to_iana(windows.upper()) == iana  # Windows ids are case-insensitive
    assert iana_to_windows(iana) == windows


def test_table_covers_all_windows_zones_with_valid_iana_names() -> None:
    assert len(WINDOWS_ZONES) >= 135
    for windows in WINDOWS_ZONES:
        iana = windows_to_iana(windows)
        assert iana is not None and is_iana(iana), windows
        # the first IANA name of every Windows zone maps back to that Windows zone
        assert iana_to_windows(iana) == windows


@pytest.mark.parametrize(
    ("windows", "winter_hours", "summer_hours"),
    [
        ("W. Europe Standard Time", 1, 2),
        ("Pacific Standard Time", -8, -7),
        ("Tokyo Standard Time", 9, 9),
        ("AUS Eastern Standard Time", 10, 11),  # southern summer in January
        ("India Standard Time", 5.5, 5.5),
    ],
)
def test_mapped_zone_has_the_windows_zone_offsets(
    windows: str, winter_hours: float, summer_hours: float
) -> None:
    zone = ZoneInfo(windows_to_iana(windows) or "")
    july, january = datetime(2026, 7, 15, 12, tzinfo=zone), datetime(2026, 1, 15, 12, tzinfo=zone)
    northern_winter, northern_summer = january.utcoffset(), july.utcoffset()
    assert northern_winter is not None and northern_summer is not None
    if windows.startswith("AUS"):
        northern_winter, northern_summer = northern_summer, northern_winter
    assert northern_winter.total_seconds() / 3600 == winter_hours
    assert northern_summer.total_seconds() / 3600 == summer_hours


@pytest.mark.parametrize(
    ("iana", "windows"),
    [
        ("Europe/Amsterdam", "W. Europe Standard Time"),  # non-001 territory
        ("Asia/Calcutta", "India Standard Time"),  # old name
        ("US/Eastern", "Eastern Standard Time"),  # backward link
        ("Etc/UTC", "UTC"),
        ("Europe/Kyiv", "FLE Standard Time"),
        ("Mars/Olympus_Mons", None),
    ],
)
def test_iana_to_windows_accepts_territories_and_links(iana: str, windows: str | None) -> None:
    assert iana_to_windows(iana) == windows


@pytest.mark.parametrize(
    ("tzid", "expected"),
    [
        ("Europe/Berlin", "Europe/Berlin"),
        ("America/New_York", "America/New_York"),
        ("W. Europe Standard Time", "Europe/Berlin"),
        ('"Pacific Standard Time"', "America/Los_Angeles"),
        ("UTC", "UTC"),
        ("Etc/UTC", "UTC"),
        ("GMT", "UTC"),
        ("Z", "UTC"),
        ("tzone://Microsoft/Utc", "UTC"),
        ("/mozilla.org/20050126_1/Europe/Berlin", "Europe/Berlin"),
        ("/softwarestudio.org/Olson_20011030_5/America/New_York", "America/New_York"),
        ("/citadel.org/20190914_1/Asia/Tokyo", "Asia/Tokyo"),
        ("(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", "Europe/Amsterdam"),
        ("(UTC-05:00) Eastern Time (US & Canada)", "America/New_York"),
        ("(GMT+05.30) Chennai, Kolkata, Mumbai, New Delhi", "Asia/Kolkata"),
        ("Customized Time Zone", None),
        ("Foo/Bar", None),
        ("../../etc/passwd", None),
        ("", None),
    ],
)
def test_resolve_tzid(tzid: str, expected: str | None) -> None:
    assert resolve_tzid(tzid) == expected
