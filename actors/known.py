"""Lazy remote versions of a spoke's links, for ``SpokeConnector.delta``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from cirahub.core.model import Link


class KnownVersions(Mapping[str, str]):
    """The remote versions of a spoke's links, as ``SpokeConnector.delta`` wants them, read
    lazily: a connector with a server cursor (sync-token, SyncFolderItems) asks only about the
    ids the server reported, so a no-change poll reads no link; a listing connector iterates,
    which loads every link's remote id and version once (two columns: what a no-change
    listing compares; planning then reads the whole links of the changed items only)."""

    #: after this many single look-ups, load everything in one query instead
    SINGLE_LOOKUPS = 64

    def __init__(self, store: Any, spoke_id: str,
                 loaded: Mapping[str, str] | None = None) -> None:
        """``loaded``: every link's version, already read (a batch of polls reads them
        together: ``Store.link_versions_of``)."""
        self._store, self._spoke_id = store, spoke_id
        self._single: dict[str, str | None] = {}
        self._all: dict[str, str] | None = dict(loaded) if loaded is not None else None

    def _load_all(self) -> dict[str, str]:
        if self._all is None:
            loaded: dict[str, str] = self._store.link_versions(self._spoke_id)
            self._all = loaded
        return self._all

    def _version(self, remote_id: str) -> str | None:
        if self._all is not None or len(self._single) >= self.SINGLE_LOOKUPS:
            return self._load_all().get(remote_id)
        if remote_id not in self._single:
            found: dict[str, Link] = self._store.links_for(self._spoke_id, remote_ids=[remote_id])
            link = found.get(remote_id)
            self._single[remote_id] = link.remote_version if link is not None else None
        return self._single[remote_id]

    def __getitem__(self, remote_id: str) -> str:
        loaded = self._all
        if loaded is not None:  # a listing's 5,000 look-ups: one dict look-up each
            return loaded[remote_id]
        version = self._version(remote_id)
        if version is None:
            raise KeyError(remote_id)
        return version

    def get(self, remote_id: str, default: Any = None) -> Any:
        loaded = self._all
        if loaded is not None:
            return loaded.get(remote_id, default)
        version = self._version(remote_id)
        return default if version is None else version

    def __contains__(self, remote_id: object) -> bool:
        loaded = self._all
        if loaded is not None:
            return remote_id in loaded
        return isinstance(remote_id, str) and self._version(remote_id) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self._load_all())

    def __len__(self) -> int:
        return len(self._load_all())
