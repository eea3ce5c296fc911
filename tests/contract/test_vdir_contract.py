"""The connector contract for the ``vdir`` kind, on a real folder."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.connectors.vdir import VdirConnector, file_name_for
from cirahub.core.ical import parse_item, to_ics
from cirahub.core.item import Item

from .suite import ConnectorContract


class VdirHarness:
    """A user of the folder edits files the way khal does: ``<uid>.ics``, written atomically
    (temp file + rename, so every edit gets a new inode)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.connector = VdirConnector(path)

    def _write(self, name: str, text: str) -> None:
        tmp = self.path / f".user-{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, self.path / name)

    def _name_of(self, uid: str) -> str:
        for entry in sorted(self.path.iterdir()):
            if entry.suffix == ".ics" and not entry.name.startswith("."):
                with contextlib.suppress(Exception):
                    if parse_item(entry.read_text(encoding="utf-8")).uid == uid:
                        return entry.name
        raise LookupError(uid)

    def user_create(self, item: Item) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._write(file_name_for(item.uid), to_ics(item))

    def user_update(self, uid: str, item: Item) -> None:
        self._write(self._name_of(uid), to_ics(item))

    def user_delete(self, uid: str) -> None:
        (self.path / self._name_of(uid)).unlink()

    def user_write_raw(self, name: str, text: str) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        self._write(name, text)

    def project(self, item: Item) -> Item:
        return item  # a vdir keeps full iCalendar

    @contextlib.contextmanager
    def listing_fails(self) -> Iterator[None]:
        """The folder vanishes (an unmounted disk) for the duration."""
        away = self.path.with_name(self.path.name + ".away")
        self.path.rename(away)
        try:
            yield
        finally:
            away.rename(self.path)


class TestVdir(ConnectorContract):
    @pytest.fixture
    def harness(self, tmp_path: Path) -> Iterator[VdirHarness]:
        h = VdirHarness(tmp_path / "calendar")
        h.path.mkdir()
        yield h
        h.connector.close()
