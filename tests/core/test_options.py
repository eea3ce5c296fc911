"""Sync options: operator input is validated and named when wrong."""

from __future__ import annotations

import pytest

from cirahub.core.errors import InvalidInput
from cirahub.core.options import ALL, NONE, Permissions, PrivateMode, SyncOptions


def test_defaults_are_full_two_way_sync():
    options = SyncOptions()
    assert options.hub_writes == ALL and options.contributes == ALL
    assert options.private is PrivateMode.SYNC and options.enabled


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("create,update,delete", ALL),
        ("all", ALL),
        ("none", NONE),
        ("create", Permissions(True, False, False)),
        (" Update , delete ", Permissions(False, True, True)),
        (["create", "delete"], Permissions(True, False, True)),
    ],
)
def test_permissions_parse(text, expected):
    assert Permissions.parse(text, name="hub_writes") == expected


def test_permissions_round_trip_through_text():
    for perms in (ALL, NONE, Permissions(True, False, True)):
        assert Permissions.parse(str(perms), name="x") == perms


def test_unknown_permission_is_named():
    with pytest.raises(InvalidInput, match=r"hub_writes: unknown permission.*erase"):
        Permissions.parse("create,erase", name="hub_writes")


def test_dict_round_trip():
    options = SyncOptions.from_dict({
        "hub_writes": "create,update", "contributes": "none", "days_back": 30,
        "days_ahead": 365, "private": "busy", "categories_include": "Team, Travel",
        "categories_exclude": ["Personal"], "tentative": False, "tag_category": "Synced",
        "meetings_as_appointments": True, "reminders": False, "interval_seconds": 60,
    })
    assert SyncOptions.from_dict(options.to_dict()) == options
    assert options.categories_include == frozenset({"Team", "Travel"})


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"colour": "red"}, "colour"),
        ({"private": "hide"}, "private"),
        ({"days_back": -1}, "days_back"),
        ({"days_ahead": "soon"}, "days_ahead"),
        ({"interval_seconds": 1}, "interval must be at least 5s and at most 8784h (got 1s)"),
        ({"tentative": "yes"}, "tentative"),
        ({"tag_category": "  "}, "tag_category"),
        ({"categories_include": "A", "categories_exclude": "A"}, "A"),
    ],
)
def test_bad_options_are_rejected_with_the_key_named(changes, named):
    with pytest.raises(InvalidInput) as info:
        SyncOptions.from_dict(changes)
    assert named in str(info.value)


def test_with_changes_keeps_other_options():
    options = SyncOptions(days_ahead=30).with_changes({"private": "skip"})
    assert options.days_ahead == 30 and options.private is PrivateMode.SKIP
