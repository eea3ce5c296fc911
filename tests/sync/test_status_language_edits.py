"""Issue 9: an edit that changes only what the model held as "nothing" — STATUS:CONFIRMED
(held as no status), an unmodelled STATUS value, the LANGUAGE or ALTREP parameter of a text —
is a change of the item and spreads between iCalendar spokes, through the real cycle, store
and vdir connectors; a spoke that cannot hold it (EWS: CONFIRMED is its no status, texts have
no parameters) is not rewritten for it."""

from __future__ import annotations

from pathlib import Path

import pytest

from cirahub.connectors.registry import open_connector
from cirahub.core.ical import parse_item
from tests.core.fingerprint_samples import GOOGLE, LANGUAGE, SERIES, TENTATIVE
from tests.sync.harness import Loop


def _folders(loop: Loop, tmp_path: Path, names: tuple[str, ...] = ("a", "b")) -> list[Path]:
    out = []
    for name in names:
        folder = tmp_path / name
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(name, open_connector("vdir", config), kind="vdir", config=config)
        out.append(folder)
    return out


def _only(folder: Path) -> Path:
    files = sorted(folder.glob("*.ics"))
    assert len(files) == 1, files
    return files[0]


def _unfolded(path: Path) -> str:
    return path.read_bytes().decode().replace("\r\n ", "")


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode()
    assert old in text, (old, text)
    path.write_bytes(text.replace(old, new).encode())


def _mtimes(folders: list[Path]) -> dict[str, int]:
    return {str(f): f.stat().st_mtime_ns for d in folders for f in d.glob("*.ics")}


EDITS = [
    pytest.param(GOOGLE, "STATUS:CONFIRMED\r\n", "", id="confirmed-to-none"),
    pytest.param(GOOGLE.replace("STATUS:CONFIRMED\r\n", ""), "TRANSP:OPAQUE\r\n",
                 "TRANSP:OPAQUE\r\nSTATUS:CONFIRMED\r\n", id="none-to-confirmed"),
    pytest.param(TENTATIVE, "STATUS:TENTATIVE", "STATUS:CONFIRMED", id="tentative-to-confirmed"),
    pytest.param(GOOGLE, "STATUS:CONFIRMED", "STATUS:CANCELLED", id="confirmed-to-cancelled"),
    pytest.param(LANGUAGE, "SUMMARY;LANGUAGE=de:", "SUMMARY;LANGUAGE=de-AT:", id="language"),
    pytest.param(LANGUAGE, "LOCATION;LANGUAGE=de:", "LOCATION:", id="language-removed"),
    pytest.param(LANGUAGE, "agenda.html", "agenda-v2.html", id="altrep"),
    pytest.param(SERIES, "SUMMARY;LANGUAGE=en:Weekly (moved)", "SUMMARY;LANGUAGE=fr:Weekly (moved)",
                 id="override-language"),
]


@pytest.mark.parametrize(("text", "old", "new"), EDITS)
def test_regression_status_and_text_parameter_edits_spread(
        store, tmp_path: Path, text: str, old: str, new: str) -> None:
    loop = Loop(store)
    folders = _folders(loop, tmp_path)
    (folders[0] / "event.ics").write_bytes(text.encode())
    loop.sync_all(rounds=2)
    copy = _only(folders[1])
    assert copy.read_bytes().decode() == text  # carried verbatim first
    # the edit is made in the copy (b) and must reach the original (a)
    _edit(copy, old, new)
    edited = _unfolded(copy)
    loop.sync_all(rounds=2)
    back = _unfolded(folders[0] / "event.ics")
    assert (new in back) if new else (old not in back), back
    assert parse_item(back).fields.get("verbatim") == parse_item(edited).fields.get("verbatim")
    # and then it stays put
    before = _mtimes(folders)
    loop.sync_all(rounds=1)
    assert _mtimes(folders) == before


def test_regression_status_edit_does_not_rewrite_a_spoke_that_holds_no_such_status(
        store, tmp_path: Path) -> None:
    """A memory spoke declared like EWS (no source text held): CONFIRMED ↔ none is no change
    there, so it is written once, at the create, never for the status edit."""
    loop = Loop(store)
    folders = _folders(loop, tmp_path)
    loop.add_memory("ews-like")
    (folders[0] / "event.ics").write_bytes(GOOGLE.encode())
    loop.sync_all(rounds=2)
    writes = loop.writes("ews-like")
    assert writes == 1
    _edit(_only(folders[1]), "STATUS:CONFIRMED\r\n", "")
    loop.sync_all(rounds=2)
    assert "STATUS:CONFIRMED" not in _unfolded(folders[0] / "event.ics")
    assert loop.writes("ews-like") == writes
