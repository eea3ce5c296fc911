"""Faults between the connector and a real Radicale (dropped connections, 5xx, slow and
truncated answers, answers lost after the server applied a write): the connector recovers or
raises TransientError, and never reports a deletion it did not prove."""

from __future__ import annotations

import pytest

from cirahub.connectors.caldav import CalDAVConnector
from cirahub.connectors.caldav.http import RetryPolicy
from cirahub.core.errors import RemoteAlreadyExists, TransientError
from cirahub.core.ical import to_ics
from tests.contract import samples

from .conftest import make_connector
from .servers import CalendarUser, Fault, FaultProxy


def _seed(user: CalendarUser, n: int = 5) -> list[str]:
    return [user.put(to_ics(samples.simple(f"f{i}@fault", day=1 + i))) for i in range(n)]


def _uids(delta) -> list[str]:
    return sorted(r.item.uid for r in delta.changed if r.item)


@pytest.mark.parametrize(
    "fault",
    [
        Fault("drop", count=2),
        Fault("status", count=3, status=503),
        Fault("status", count=1, status=502, method="REPORT", body_contains="multiget"),
        Fault("truncate", count=1, method="REPORT", body_contains="multiget"),
        Fault("truncate", count=1, method="REPORT", body_contains="sync-collection"),
        Fault("slow", count=1, delay=1.5, method="REPORT", body_contains="sync-collection"),
    ],
    ids=["drop", "503", "502-multiget", "truncated-multiget", "truncated-sync", "slow"],
)
def test_listing_recovers_from_passing_faults(
    proxy: FaultProxy, proxied: CalDAVConnector, user: CalendarUser, fault: Fault
):
    _seed(user)
    proxy.add(fault)
    delta = proxied.delta(None, {})
    assert delta.complete and delta.listing_size == 5
    assert _uids(delta) == [f"f{i}@fault" for i in range(5)]
    assert fault.count == 0  # the fault really happened


def test_lasting_failure_raises_and_reports_no_deletion(
    proxy: FaultProxy, proxied: CalDAVConnector, user: CalendarUser
):
    hrefs = _seed(user)
    first = proxied.delta(None, {})
    known = {r.remote_id: r.remote_version for r in first.changed}
    # the listing works but every item fetch fails
    proxy.add(Fault("status", count=-1, status=500, method="REPORT", body_contains="multiget"))
    user.delete(hrefs[0])
    user.put(to_ics(samples.simple("f1@fault", "edited", day=2)), hrefs[1])
    with pytest.raises(TransientError):
        proxied.delta(None, known)
    proxy.clear()
    proxy.add(Fault("drop", count=-1))
    with pytest.raises(TransientError):
        proxied.delta(first.cursor, known)
    proxy.clear()
    after = proxied.delta(first.cursor, known)
    assert after.deleted == (hrefs[0],)
    assert [(r.remote_id, r.item.get("summary")) for r in after.changed] == [(hrefs[1], "edited")]


def test_retry_after_is_honoured_within_bounds(
    proxy: FaultProxy, calendar_path: str, user: CalendarUser
):
    conn = make_connector(proxy.base, calendar_path, retry=RetryPolicy(3, 0.01, max_back_off=5))
    slept: list[float] = []
    conn.http._sleep = slept.append  # record instead of waiting
    proxy.add(Fault("status", count=1, status=503, retry_after="2"))
    assert conn.delta(None, {}).complete
    assert slept == [2.0]
    # a server asking for more than we wait in-call: give up at once, pass its wish on
    proxy.reset_count()
    proxy.add(Fault("status", count=1, status=429, retry_after="120"))
    with pytest.raises(TransientError) as err:
        conn.delta(None, {})
    assert err.value.back_off == 120.0
    assert proxy.count() == 1 and slept == [2.0]


def test_lost_answers_to_applied_writes(
    proxy: FaultProxy, proxied: CalDAVConnector, user: CalendarUser
):
    item = samples.timed_berlin()
    # create applied, answer lost: the retry finds it there → RemoteAlreadyExists (the sync
    # cycle re-pulls and links it by UID), and there is exactly one copy
    proxy.add(Fault("drop-after", count=1, method="PUT"))
    with pytest.raises(RemoteAlreadyExists):
        proxied.create(item, "h1")
    [made] = proxied.delta(None, {}).changed
    assert list(user.hrefs_by_uid()) == [item.uid]
    # update applied, answer lost: the retry's 412 reads back our content → success
    proxy.add(Fault("drop-after", count=1, method="PUT"))
    changed = item.replace(summary="after a lost answer")
    res = proxied.update(made.remote_id, made.remote_version, changed, "h1")
    [now] = proxied.get_many([made.remote_id])
    assert now.remote_version == res.remote_version and now.item == changed
    # delete applied, answer lost: the retry's 404 is success
    proxy.add(Fault("drop-after", count=1, method="DELETE"))
    proxied.delete(made.remote_id, res.remote_version)
    assert user.hrefs_by_uid() == {}
