"""Discovery on graph spokes through the registry's hook (the kinds' discovery protocol):
a mailbox's calendars, paged."""

from __future__ import annotations

from cirahub.connectors.kinds import DiscoveryQuery
from cirahub.connectors.registry import discover

from .conftest import SECRET, GraphWorld


def test_mailbox_calendars_are_discovered_and_paged(world: GraphWorld) -> None:
    config = {k: v for k, v in world.config().items() if k != "page_size"}
    everything = discover("graph", config, SECRET)
    assert everything.calendars and everything.next_offset is None
    first = discover("graph", config, SECRET, DiscoveryQuery(page_size=1))
    assert [c.path for c in first.calendars] == [everything.calendars[0].path]
    assert first.next_offset == (1 if len(everything.calendars) > 1 else None)
