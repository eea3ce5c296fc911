"""What a spoke carries: write transforms, their fingerprints and their inverse."""

from __future__ import annotations

from cirahub.core.item import Item
from cirahub.core.model import Capabilities
from cirahub.core.options import PrivateMode, SyncOptions
from cirahub.core.projection import (
    carried_fields,
    from_spoke,
    ignored_fields,
    overlay_uncarried,
    project_for_spoke,
    spoke_fingerprint,
)

CAPS = Capabilities()
START = {"utc": "2026-03-01T09:00:00Z", "tz": "UTC"}
END = {"utc": "2026-03-01T10:00:00Z", "tz": "UTC"}


def meeting(**extra: object) -> Item:
    fields = {
        "summary": "Board meeting",
        "description": "Agenda: budget",
        "location": "Room 1",
        "start": START,
        "end": END,
        "organizer": "boss@example.org",
        "attendees": [{"email": "a@example.org", "name": "A", "role": "REQ-PARTICIPANT",
                       "partstat": "ACCEPTED"}],
        "alarms": [15],
        "categories": ["Board"],
        "url": "https://example.org/m",
        **extra,
    }
    return Item("uid-1", fields)


def test_ignored_fields_combine_capabilities_and_options() -> None:
    """A lossy spoke with appointments-only and no reminders ignores all three groups."""
    caps = Capabilities(unsupported_fields=frozenset({"url"}), carries_source=True)
    assert ignored_fields(SyncOptions(), caps) == {"url"}
    opts = SyncOptions(meetings_as_appointments=True, reminders=False)
    assert ignored_fields(opts, caps) == {"url", "organizer", "attendees", "alarms"}
    # a kind without the iCalendar text cannot carry what the model does not hold
    assert ignored_fields(SyncOptions(), Capabilities()) == {"verbatim"}


def test_projection_drops_ignored_fields_also_in_overrides() -> None:
    """Meetings as appointments: no attendee reaches the spoke, not even via an exception."""
    series = Item(
        "s", {**meeting().fields, "rrule": "FREQ=WEEKLY"},
        {"20260308T090000Z": {"summary": "Moved", "attendees": [], "alarms": [5],
                              "start": START, "end": END}},
    )
    opts = SyncOptions(meetings_as_appointments=True, reminders=False)
    out = project_for_spoke(series, opts, CAPS)
    for fields in (out.fields, *out.overrides.values()):
        assert not {"organizer", "attendees", "alarms"} & set(fields)
    assert out.fields["summary"] == "Board meeting"
    assert out.overrides["20260308T090000Z"]["summary"] == "Moved"


def test_tag_category_is_added_sorted_and_unique() -> None:
    """Items the hub writes are tagged so a user can tell them apart in the spoke."""
    opts = SyncOptions(tag_category="Hub")
    assert project_for_spoke(meeting(), opts, CAPS).fields["categories"] == ["Board", "Hub"]
    tagged = meeting(categories=["Hub", "Zoo"])
    assert project_for_spoke(tagged, opts, CAPS).fields["categories"] == ["Hub", "Zoo"]
    bare = Item("u", {"summary": "x", "start": START, "end": END})
    assert project_for_spoke(bare, opts, CAPS).fields["categories"] == ["Hub"]


def test_private_item_becomes_busy_block_in_busy_mode() -> None:
    """A private meeting shows only as "Busy" in a shared calendar, times kept."""
    opts = SyncOptions(private=PrivateMode.BUSY, tag_category="Hub")
    out = project_for_spoke(meeting(privacy="PRIVATE"), opts, CAPS)
    assert out.fields["summary"] == "Busy"
    assert out.fields["categories"] == ["Hub"]
    for gone in ("description", "location", "attendees", "organizer", "url"):
        assert gone not in out.fields
    assert out.fields["start"] == START and out.fields["end"] == END
    assert out.fields["privacy"] == "PRIVATE" and out.fields["alarms"] == [15]
    # a public item in busy mode and a private one in sync mode are written as they are
    assert project_for_spoke(meeting(), opts, CAPS).fields["summary"] == "Board meeting"
    sync = SyncOptions(private=PrivateMode.SYNC)
    assert project_for_spoke(meeting(privacy="PRIVATE"), sync, CAPS).fields["location"] == "Room 1"


def test_projection_is_stable_under_its_fingerprint() -> None:
    """Projecting twice writes the same thing, so a link's fingerprint never drifts."""
    for opts in (
        SyncOptions(tag_category="Hub", private=PrivateMode.BUSY, reminders=False),
        SyncOptions(meetings_as_appointments=True),
        SyncOptions(),
    ):
        for item in (meeting(), meeting(privacy="CONFIDENTIAL")):
            once = project_for_spoke(item, opts, CAPS)
            twice = project_for_spoke(once, opts, CAPS)
            assert spoke_fingerprint(once, opts, CAPS) == spoke_fingerprint(twice, opts, CAPS)


def test_spoke_fingerprint_ignores_what_the_spoke_cannot_carry() -> None:
    """A spoke that drops alarms on write does not look changed when it reads back."""
    caps = Capabilities(unsupported_fields=frozenset({"alarms"}))
    opts = SyncOptions()
    assert spoke_fingerprint(meeting(alarms=[5]), opts, caps) == spoke_fingerprint(
        meeting(alarms=[30]), opts, caps
    )
    assert spoke_fingerprint(meeting(alarms=[5]), opts, CAPS) != spoke_fingerprint(
        meeting(alarms=[30]), opts, CAPS
    )


def test_carried_fields_exclude_ignored_and_busy_masked_fields() -> None:
    """A busy block's "Busy" title must never flow back as the real title."""
    opts = SyncOptions(private=PrivateMode.BUSY, reminders=False)
    carried = carried_fields(opts, CAPS, meeting(privacy="PRIVATE"))
    assert not carried("summary") and not carried("alarms") and not carried("description")
    assert carried("start") and carried("privacy") and carried("override:20260308T090000Z")
    public = carried_fields(opts, CAPS, meeting())
    assert public("summary") and not public("alarms")
    # un-marked private in the spoke while the hub item is still private: still masked
    assert not carried_fields(opts, CAPS, meeting(), meeting(privacy="PRIVATE"))("summary")


def test_from_spoke_removes_the_tag_unless_the_hub_had_it() -> None:
    """The tag is ours; a category the hub item really has survives the round trip."""
    opts = SyncOptions(tag_category="Hub")
    written = project_for_spoke(meeting(), opts, CAPS)
    assert from_spoke(written, meeting(), opts, CAPS) == meeting()
    hub_has_it = meeting(categories=["Hub"])
    back = from_spoke(project_for_spoke(hub_has_it, opts, CAPS), hub_has_it, opts, CAPS)
    assert back.fields["categories"] == ["Hub"]
    only_tag = Item("u", {"summary": "x", "categories": ["Hub"]}, {"k": {"categories": ["Hub"]}})
    stripped = from_spoke(only_tag, None, opts, CAPS)
    assert "categories" not in stripped.fields and "categories" not in stripped.overrides["k"]
    assert from_spoke(only_tag, None, SyncOptions(), CAPS) == only_tag


def test_overlay_takes_uncarried_fields_from_the_hub() -> None:
    """A lossy spoke's missing alarms do not erase the hub's, also inside an override."""
    caps = Capabilities(unsupported_fields=frozenset({"alarms"}))
    carried = carried_fields(SyncOptions(), caps, None)
    hub = Item("u", {"summary": "A", "alarms": [15]}, {"k": {"summary": "A1", "alarms": [5]}})
    spoke = Item("u", {"summary": "B"}, {"k": {"summary": "B1"}, "n": {"summary": "new"}})
    out = overlay_uncarried(spoke, hub, carried)
    assert out.fields == {"summary": "B", "alarms": [15]}
    assert dict(out.overrides["k"]) == {"summary": "B1", "alarms": [5]}
    assert dict(out.overrides["n"]) == {"summary": "new", "alarms": [15]}
    assert overlay_uncarried(Item("u", {"summary": "B", "alarms": [1]}), None, carried).fields == {
        "summary": "B"
    }
