"""The connector contract for the ``memory`` kind, in listing and in server-cursor mode, plus
a lossy variant (unsupported fields)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.connectors.memory import MemoryCalendar, MemoryConnector
from cirahub.core.item import Item

from .suite import ConnectorContract


class MemoryHarness:
    """Harness over one fresh :class:`MemoryCalendar` (see the protocol in suite.py)."""

    def __init__(self, **connector_options: Any) -> None:
        self.calendar = MemoryCalendar(seed=7)
        self.connector = MemoryConnector(self.calendar, **connector_options)

    def _rid(self, uid: str) -> str:
        [rid] = self.calendar.find_uid(uid)
        return rid

    def user_create(self, item: Item) -> None:
        self.calendar.user_create(item)

    def user_update(self, uid: str, item: Item) -> None:
        self.calendar.user_update(self._rid(uid), item)

    def user_delete(self, uid: str) -> None:
        self.calendar.user_delete(self._rid(uid))

    def user_write_raw(self, name: str, text: str) -> None:
        self.calendar.user_write_raw(name, text)

    def project(self, item: Item) -> Item:
        drop = self.connector.capabilities.unsupported_fields
        return Item(
            item.uid,
            {k: v for k, v in item.fields.items() if k not in drop},
            {key: {k: v for k, v in ov.items() if k not in drop}
             for key, ov in item.overrides.items()},
        )

    @contextlib.contextmanager
    def listing_fails(self) -> Iterator[None]:
        self.calendar.fail_next_deltas(1_000_000)
        try:
            yield
        finally:
            self.calendar.fail_next_deltas(0)

    @contextlib.contextmanager
    def listing_partial(self) -> Iterator[None]:
        self.calendar.partial_next_deltas(1_000_000, fraction=0.5)
        try:
            yield
        finally:
            self.calendar.partial_next_deltas(0)


class TestMemoryListing(ConnectorContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness()


class TestMemoryIncremental(ConnectorContract):
    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness(incremental=True)


class TestMemoryLossy(ConnectorContract):
    """A spoke that cannot carry attendees, alarms or importance (like a simple feed)."""

    @pytest.fixture
    def harness(self) -> MemoryHarness:
        return MemoryHarness(unsupported_fields={"attendees", "organizer", "alarms", "importance"})
