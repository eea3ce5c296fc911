"""The push plan under an identity projection (issue 15): the content written is the hub item
itself and its spoke fingerprint is the hub fingerprint the store keeps, not a fingerprint
computed again per push. Proved equal here: for every item, under such a projection,
``project_for_spoke(x) == x`` and ``spoke_fingerprint(project_for_spoke(x)) == fingerprint(x)``
(the store keeps ``fingerprint(content)``: tests/sync/test_run_fingerprints.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from cirahub.connectors.registry import open_connector
from cirahub.core import push as push_module
from cirahub.core.errors import CirahubError
from cirahub.core.fingerprint import fingerprint
from cirahub.core.ical import parse_calendar, parse_item
from cirahub.core.item import Item
from cirahub.core.model import Capabilities, HubItem, Link
from cirahub.core.ops import BumpLink, CreateInSpoke, UpdateInSpoke
from cirahub.core.options import PrivateMode, SyncOptions
from cirahub.core.plan import SpokeContext
from cirahub.core.projection import project_for_spoke, spoke_fingerprint
from cirahub.core.push import identity_projection, plan_push
from tests.core import ical_samples
from tests.core.fast_texts import COMMON_SHAPES, calendar_texts, plain_event
from tests.core.fingerprint_samples import SAMPLES

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
#: what a vdir (and CalDAV) spoke declares: it carries everything, its texts too
ICAL = Capabilities(carries_components=True, carries_source=True)
#: option sets whose projection is the identity for every item not private
IDENTITY_OPTIONS = [SyncOptions(), SyncOptions(private=PrivateMode.BUSY),
                    SyncOptions(private=PrivateMode.SKIP)]
SAMPLE_TEXTS = [*SAMPLES.values(), *(plain_event(c) for c in COMMON_SHAPES),
                ical_samples.OUTLOOK_WEEKLY, ical_samples.GOOGLE_EXPORT,
                ical_samples.APPLE_WITH_ALARMS, ical_samples.BIRTHDAY_SERIES]
#: every item of those texts (an export holds several: each its own item and source)
SAMPLE_ITEMS = [item for text in SAMPLE_TEXTS for item in parse_calendar(text)]


def ctx(caps: Capabilities = ICAL, **options: Any) -> SpokeContext:
    return SpokeContext("spoke-1", SyncOptions(**options), caps, False)


def _assert_identity(item: Item, options: SyncOptions) -> None:
    projected = project_for_spoke(item, options, ICAL)
    assert projected == item
    assert spoke_fingerprint(projected, options, ICAL) == fingerprint(item)


@pytest.mark.parametrize("options", IDENTITY_OPTIONS)
@pytest.mark.parametrize("item", SAMPLE_ITEMS, ids=lambda i: i.uid)
def test_an_identity_projection_keeps_the_item_and_its_hub_fingerprint(
        item: Item, options: SyncOptions) -> None:
    c = SpokeContext("s", options, ICAL, False)
    assert identity_projection(c)
    if options.private == PrivateMode.BUSY and item.get("privacy") in ("PRIVATE", "CONFIDENTIAL"):
        return  # a busy block: not the identity (see the test below)
    _assert_identity(item, options)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(calendar_texts())
def test_property_an_identity_projection_keeps_any_item_and_its_hub_fingerprint(text: str) -> None:
    try:
        items = parse_calendar(text)
    except CirahubError:
        return
    for item in items:
        _assert_identity(item, SyncOptions())


@pytest.mark.parametrize(("caps", "options"), [
    (ICAL, {"tag_category": "From hub"}),
    (ICAL, {"meetings_as_appointments": True}),
    (ICAL, {"reminders": False}),
    (Capabilities(), {}),  # holds no iCalendar text: drops ``verbatim``
    (Capabilities(carries_source=True, unsupported_fields=frozenset({"alarms"})), {}),
])
def test_a_projection_that_changes_content_is_not_the_identity(
        caps: Capabilities, options: dict[str, Any]) -> None:
    assert not identity_projection(ctx(caps, **options))


def _hub(item: Item, fp: str = "stored-hub-fingerprint", version: int = 4) -> HubItem:
    return HubItem("h1", item.uid, version, item, fp)


def test_regression_an_identity_push_takes_the_stored_hub_fingerprint() -> None:
    """Before: every create and update of a push fingerprinted its projected content again
    (5,000 fingerprints in a 2-folder initial sync), though the projection of a vdir or
    CalDAV spoke is the identity and the hub item's stored fingerprint already is the one."""
    item = parse_item(SAMPLES["series"])
    h = _hub(item)
    [create] = plan_push(ctx(), [h], {}, NOW).ops
    assert isinstance(create, CreateInSpoke)
    assert create.fingerprint == "stored-hub-fingerprint" and create.item is item
    stale = Link("spoke-1", "h1", item.uid, "r1", "v1", "an older fingerprint", 3)
    [update] = plan_push(ctx(), [h], {"h1": stale}, NOW).ops
    assert isinstance(update, UpdateInSpoke)
    assert update.fingerprint == "stored-hub-fingerprint" and update.item is item
    echo = Link("spoke-1", "h1", item.uid, "r1", "v1", "stored-hub-fingerprint", 3)
    assert plan_push(ctx(), [h], {"h1": echo}, NOW).ops == (BumpLink("h1", 4),)


@pytest.mark.parametrize(("caps", "options", "privacy"), [
    (ICAL, {"tag_category": "From hub"}, None),
    (ICAL, {"private": PrivateMode.BUSY}, "PRIVATE"),  # a busy block
    (Capabilities(), {}, None),
])
def test_a_push_that_projects_fingerprints_what_it_writes(
        caps: Capabilities, options: dict[str, Any], privacy: str | None) -> None:
    base = parse_item(SAMPLES["plain"])
    item = Item(base.uid, {**base.fields, "privacy": privacy} if privacy else base.fields,
                base.overrides, base.source)
    c = ctx(caps, **options)
    [create] = plan_push(c, [_hub(item, fingerprint(item))], {}, NOW).ops
    assert isinstance(create, CreateInSpoke)
    projected = project_for_spoke(item, c.options, caps)
    assert create.item == projected
    assert create.fingerprint == spoke_fingerprint(projected, c.options, caps)


def test_a_hub_item_without_its_fingerprint_is_fingerprinted() -> None:
    item = parse_item(SAMPLES["plain"])
    [create] = plan_push(ctx(), [HubItem("h1", item.uid, 1, item, None)], {}, NOW).ops
    assert isinstance(create, CreateInSpoke) and create.fingerprint == fingerprint(item)


def test_a_vdir_push_to_a_second_folder_computes_no_fingerprint(
        store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end: the second folder's push writes with the hub's fingerprints, and what it
    wrote is recognized as its echo (the next runs pull and push nothing)."""
    from tests.sync.harness import Loop

    loop = Loop(store)
    folders = [tmp_path / "a", tmp_path / "b"]
    for name, folder in zip("ab", folders, strict=True):
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(name, open_connector("vdir", config), kind="vdir", config=config)
    one_per_uid = {item.uid: item for item in reversed(SAMPLE_ITEMS)}  # (shapes share one)
    for i, item in enumerate(one_per_uid.values()):
        (folders[0] / f"e{i}.ics").write_text(item.source or "", newline="")
    assert loop.sync("a").ok
    calls = [0]
    real = push_module.spoke_fingerprint

    def counted(*args: Any, **kwargs: Any) -> str:
        calls[0] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(push_module, "spoke_fingerprint", counted)
    summary = loop.sync("b")
    assert summary.ok and summary.counts.get("pushed") == len(loop.hub_items())
    assert calls[0] == 0
    for name in "ab":
        again = loop.sync(name)
        assert again.ok and not again.counts.get("pulled") and not again.counts.get("pushed")
