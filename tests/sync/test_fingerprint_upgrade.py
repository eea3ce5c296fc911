"""Issue 9: upgrading a store whose fingerprints are of version 1 (before STATUS:CONFIRMED and
the texts' parameters counted) rewrites nothing and makes no conflict, and an edit of just
those afterwards spreads. The store is built as the code of version 1 left it: synced through
the real cycle, then its hub contents, hub fingerprints and link fingerprints put back to what
version 1 computed and its schema taken down to revision 0008 (migration 0009's downgrade)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select, update

from cirahub.actors.cycle import LocalMerger, SyncCycle
from cirahub.connectors.registry import open_connector
from cirahub.core.fingerprint_versions import spoke_fingerprint_at
from cirahub.core.ical import parse_item
from cirahub.store import Store
from cirahub.store import models as m
from cirahub.store.engine import MIGRATIONS, writer
from tests.core.fingerprint_samples import GOOGLE, LANGUAGE, PARTIES, PLAIN, SERIES
from tests.sync.harness import Loop

FILES = {"google.ics": GOOGLE, "language.ics": LANGUAGE, "parties.ics": PARTIES,
         "plain.ics": PLAIN, "series.ics": SERIES}


def _alembic(store: Store, action: str, revision: str) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with writer(store.engine).begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, action)(cfg, revision)


def _as_left_by_version_1(loop: Loop) -> None:
    """Link fingerprints as version 1 computed them (of each spoke's copy, under its
    projection), then the schema and contents of revision 0008."""
    store = loop.store
    with store.engine.connect() as conn:
        assert conn.execute(select(m.pending_writes)).all() == []
        assert conn.execute(select(m.deleted_copies)).all() == []
    for spoke in loop.spokes.values():
        options = store.get_spoke(spoke.id).options
        for remote_id in store.links(spoke.id):
            copy = spoke.connector.get_many([remote_id])[0].item
            assert copy is not None
            old = spoke_fingerprint_at(copy, options, spoke.connector.capabilities, 1)
            with writer(store.engine).begin() as conn:
                conn.execute(update(m.links).where(
                    m.links.c.spoke_id == spoke.id, m.links.c.remote_id == remote_id)
                    .values(fingerprint=old))
    _alembic(store, "downgrade", "0008")


def _reopened(loop: Loop, store: Store) -> Loop:
    """The same hub and spokes on ``store`` (freshly opened), with fresh connectors."""
    loop.store, loop.merger = store, LocalMerger(store)
    for spoke in loop.spokes.values():
        if spoke.calendar is None:
            spoke.connector = open_connector("vdir", store.get_spoke(spoke.id).config)
        spoke.cycle = SyncCycle(store, spoke.connector, spoke.id, loop.merger, clock=loop.clock)
    return loop


def _mtimes(folders: list[Path]) -> dict[str, int]:
    return {str(f): f.stat().st_mtime_ns for d in folders for f in d.glob("*.ics")}


def _file_with(folder: Path, uid: str) -> Path:
    return next(f for f in folder.glob("*.ics") if f"UID:{uid}" in f.read_text())


@pytest.fixture
def upgraded(make_store, tmp_path: Path) -> tuple[Loop, list[Path]]:
    """Two folders and an EWS-like memory spoke (holds no source text), synced at version 1,
    then the store upgraded (opened again: migrations to head)."""
    loop = Loop(make_store())
    folders = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        config = {"path": str(folder)}
        loop.add(name, open_connector("vdir", config), kind="vdir", config=config)
        folders.append(folder)
    loop.add_memory("ews-like")
    for name, text in FILES.items():
        (folders[0] / name).write_bytes(text.encode())
    loop.sync_all(rounds=2)
    assert len(list(folders[1].glob("*.ics"))) == len(FILES)
    _as_left_by_version_1(loop)
    loop.store.close()
    store = make_store()
    with store.engine.connect() as conn:
        assert {r.fp_version for r in conn.execute(select(m.links.c.fp_version))} == {1}
    return _reopened(loop, store), folders


def _state(loop: Loop, folders: list[Path]) -> tuple[object, ...]:
    return (_mtimes(folders), loop.writes("ews-like"), loop.store.get_hub("team").version)


def test_regression_upgrade_to_fingerprint_version_2_rewrites_nothing(upgraded) -> None:
    loop, folders = upgraded
    before = _state(loop, folders)
    # the hub now reads what the sources say beyond version 1
    assert loop.hub_items()["g1@google.com"].fields["verbatim"] == {"status": "CONFIRMED"}
    summaries = loop.sync_all(rounds=2)
    assert _state(loop, folders) == before
    assert loop.store.list_conflicts("team") == []
    assert all(not s.counts.get("pushed") for s in summaries), [s.counts for s in summaries]


def test_regression_a_file_read_again_after_the_upgrade_is_no_change(upgraded) -> None:
    """A copy read again (touched, or re-written the same) is compared as version 1 saw it,
    and what version 2 adds as the hub content it was linked at says: no change, restamped."""
    loop, folders = upgraded
    for path in folders[1].glob("*.ics"):
        path.write_bytes(path.read_bytes())  # a new mtime: every copy is read again
    other = _mtimes([folders[0]]), loop.writes("ews-like"), loop.store.get_hub("team").version
    loop.sync_all(rounds=2)
    assert (_mtimes([folders[0]]), loop.writes("ews-like"),
            loop.store.get_hub("team").version) == other
    spoke_b = loop.spokes["b"].id
    assert {ln.fp_version for ln in loop.store.links(spoke_b).values()} == {2}


@pytest.mark.parametrize(("uid", "old", "new"), [
    ("g1@google.com", "STATUS:CONFIRMED\r\n", ""),
    ("l1@example.com", "SUMMARY;LANGUAGE=de:", "SUMMARY;LANGUAGE=de-CH:"),
    ("s1@example.com", "SUMMARY;LANGUAGE=en:Weekly (moved)", "SUMMARY:Weekly (moved)"),
])
def test_regression_after_the_upgrade_a_status_or_language_edit_spreads(
        upgraded, uid: str, old: str, new: str) -> None:
    loop, folders = upgraded
    writes = loop.writes("ews-like")
    copy = _file_with(folders[1], uid)
    text = copy.read_bytes().decode()
    assert old in text
    copy.write_bytes(text.replace(old, new).encode())
    loop.sync_all(rounds=2)
    back = _file_with(folders[0], uid).read_bytes().decode()
    assert parse_item(back).fields.get("verbatim") == parse_item(
        text.replace(old, new)).fields.get("verbatim")
    assert (new in back) if new else (old not in back)
    assert loop.writes("ews-like") == writes  # nothing it can hold changed
    before = _mtimes(folders)
    loop.sync_all(rounds=1)
    assert _mtimes(folders) == before
