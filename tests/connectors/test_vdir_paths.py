"""The vdir write path builds no ``pathlib.Path`` per file it creates (issue 15: names are
joined with os.path to the folder's text); outcomes, errors and files are what they were."""

from __future__ import annotations

import pathlib
from pathlib import Path
from typing import Any

import pytest

from cirahub.connectors.base import Write, WriteResult
from cirahub.connectors.vdir import VdirConnector
from cirahub.connectors.vdir_write import text_of
from cirahub.core.errors import PreconditionFailed, RemoteAlreadyExists, RemoteNotFound
from cirahub.core.item import Item


def _event(i: int) -> Item:
    return Item(f"path-{i:03d}@example.com", {
        "summary": f"Event {i}", "start": {"utc": "2027-01-05T09:00:00Z", "tz": "UTC"},
        "end": {"utc": "2027-01-05T10:00:00Z", "tz": "UTC"}})


def test_creates_build_no_path_per_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    connector = VdirConnector(tmp_path)
    joins: list[object] = []
    real = pathlib.PurePath.__truediv__

    def counting(self: pathlib.PurePath, key: Any) -> Any:
        joins.append(key)
        return real(self, key)

    monkeypatch.setattr(pathlib.PurePath, "__truediv__", counting)
    out = connector.write_many([Write("create", f"h{i}", item=_event(i)) for i in range(50)])
    assert all(isinstance(o, WriteResult) for o in out)
    assert joins == []


def test_outcomes_errors_and_files_are_as_before(tmp_path: Path) -> None:
    connector = VdirConnector(tmp_path)
    items = [_event(i) for i in range(4)]
    created = connector.write_many([Write("create", f"h{i}", item=it)
                                    for i, it in enumerate(items)])
    assert [o.remote_id for o in created if isinstance(o, WriteResult)] == [
        f"{it.uid}.ics" for it in items]
    for it in items:
        assert (tmp_path / f"{it.uid}.ics").read_bytes() == text_of(it).encode()
    v = [o.remote_version for o in created if isinstance(o, WriteResult)]
    changed = items[0].replace(summary="Changed")
    out = connector.write_many([
        Write("create", "again", item=items[1]),                       # exists
        Write("update", "h0", item=changed, remote_id=created[0].remote_id,  # type: ignore[union-attr]
              expected_version=v[0]),
        Write("update", "h2", item=changed, remote_id=f"{items[2].uid}.ics",
              expected_version="0-0-0"),                                # stale
        Write("delete", "h3", remote_id=f"{items[3].uid}.ics", expected_version=v[3]),
        Write("delete", "gone", remote_id="gone.ics", expected_version="1-1-1"),  # missing
        Write("update", "bad", item=changed, remote_id="../x.ics", expected_version="1"),
    ])
    assert isinstance(out[0], RemoteAlreadyExists) and out[0].fields["remote_id"] == (
        f"{items[1].uid}.ics")
    assert isinstance(out[1], WriteResult) and out[1].remote_id == f"{items[0].uid}.ics"
    assert (tmp_path / f"{items[0].uid}.ics").read_text().count("SUMMARY:Changed") == 1
    assert isinstance(out[2], PreconditionFailed)
    assert out[3] == WriteResult(f"{items[3].uid}.ics", "")
    assert not (tmp_path / f"{items[3].uid}.ics").exists()
    assert out[4] == WriteResult("gone.ics", "")
    assert isinstance(out[5], RemoteNotFound)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{it.uid}.ics" for it in items[:3])
