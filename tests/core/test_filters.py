"""The window and content filters decide which hub items a spoke sees."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest

from cirahub.core.filters import content_filter, in_window, window_bounds
from cirahub.core.item import Item
from cirahub.core.options import PrivateMode, SyncOptions

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = SyncOptions(days_back=10, days_ahead=30)  # 2026-02-19T12:00Z .. 2026-03-31T12:00Z


def timed(start: str, end: str, tz: str = "Europe/Berlin", **extra: object) -> Item:
    return Item(
        "u1", {"start": {"utc": start, "tz": tz}, "end": {"utc": end, "tz": tz}, **extra}
    )


def all_day(start: str, end: str, **extra: object) -> Item:
    return Item("u2", {"start": {"date": start}, "end": {"date": end}, **extra})


def test_window_bounds_are_utc_aware_and_unbounded_by_default() -> None:
    assert window_bounds(SyncOptions(), NOW) == (None, None)
    lo, hi = window_bounds(WINDOW, NOW)
    assert lo == NOW - timedelta(days=10) and hi == NOW + timedelta(days=30)
    assert lo.tzinfo is not None and hi.tzinfo is not None
    # a naive now is taken as UTC
    assert window_bounds(WINDOW, NOW.replace(tzinfo=None)) == (lo, hi)
    # an aware now in another zone gives the same instants
    berlin = NOW.astimezone(ZoneInfo("Europe/Berlin"))
    assert window_bounds(WINDOW, berlin) == (lo, hi)


def test_single_events_inside_and_outside_the_window() -> None:
    assert in_window(timed("2026-03-05T09:00:00Z", "2026-03-05T10:00:00Z"), WINDOW, NOW)
    assert not in_window(timed("2026-05-05T09:00:00Z", "2026-05-05T10:00:00Z"), WINDOW, NOW)
    assert not in_window(timed("2026-01-05T09:00:00Z", "2026-01-05T10:00:00Z"), WINDOW, NOW)
    # an event that started before the window and is still running overlaps it
    assert in_window(timed("2026-02-01T09:00:00Z", "2026-02-25T10:00:00Z"), WINDOW, NOW)
    # everything passes an unbounded window
    assert in_window(timed("1990-01-01T00:00:00Z", "1990-01-01T01:00:00Z"), SyncOptions(), NOW)


def test_all_day_counts_as_the_whole_day() -> None:
    # window starts 2026-02-19T12:00Z: the all-day 19th still overlaps, the 18th does not
    assert in_window(all_day("2026-02-19", "2026-02-20"), WINDOW, NOW)
    assert not in_window(all_day("2026-02-17", "2026-02-18"), WINDOW, NOW)
    # window ends 2026-03-31T12:00Z: the 31st starts before it, April 1st after
    assert in_window(all_day("2026-03-31", "2026-04-01"), WINDOW, NOW)
    assert not in_window(all_day("2026-04-01", "2026-04-02"), WINDOW, NOW)


def test_floating_times_are_compared_as_utc() -> None:
    item = Item("f", {"start": {"floating": "2026-02-19T11:00:00"},
                      "end": {"floating": "2026-02-19T11:30:00"}})
    assert not in_window(item, WINDOW, NOW)
    later = item.replace(end={"floating": "2026-02-19T13:00:00"})
    assert in_window(later, WINDOW, NOW)


def test_open_ended_series_from_long_ago_overlaps() -> None:
    item = timed("2020-01-06T09:00:00Z", "2020-01-06T10:00:00Z", rrule="FREQ=WEEKLY")
    assert in_window(item, WINDOW, NOW)


def test_series_ended_by_count_or_until_before_the_window() -> None:
    by_count = timed("2025-01-06T09:00:00Z", "2025-01-06T10:00:00Z", rrule="FREQ=WEEKLY;COUNT=10")
    assert not in_window(by_count, WINDOW, NOW)
    # the same rule with enough occurrences reaches into the window (2025-01-06 + 60 weeks)
    longer = by_count.replace(rrule="FREQ=WEEKLY;COUNT=60")
    assert in_window(longer, WINDOW, NOW)
    until_before = by_count.replace(rrule="FREQ=WEEKLY;UNTIL=20260201T000000Z")
    assert not in_window(until_before, WINDOW, NOW)
    until_inside = by_count.replace(rrule="FREQ=WEEKLY;UNTIL=20260225T235959Z")
    assert in_window(until_inside, WINDOW, NOW)


def test_all_day_series_with_date_until() -> None:
    item = all_day("2026-01-01", "2026-01-02", rrule="FREQ=DAILY;UNTIL=20260219")
    assert in_window(item, WINDOW, NOW)  # last occurrence is the whole of the 19th
    assert not in_window(item.replace(rrule="FREQ=DAILY;UNTIL=20260217"), WINDOW, NOW)


def test_series_starting_after_window_end_is_out() -> None:
    item = timed("2026-06-01T09:00:00Z", "2026-06-01T10:00:00Z", rrule="FREQ=DAILY")
    assert not in_window(item, WINDOW, NOW)


def test_rdate_or_override_inside_the_window_keeps_the_series() -> None:
    old = timed("2025-01-06T09:00:00Z", "2025-01-06T10:00:00Z", rrule="FREQ=WEEKLY;COUNT=2")
    assert not in_window(old, WINDOW, NOW)
    assert in_window(old.replace(rdates=["20260310T090000Z"]), WINDOW, NOW)
    moved = Item(
        old.uid,
        old.fields,
        {"20250113T090000Z": {"start": {"utc": "2026-03-02T09:00:00Z", "tz": "UTC"},
                              "end": {"utc": "2026-03-02T10:00:00Z", "tz": "UTC"}}},
    )
    assert in_window(moved, WINDOW, NOW)


def test_override_without_master_is_placed_by_its_own_times() -> None:
    inside = Item("o", {}, {"20260305T090000Z": {"start": {"utc": "2026-03-05T09:00:00Z"},
                                                 "end": {"utc": "2026-03-05T10:00:00Z"}}})
    outside = Item("o", {}, {"20250305T090000Z": {"start": {"utc": "2025-03-05T09:00:00Z"},
                                                  "end": {"utc": "2025-03-05T10:00:00Z"}}})
    assert in_window(inside, WINDOW, NOW)
    assert not in_window(outside, WINDOW, NOW)


@pytest.mark.parametrize(
    ("fields", "options", "reason"),
    [
        ({"privacy": "PRIVATE"}, SyncOptions(private=PrivateMode.SKIP), "private"),
        ({"privacy": "CONFIDENTIAL"}, SyncOptions(private=PrivateMode.SKIP), "private"),
        ({"privacy": "PRIVATE"}, SyncOptions(private=PrivateMode.BUSY), None),
        ({"privacy": "PRIVATE"}, SyncOptions(), None),
        ({"categories": ["Work"]}, SyncOptions(categories_include=frozenset({"work"})), None),
        ({"categories": ["Home"]}, SyncOptions(categories_include=frozenset({"Work"})),
         "category-include"),
        ({}, SyncOptions(categories_include=frozenset({"Work"})), "category-include"),
        ({"categories": ["Home", "Secret"]},
         SyncOptions(categories_exclude=frozenset({"Secret"})), "category-exclude"),
        ({"categories": ["Home"]}, SyncOptions(categories_exclude=frozenset({"Secret"})), None),
        ({"status": "TENTATIVE"}, SyncOptions(tentative=False), "tentative"),
        ({"status": "TENTATIVE"}, SyncOptions(), None),
        ({"status": "CANCELLED"}, SyncOptions(tentative=False), None),
    ],
)
def test_content_filter(fields: dict, options: SyncOptions, reason: str | None) -> None:
    assert content_filter(Item("c", fields), options) == reason


def test_without_a_window_every_item_is_in_it_and_no_series_is_walked() -> None:
    """No window (the default): any item, even one that cannot be placed or a series whose
    end only a walk of its rule tells, is in it at once (the walk cost a fifth of the
    planner's time on an initial sync)."""
    series = timed("2020-01-06T09:00:00Z", "2020-01-06T10:00:00Z",
                   rrule="FREQ=DAILY;COUNT=5000")
    broken = Item("u3", {"start": {"nonsense": 1}})
    with mock.patch("cirahub.core.filters.walk_to_end",
                    side_effect=AssertionError("walked")):
        assert in_window(series, SyncOptions(), NOW)
        assert in_window(broken, SyncOptions(), NOW)
        assert in_window(timed("1990-01-01T09:00:00Z", "1990-01-01T10:00:00Z"),
                         SyncOptions(), NOW)


def _old_content_filter(item: Item, options: SyncOptions) -> str | None:
    """content_filter as it was before it skipped the categories with no category filter."""
    if item.get("privacy") in ("PRIVATE", "CONFIDENTIAL") and options.private == PrivateMode.SKIP:
        return "private"
    categories = {str(c).strip().casefold() for c in item.get("categories") or ()}
    include = {c.strip().casefold() for c in options.categories_include}
    exclude = {c.strip().casefold() for c in options.categories_exclude}
    if include and not categories & include:
        return "category-include"
    if categories & exclude:
        return "category-exclude"
    if item.get("status") == "TENTATIVE" and not options.tentative:
        return "tentative"
    return None


def test_content_filter_decides_as_before_without_category_filters() -> None:
    """The categories are only folded when a category filter is set: the same reasons."""
    fields = [{}, {"categories": ["Work", " home "]}, {"categories": ["X"], "status": "TENTATIVE"},
              {"privacy": "PRIVATE", "categories": ["Work"]}, {"status": "TENTATIVE"}]
    optionss = [SyncOptions(), SyncOptions(tentative=False), SyncOptions(private=PrivateMode.SKIP),
                SyncOptions(categories_include=frozenset({"work"})),
                SyncOptions(categories_exclude=frozenset({" HOME"}), tentative=False)]
    for f in fields:
        for options in optionss:
            item = Item("u", f)
            assert content_filter(item, options) == _old_content_filter(item, options)
