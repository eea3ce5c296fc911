"""A 1,000-item collection: first sync fetches in batches; a no-change poll is one request."""

from __future__ import annotations

import pytest

from cirahub.core.ical import serialize_calendar
from tests.contract import samples

from .conftest import make_connector
from .servers import CalendarUser, FaultProxy, Xandikos

N = 1000


def test_no_change_poll_of_1000_items_is_one_request(proxy: FaultProxy, user: CalendarUser):
    if isinstance(user.radicale, Xandikos):
        pytest.skip("Xandikos has no one-request bulk upload; 1000 PUTs would dominate the run")
    items = [samples.simple(f"bulk-{n:04d}@cirahub.test", day=1 + n % 28) for n in range(N)]
    user.upload_calendar(serialize_calendar(items))  # Radicale's one-request bulk path
    conn = make_connector(proxy.base, user.path, max_parallel=4)
    try:
        first = conn.delta(None, {})
        assert first.complete and first.listing_size == N and len(first.changed) == N
        assert sorted(r.item.uid for r in first.changed) == [i.uid for i in items]
        # discovery + one sync-collection + ceil(N / 100) multigets
        assert proxy.count("REPORT") == 1 + N // 100 and proxy.count() == 2 + N // 100
        known = {r.remote_id: r.remote_version for r in first.changed}
        proxy.reset_count()
        again = conn.delta(first.cursor, known)
        assert again.changed == () and again.deleted == ()
        assert proxy.requests == [("REPORT", user.path)]  # O(1): one sync-collection REPORT
        assert conn.http.request_count == 2 + N // 100 + 1
    finally:
        conn.close()


def test_parallel_writes_keep_each_outcome_with_its_write(user: CalendarUser):
    """Writes to different items run at once (max_parallel); an outcome still belongs to its
    write, and two writes of one item keep their order: the second create of a UID in the
    same batch finds the first one's copy."""
    from cirahub.connectors.base import Write
    from cirahub.core.errors import RemoteAlreadyExists

    items = [samples.simple(f"par-{n:03d}@cirahub.test", day=1 + n % 28) for n in range(30)]
    conn = make_connector(user.radicale.base, user.path, max_parallel=4)
    try:
        writes = [Write("create", f"h{n}", item=i) for n, i in enumerate(items)]
        writes.insert(10, Write("create", "again", item=items[3]))
        out = conn.write_many(writes)
        assert isinstance(out[10], RemoteAlreadyExists)
        created = [o for n, o in enumerate(out) if n != 10]
        assert [o.remote_id for o in created] == [  # type: ignore[union-attr]
            user.path + f"{i.uid}.ics" for i in items]
        assert sorted(user.hrefs_by_uid()) == sorted(i.uid for i in items)
    finally:
        conn.close()
