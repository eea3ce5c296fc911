"""The rows a merge batch reads before it applies its ops (:meth:`cirahub.store.batch.Batch.load`),
as the driver's SQL.

SQLAlchemy's Core SELECT costs ~0.3 ms to build, compile-key and render per call and builds a
Row per result row; a batch sends three to nine of them (and the flush's DELETEs as many),
~15 ms per batch of 500. Here each is one ``exec_driver_sql`` of text with the driver's
parameter marks (:func:`cirahub.store.rows.marks`), chunked like the Core reads, its rows the
driver's tuples: every column read is text or a number (content as ``CAST(… AS TEXT)``, parsed
only if the batch needs it; the one timestamp put through its column type's result processor),
so the values equal the Core read's (``tests/store/test_batch_reads.py``, both backends).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import Connection

from cirahub.store import models as m
from cirahub.store.base import chunks
from cirahub.store.rows import driver_sql, marks, result_value

#: a link as the batch keeps it: (hub_item_id, remote_id, remote_version, fingerprint,
#: hub_version, fp_version)
LinkTuple = tuple[str, str, str, str, int, int]
#: a hub item: (id, uid, version, created_version, content's JSON text or None, fingerprint,
#: match_key, deleted)
ItemTuple = tuple[str, str, int, int, str | None, str | None, str | None, bool]


def _in(conn: Connection, sql: str, first: Sequence[Any], values: Iterable[str]) -> list[Any]:
    """The rows of ``sql`` (``?`` marks, ``{}`` for the IN list) per chunk of ``values``
    (sorted, distinct), ``first`` the parameters before the list."""
    out: list[Any] = []
    sql = driver_sql(conn, sql)
    for part in chunks(sorted(set(values))):
        result = conn.exec_driver_sql(sql.format(marks(conn, len(part))), (*first, *part))
        try:  # the driver's tuples (a Row per row costs more than the read)
            assert result.cursor is not None  # a SELECT's result holds its cursor until closed
            out.extend(result.cursor.fetchall())
        finally:
            result.close()
    return out


def links_by(conn: Connection, spoke_id: str, key: Literal["remote_id", "hub_item_id"],
             values: Iterable[str]) -> list[LinkTuple]:
    """The spoke's links whose ``key`` is one of ``values``."""
    return _in(
        conn, "SELECT hub_item_id, remote_id, remote_version, fingerprint, hub_version, "
        f"fp_version FROM links WHERE spoke_id = ? AND {key} IN ({{}})", (spoke_id,), values)


def hub_items_by_id(conn: Connection, hub_id: str, ids: Iterable[str]) -> list[ItemTuple]:
    """These hub items of ``hub_id`` (tombstones included), looked up by primary key; the hub
    is checked on each row, not in the WHERE clause (see
    :func:`cirahub.store.base.hub_item_rows`)."""
    return [(i, u, v, cv, text, fp, mk, bool(d))
            for i, h, u, v, cv, text, fp, mk, d in _in(
                conn, "SELECT id, hub_id, uid, version, created_version, CAST(content AS TEXT), "
                "fingerprint, match_key, deleted FROM hub_items WHERE id IN ({})", (), ids)
            if h == hub_id]


def alive_by_uid(conn: Connection, hub_id: str, uids: Iterable[str]) -> dict[str, str]:
    """UID → id of the hub's items that are not tombstones, of these UIDs."""
    return {u: i for i, u in _in(
        conn, "SELECT id, uid FROM hub_items WHERE hub_id = ? AND uid IN ({}) AND NOT deleted",
        (hub_id,), uids)}


def first_seen(conn: Connection, spoke_id: str, remote_ids: Iterable[str]) -> dict[str, Any]:
    """Remote id → ``first_seen`` (as the column reads it) of the spoke's quarantine rows of
    these remote ids."""
    column = m.quarantine.c.first_seen
    return {r: result_value(conn, column, seen) for r, seen in _in(
        conn, "SELECT remote_id, first_seen FROM quarantine WHERE spoke_id = ? "
        "AND remote_id IN ({})", (spoke_id,), remote_ids)}
