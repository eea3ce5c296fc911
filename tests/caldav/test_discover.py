"""Discovery on caldav: a principal's calendar collections, paged, through the registry's
hook, against Radicale and Xandikos."""

from __future__ import annotations

from cirahub.connectors.kinds import DiscoveryQuery
from cirahub.connectors.registry import discover

from .servers import PASSWORD, USER, DavServer


def test_principal_lists_its_calendar_collections(dav_server: DavServer) -> None:
    paths = {dav_server.mkcalendar(display=name): name for name in ("Team", "Rooms", "Holidays")}
    config = {"url": dav_server.base + f"/{USER}/", "username": USER}
    page = discover("caldav", config, PASSWORD)
    got = {c.path: c.display_name for c in page.calendars}
    assert paths.items() <= got.items() and page.next_offset is None
    first = discover("caldav", config, PASSWORD, DiscoveryQuery(page_size=2))
    rest = discover("caldav", config, PASSWORD, DiscoveryQuery(page_size=2, offset=2))
    assert len(first.calendars) == 2 and first.next_offset == 2
    assert {c.path for c in first.calendars + rest.calendars} == set(got)
    one = discover("caldav", {**config, "url": dav_server.base + next(iter(paths))}, PASSWORD)
    assert [c.display_name for c in one.calendars] == [next(iter(paths.values()))]
