"""Pending writes (see :class:`cirahub.core.model.PendingWrite`): what a push stores before it
sends creates and updates, for one spoke (``note_pending_writes``) or a wave of them
(``note_pending_many``), with one implementation."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection

from cirahub.core.model import PendingWrite
from cirahub.store import models as m
from cirahub.store.base import chunks
from cirahub.store.rows import PlainInsert, execute_many, pair_where

#: unconfirmed writes kept per (spoke, hub item): the newest (older ones were written over)
MAX_PENDING = 4

_INSERT = PlainInsert(m.pending_writes, ("spoke_id", "hub_item_id", "hub_version",
                                         "fingerprint", "fp_version"))


def put_pending(conn: Connection, pending: Mapping[str, Sequence[PendingWrite]]) -> None:
    """Store each spoke's pending writes, keeping the newest :data:`MAX_PENDING` per (spoke,
    hub item) of those held and these; rows of items not named here are untouched, a hub
    item that no longer exists is skipped. The items and the rows the spokes hold of them
    are read in one statement per chunk (a LEFT JOIN: an item without rows is still seen to
    exist), the rows replaced or trimmed go in one DELETE executemany, the new ones in one
    INSERT: a push's chunk of 100 writes costs three statements, whatever the spokes."""
    want = {(spoke_id, p.hub_item_id, p.hub_version): (p.fingerprint, p.fp_version)
            for spoke_id, writes in pending.items() for p in writes}
    if not want:
        return
    wanted: dict[tuple[str, str], set[int]] = defaultdict(set)
    for spoke_id, item_id, version in want:
        wanted[(spoke_id, item_id)].add(version)
    items = sorted({i for _, i in wanted})
    spokes = sorted({s for s, _ in wanted})
    exists: set[str] = set()
    held: dict[tuple[str, str], set[int]] = defaultdict(set)
    for item_part in chunks(items):
        for spoke_part in chunks(spokes):  # a cross product: keep the asked pairs
            where = pair_where(conn, "pw.spoke_id", spoke_part, "hi.id", item_part)
            on, _, ids = where.partition(" AND ")
            for i, s, v in conn.exec_driver_sql(
                    "SELECT hi.id, pw.spoke_id, pw.hub_version FROM hub_items hi "
                    f"LEFT JOIN pending_writes pw ON pw.hub_item_id = hi.id AND {on} "
                    f"WHERE {ids}", (*spoke_part, *item_part)):
                exists.add(i)
                if s is not None and (s, i) in wanted:
                    held[(s, i)].add(int(v))
    keep = {key: set(sorted(held.get(key, set()) | versions)[-MAX_PENDING:])
            for key, versions in wanted.items() if key[1] in exists}
    # re-noted (inserted again below) or written over
    execute_many(conn, "DELETE FROM pending_writes WHERE spoke_id = ? AND hub_item_id = ? "
                 "AND hub_version = ?",
                 [(s, i, v) for (s, i), versions in held.items() for v in sorted(versions)
                  if (s, i, v) in want or v not in keep.get((s, i), set())])
    _INSERT.run(conn, [(s, i, v, fp, fv) for (s, i, v), (fp, fv) in want.items()
                       if v in keep.get((s, i), set())])
