"""The connector contract suite: behaviour every spoke kind must show.

How to run it for a kind: put ``tests/contract/test_<kind>_contract.py`` next to this file,
subclass :class:`ConnectorContract` in a class named ``Test…`` and give it a ``harness``
fixture::

    from .suite import ConnectorContract

    class TestMyKind(ConnectorContract):
        @pytest.fixture
        def harness(self, tmp_path):
            h = MyHarness(tmp_path)
            yield h
            h.connector.close()

The harness protocol (an object; only ``connector`` and the ``user_*``/``project`` methods are
required):

``connector``
    a :class:`~cirahub.connectors.base.SpokeConnector` on an *empty* calendar.
``user_create(item) -> None``
    add ``item`` behind the connector's back, as a user of the calendar would (the kind's
    natural naming, e.g. ``<uid>.ics`` in a vdir).
``user_update(uid, item) -> None`` / ``user_delete(uid) -> None``
    edit / remove the item with that UID behind the connector's back.
``user_write_raw(name, text) -> None``
    store malformed content under ``name``; raise ``NotImplementedError`` when the kind cannot
    hold malformed content (the malformed-item test is then skipped for that kind only).
``project(item) -> Item``
    what the kind can carry of ``item`` (drop ``capabilities.unsupported_fields``, and
    anything else the kind documents as lossy).
``listing_fails()`` *(optional)*
    a context manager inside which ``delta`` fails (the folder vanished, the server 503s).
``listing_partial()`` *(optional)*
    a context manager inside which ``delta`` sees only part of the calendar.

The item samples are canonical values (:mod:`.samples`); round trips must return them equal
under ``project``.
"""

from __future__ import annotations

from typing import Any

import pytest

from cirahub.connectors.base import SpokeConnector, Write, WriteResult
from cirahub.core.errors import (
    ConnectorError,
    PreconditionFailed,
    RemoteAlreadyExists,
    RemoteNotFound,
)
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.model import Delta

from . import samples

HUB_ID = "hub-item-1"


def _by_uid(delta: Delta) -> dict[str, Any]:
    return {r.item.uid: r for r in delta.changed if r.item is not None}


def _known(delta: Delta) -> dict[str, str]:
    return {r.remote_id: r.remote_version for r in delta.changed}


class ConnectorContract:
    """Mixin of contract tests; subclasses (named ``Test…``) provide the ``harness`` fixture."""

    # --- helpers -----------------------------------------------------------------------

    @staticmethod
    def _conn(harness: Any) -> SpokeConnector:
        return harness.connector

    @staticmethod
    def _assert_same(harness: Any, got: Item | None, sent: Item) -> None:
        assert got is not None
        want = harness.project(sent)
        assert got.uid == want.uid
        # equal values first (clear diff on failure), fingerprints as the sync cycle sees them
        assert dict(got.fields) == dict(want.fields)
        assert {k: dict(v) for k, v in got.overrides.items()} == {
            k: dict(v) for k, v in want.overrides.items()
        }
        assert fingerprint(got) == fingerprint(want)

    @staticmethod
    def _first_sync(harness: Any) -> tuple[str | None, dict[str, str], Delta]:
        delta = harness.connector.delta(None, {})
        return delta.cursor, _known(delta), delta

    # --- writes ------------------------------------------------------------------------

    def test_create_returns_id_and_version(self, harness: Any) -> None:
        conn = self._conn(harness)
        res = conn.create(samples.timed_berlin(), HUB_ID)
        assert isinstance(res, WriteResult)
        assert res.remote_id and res.remote_version
        delta = conn.delta(None, {})
        assert _known(delta) == {res.remote_id: res.remote_version}

    @pytest.mark.parametrize("sample", sorted(samples.ROUND_TRIP))
    def test_round_trip(self, harness: Any, sample: str) -> None:
        conn = self._conn(harness)
        item = samples.ROUND_TRIP[sample]()
        res = conn.create(item, HUB_ID)
        [got] = conn.get_many([res.remote_id])
        assert got.error is None
        assert got.remote_id == res.remote_id
        assert got.remote_version == res.remote_version
        self._assert_same(harness, got.item, item)
        # what delta reports is the same content
        self._assert_same(harness, _by_uid(conn.delta(None, {}))[item.uid].item, item)

    def test_get_many_keeps_order_and_missing_raises(self, harness: Any) -> None:
        conn = self._conn(harness)
        a = conn.create(samples.simple("a@contract"), HUB_ID)
        b = conn.create(samples.simple("b@contract", day=11), HUB_ID)
        got = conn.get_many([b.remote_id, a.remote_id])
        assert [g.item.uid for g in got if g.item] == ["b@contract", "a@contract"]
        conn.delete(a.remote_id, a.remote_version)
        with pytest.raises(RemoteNotFound):
            conn.get_many([b.remote_id, a.remote_id])

    def test_update_with_right_version(self, harness: Any) -> None:
        conn = self._conn(harness)
        item = samples.timed_berlin()
        res = conn.create(item, HUB_ID)
        changed = item.replace(summary="Planning meeting (moved)", location="Room 1")
        res2 = conn.update(res.remote_id, res.remote_version, changed, HUB_ID)
        assert res2.remote_id == res.remote_id
        assert res2.remote_version != res.remote_version
        [got] = conn.get_many([res.remote_id])
        assert got.remote_version == res2.remote_version
        self._assert_same(harness, got.item, changed)

    def test_update_with_stale_version_fails(self, harness: Any) -> None:
        conn = self._conn(harness)
        item = samples.timed_berlin()
        res = conn.create(item, HUB_ID)
        edited = item.replace(summary="edited by the user")
        harness.user_update(item.uid, edited)
        with pytest.raises(PreconditionFailed):
            conn.update(res.remote_id, res.remote_version, item.replace(summary="ours"), HUB_ID)
        [got] = conn.get_many([res.remote_id])
        self._assert_same(harness, got.item, edited)  # the user's edit was not overwritten

    def test_delete_with_stale_version_fails(self, harness: Any) -> None:
        conn = self._conn(harness)
        item = samples.timed_berlin()
        res = conn.create(item, HUB_ID)
        harness.user_update(item.uid, item.replace(summary="edited by the user"))
        with pytest.raises(PreconditionFailed):
            conn.delete(res.remote_id, res.remote_version)
        assert len(conn.get_many([res.remote_id])) == 1

    def test_delete_removes_and_gone_item_is_success(self, harness: Any) -> None:
        conn = self._conn(harness)
        res = conn.create(samples.timed_berlin(), HUB_ID)
        conn.delete(res.remote_id, res.remote_version)
        assert conn.delta(None, {}).changed == ()
        conn.delete(res.remote_id, res.remote_version)  # already gone: success
        other = conn.create(samples.all_day(), HUB_ID)
        harness.user_delete(samples.all_day().uid)
        conn.delete(other.remote_id, other.remote_version)  # deleted by the user: success

    def test_create_of_existing_uid_fails(self, harness: Any) -> None:
        conn = self._conn(harness)
        item = samples.timed_berlin()
        conn.create(item, HUB_ID)
        with pytest.raises(RemoteAlreadyExists):
            conn.create(item.replace(summary="a second copy"), "hub-item-2")
        harness.user_create(samples.all_day())
        with pytest.raises(RemoteAlreadyExists):
            conn.create(samples.all_day(), "hub-item-3")
        assert len(conn.delta(None, {}).changed) == 2  # no duplicate was made

    def test_write_many_outcomes_in_order(self, harness: Any) -> None:
        conn = self._conn(harness)
        b = conn.create(samples.simple("b@contract"), HUB_ID)
        c = conn.create(samples.simple("c@contract", day=12), HUB_ID)
        harness.user_update("b@contract", samples.simple("b@contract", "user edit"))
        writes = [
            Write("create", "h-a", item=samples.simple("a@contract", day=13)),
            Write("update", "h-b", item=samples.simple("b@contract", "hub edit"),
                  remote_id=b.remote_id, expected_version=b.remote_version),  # stale
            Write("delete", "h-c", remote_id=c.remote_id, expected_version=c.remote_version),
            Write("create", "h-d", item=samples.simple("d@contract", day=14)),
        ]
        out = conn.write_many(writes)
        assert len(out) == 4
        assert isinstance(out[0], WriteResult) and out[0].remote_version
        assert isinstance(out[1], PreconditionFailed)
        assert out[2] == WriteResult(c.remote_id, "")
        assert isinstance(out[3], WriteResult) and out[3].remote_version
        listed = _by_uid(conn.delta(None, {}))
        assert sorted(listed) == ["a@contract", "b@contract", "d@contract"]
        assert listed["b@contract"].item.get("summary") == "user edit"
        assert listed["a@contract"].remote_version == out[0].remote_version
        assert listed["d@contract"].remote_version == out[3].remote_version

    # --- delta -------------------------------------------------------------------------

    def test_first_delta_lists_everything(self, harness: Any) -> None:
        for n, uid in enumerate(["x@contract", "y@contract", "z@contract"]):
            harness.user_create(samples.simple(uid, day=10 + n))
        delta = self._conn(harness).delta(None, {})
        assert delta.complete
        assert delta.deleted == ()
        assert sorted(_by_uid(delta)) == ["x@contract", "y@contract", "z@contract"]
        assert delta.listing_size == 3

    def test_empty_calendar_lists_nothing(self, harness: Any) -> None:
        delta = self._conn(harness).delta(None, {})
        assert delta.complete and delta.changed == () and delta.deleted == ()
        assert delta.listing_size == 0

    def test_nothing_changed_means_nothing_reported(self, harness: Any) -> None:
        harness.user_create(samples.simple("x@contract"))
        harness.user_create(samples.weekly_series())
        cursor, known, _ = self._first_sync(harness)
        again = self._conn(harness).delta(cursor, known)
        assert again.changed == () and again.deleted == ()

    def test_own_writes_are_recognized_as_echo(self, harness: Any) -> None:
        conn = self._conn(harness)
        harness.user_create(samples.simple("x@contract"))
        cursor, known, delta = self._first_sync(harness)
        [x] = delta.changed
        made = conn.create(samples.timed_berlin(), HUB_ID)
        upd = conn.update(x.remote_id, x.remote_version,
                          samples.simple("x@contract", "renamed"), HUB_ID)
        known[made.remote_id] = made.remote_version
        known[upd.remote_id] = upd.remote_version
        again = conn.delta(cursor, known)
        assert again.deleted == ()
        # a server cursor may report our own writes; then at the version the write returned
        assert all(known.get(r.remote_id) == r.remote_version for r in again.changed)
        assert conn.delta(again.cursor, known).changed == ()

    def test_user_edit_shows_up_as_changed(self, harness: Any) -> None:
        harness.user_create(samples.simple("x@contract"))
        harness.user_create(samples.simple("y@contract", day=11))
        cursor, known, _ = self._first_sync(harness)
        edited = samples.simple("x@contract", "edited by the user")
        harness.user_update("x@contract", edited)
        delta = self._conn(harness).delta(cursor, known)
        assert delta.deleted == ()
        [x] = delta.changed
        self._assert_same(harness, x.item, edited)
        assert x.remote_version != known[x.remote_id]

    def test_user_delete_shows_up_as_deleted(self, harness: Any) -> None:
        conn = self._conn(harness)
        harness.user_create(samples.simple("x@contract"))
        harness.user_create(samples.simple("y@contract", day=11))
        cursor, known, first = self._first_sync(harness)
        x_id = _by_uid(first)["x@contract"].remote_id
        harness.user_delete("x@contract")
        delta = conn.delta(cursor, known)
        assert delta.changed == ()
        if delta.complete or conn.capabilities.incremental:
            assert delta.deleted == (x_id,)
        else:  # neither a complete listing nor a server report: no proof of deletion
            assert delta.deleted == ()
        if delta.complete:
            assert delta.listing_size == 1

    def test_failed_listing_never_deletes(self, harness: Any) -> None:
        if not hasattr(harness, "listing_fails"):
            pytest.skip("this kind cannot inject a failed listing")
        harness.user_create(samples.simple("x@contract"))
        harness.user_create(samples.simple("y@contract", day=11))
        cursor, known, _ = self._first_sync(harness)
        with harness.listing_fails():
            try:
                delta = self._conn(harness).delta(cursor, known)
            except ConnectorError:
                delta = None
        if delta is not None:  # a connector may also report "incomplete, no deletions"
            assert not delta.complete and delta.deleted == ()
        after = self._conn(harness).delta(cursor, known)  # recovered, nothing lost
        assert after.deleted == () and after.changed == ()

    def test_partial_listing_never_deletes(self, harness: Any) -> None:
        if not hasattr(harness, "listing_partial"):
            pytest.skip("this kind cannot inject a partial listing")
        for n in range(6):
            harness.user_create(samples.simple(f"p{n}@contract", day=10 + n))
        cursor, known, _ = self._first_sync(harness)
        harness.user_update("p0@contract", samples.simple("p0@contract", "edited"))
        harness.user_delete("p1@contract")
        with harness.listing_partial():
            delta = self._conn(harness).delta(cursor, known)
        assert not delta.complete
        assert delta.deleted == ()
        assert all(r.remote_id in known for r in delta.changed)
        full = self._conn(harness).delta(cursor, known)  # the next good listing has it all
        assert [r.item.uid for r in full.changed if r.item] == ["p0@contract"]
        if full.complete or self._conn(harness).capabilities.incremental:
            assert len(full.deleted) == 1

    def test_malformed_item_is_reported_with_error(self, harness: Any) -> None:
        conn = self._conn(harness)
        harness.user_create(samples.simple("good@contract"))
        try:
            harness.user_write_raw("broken.ics", "BEGIN:VCALENDAR\nthis is not iCalendar\n")
        except NotImplementedError:
            pytest.skip("this kind cannot hold malformed content")
        delta = conn.delta(None, {})
        assert delta.deleted == ()
        good = [r for r in delta.changed if r.item is not None]
        bad = [r for r in delta.changed if r.item is None]
        assert [r.item.uid for r in good if r.item] == ["good@contract"]
        assert len(bad) == 1 and bad[0].error and bad[0].remote_version
        [again] = conn.get_many([bad[0].remote_id])
        assert again.item is None and again.error
