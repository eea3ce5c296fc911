"""Lazy remote versions of a spoke's links, for ``SpokeConnector.delta``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cirahub.core.model import Link


class KnownVersions(Mapping[str, str]):
    """The remote versions of a spoke's links, as ``SpokeConnector.delta`` wants them, read
    lazily: a connector with a server cursor (sync-token, SyncFolderItems) asks only about the
    ids the server reported, so a no-change poll reads no link; a listing connector iterates,
    which loads every link once (and the cycle reuses them for planning)."""

    #: after this many single look-ups, load everything in one query instead
    SINGLE_LOOKUPS = 64

    def __init__(self, store: Any, spoke_id: str) -> None:
        self._store, self._spoke_id = store, spoke_id
        self._single: dict[str, Link | None] = {}
        self.all_links: dict[str, Link] | None = None

    def _load_all(self) -> dict[str, Link]:
        if self.all_links is None:
            loaded: dict[str, Link] = self._store.links(self._spoke_id)
            self.all_links = loaded
            return loaded
        return self.all_links

    def _link(self, remote_id: str) -> Link | None:
        if self.all_links is not None or len(self._single) >= self.SINGLE_LOOKUPS:
            return self._load_all().get(remote_id)
        if remote_id not in self._single:
            found = self._store.links_for(self._spoke_id, remote_ids=[remote_id])
            self._single[remote_id] = found.get(remote_id)
        return self._single[remote_id]

    def __getitem__(self, remote_id: str) -> str:
        link = self._link(remote_id)
        if link is None:
            raise KeyError(remote_id)
        return link.remote_version

    def __iter__(self) -> Iterator[str]:
        return iter(self._load_all())

    def __len__(self) -> int:
        return len(self._load_all())
