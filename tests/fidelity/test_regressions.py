"""Regression tests of issue 9's iCalendar classes, each through the real path where it was
seen (the vdir connector, the feed connector, Radicale, Xandikos), on the corpus files that
showed it. A file passes when the destination holds it occurrence-identical with every
property and parameter of the source."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.store import Store
from tests.corpus import corpus

from .conftest import LazyServers
from .runs import open_store, run

ICAL_PATHS = ("vdir", "caldav-radicale", "caldav-xandikos", "ics-url")


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Store]:
    """A store of its own per test (hub names repeat from one run of a path to the next)."""
    store, db_dir = open_store(tmp_path)
    yield store
    store.close()
    shutil.rmtree(db_dir, ignore_errors=True)


def _through(path: str, ids: list[str], store: Store, servers: LazyServers) -> dict[str, str]:
    files = [f for f in corpus() if f.id in ids]
    assert len(files) == len(ids)
    result = run(path, store, servers, files=files)
    return {fid: f"{o.status}: {o.detail}" for fid, o in result.outcomes.items()}


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", ICAL_PATHS)
def test_regression_components_that_are_not_events_travel_verbatim(
        path: str, fresh_store: Store, fidelity_servers: LazyServers) -> None:
    """VFREEBUSY, VAVAILABILITY (bare, without VCALENDAR), a custom component, a stray
    DAYLIGHT: quarantined as "no VEVENT, VTODO or VJOURNAL" (or dropped by the feed) before."""
    ids = ["icalendar.freebusy.example", "icalendar.availabilities.rfc_7953_2",
           "icalendar.calendars.issue_178_component_with_invalid_name_represented",
           "icalendar.calendars.issue_178_custom_component_inside_other",
           "icalendar.calendars.empty_RDATE", "icalendar.calendars.issue_1050_all_components"]
    outcomes = _through(path, ids, fresh_store, fidelity_servers)
    assert outcomes == dict.fromkeys(ids, "identical: ")


@pytest.mark.timeout(600)
@pytest.mark.parametrize("path", ICAL_PATHS)
def test_regression_date_with_date_time_and_empty_rrule_are_carried(
        path: str, fresh_store: Store, fidelity_servers: LazyServers) -> None:
    """DTSTART;VALUE=DATE with a UTC DTEND (quarantined before), an empty ``RRULE:`` line
    (Calendar Labs exports; "RRULE has no FREQ" before), X-WR-TIMEZONE with floating times."""
    ids = ["rie.issue_201_mixed_datetime_and_date", "rie.issue_201_test_matrix",
           "rie.Germany_Holidays", "rie.issue_86_x_wr_timezone_without_time_zone_in_dt"]
    outcomes = _through(path, ids, fresh_store, fidelity_servers)
    assert outcomes == dict.fromkeys(ids, "identical: ")
