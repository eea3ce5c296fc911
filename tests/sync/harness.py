"""A small driver for whole-loop tests: one hub in a real store, spokes on real connectors,
synced through the real :class:`~cirahub.actors.cycle.SyncCycle`."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cirahub.actors.cycle import LocalMerger, RunSummary, SyncCycle
from cirahub.connectors.base import SpokeConnector
from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.core.errors import TransientError
from cirahub.core.item import Item
from cirahub.core.model import Delta, RemoteItem
from cirahub.core.options import ConflictPolicy, SyncOptions

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def event(uid: str, summary: str, day: int = 1, hour: int = 9, **fields: Any) -> Item:
    """A one-hour timed event on 2026-12-<day> at <hour>:00 UTC."""
    base = {
        "summary": summary,
        "start": {"utc": f"2026-12-{day:02d}T{hour:02d}:00:00Z", "tz": "UTC"},
        "end": {"utc": f"2026-12-{day:02d}T{hour + 1:02d}:00:00Z", "tz": "UTC"},
    }
    base.update(fields)
    return Item(uid, base)


async def until(check: Callable[[], bool], what: str, timeout: float = 120.0) -> None:
    """Wait for observable state (a spoke actor works on its own threads and loop tasks)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


class PagedMemory(MemoryConnector):
    """A memory spoke that hands its listing over in pages of ``page`` items
    (``paged_delta``, see :mod:`cirahub.actors.paged_pull`); ``fail_mid_listing(n)``: the
    next ``n`` paged listings fail after their first page."""

    def __init__(self, calendar: MemoryCalendar, *, page: int = 2, **kwargs: Any) -> None:
        super().__init__(calendar, **kwargs)
        self.page = page
        self.failing = 0
        self.pages_handed = 0
        self.failed_mid = 0

    def fail_mid_listing(self, n: int) -> None:
        self.failing = n

    def paged_delta(self, cursor: str | None, known: Mapping[str, str],
                    on_page: Callable[[Sequence[RemoteItem]], None]) -> Delta:
        delta = self.delta(cursor, known)
        for start in range(0, len(delta.changed), self.page):
            on_page(delta.changed[start:start + self.page])
            self.pages_handed += 1
            if self.failing:
                self.failing -= 1
                self.failed_mid += 1
                raise TransientError("injected failure in the middle of a listing")
        return delta


@dataclass
class Spoke:
    name: str
    id: str
    connector: SpokeConnector
    cycle: SyncCycle
    calendar: MemoryCalendar | None = None


@dataclass
class Loop:
    """One hub and its spokes, driven by hand."""

    store: Any
    hub_name: str = "team"
    policy: ConflictPolicy = ConflictPolicy.LATEST
    clock: Callable[[], datetime] = lambda: NOW
    spokes: dict[str, Spoke] = field(default_factory=dict)
    _seq: itertools.count = field(default_factory=itertools.count)

    def __post_init__(self) -> None:
        self.hub = self.store.create_hub(self.hub_name, policy=self.policy)
        self.merger = LocalMerger(self.store)

    def add(self, name: str, connector: SpokeConnector, options: SyncOptions | None = None,
            kind: str = "memory", config: dict[str, Any] | None = None) -> Spoke:
        record = self.store.add_spoke(
            self.hub.name, name, kind, config or {"calendar": f"{self.hub_name}-{name}"},
            options or SyncOptions(),
        )
        cycle = SyncCycle(self.store, connector, record.id, self.merger, clock=self.clock)
        spoke = Spoke(name, record.id, connector, cycle,
                      getattr(connector, "calendar", None))
        self.spokes[name] = spoke
        return spoke

    def add_memory(self, name: str, options: SyncOptions | None = None, *,
                   paged: bool = False, **kwargs: Any) -> Spoke:
        """A memory spoke; ``paged``: one that hands its listing over in pages."""
        calendar = MemoryCalendar(seed=len(self.spokes))
        kind = PagedMemory if paged else MemoryConnector
        return self.add(name, kind(calendar, **kwargs), options)

    def sync(self, name: str) -> RunSummary:
        return self.spokes[name].cycle.run("test")

    def sync_all(self, rounds: int = 2) -> list[RunSummary]:
        out = []
        for _ in range(rounds):
            for name in self.spokes:
                out.append(self.sync(name))
        return out

    def hub_items(self) -> dict[str, Item]:
        """Alive hub items by UID."""
        items = self.store.hub_items_changed_since(self.hub.id, 0)
        return {h.uid: h.item for h in items if h.item is not None}

    def writes(self, name: str) -> int:
        cal = self.spokes[name].calendar
        assert cal is not None
        return cal.stats["write"]
