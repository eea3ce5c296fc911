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
    # the session's server holds other tests' calendars too: page through all of them
    first = discover("caldav", config, PASSWORD, DiscoveryQuery(page_size=2))
    assert len(first.calendars) == 2 and first.next_offset == 2
    paged, offset = list(first.calendars), first.next_offset
    while offset is not None:
        page = discover("caldav", config, PASSWORD, DiscoveryQuery(page_size=2, offset=offset))
        assert len(page.calendars) <= 2
        paged += page.calendars
        offset = page.next_offset
    assert [c.path for c in paged] == list(got) and len(set(got)) == len(paged)
    one = discover("caldav", {**config, "url": dav_server.base + next(iter(paths))}, PASSWORD)
    assert [c.display_name for c in one.calendars] == [next(iter(paths.values()))]
