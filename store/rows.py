"""Bulk INSERTs of plain rows on the sync's hot path (a merge's hub items, versions and links,
a push's links and pending writes).

SQLAlchemy's executemany builds and processes one parameter dict per row (~6 µs a row on
SQLite), and a JSON column runs ``json.dumps`` on every value — a value the merge had just
serialized and parsed back to know what it reads back as. Here a row is a tuple of *driver
values* and a JSON value is its text, serialized once (:func:`json_text`):

- SQLite: the DB-API's own ``executemany`` of the tuples (``exec_driver_sql``), with what
  the column types would have made of the values: a timestamp as :func:`driver_value`
  renders it (once per batch, not per row), a boolean as the integer the driver stores;
- PostgreSQL (psycopg2): multi-row ``INSERT … VALUES (…), (…)`` statements of at most
  :data:`VALUES_PAGE` rows (what the Core INSERT's "insertmanyvalues" sent, without building,
  processing and keying a parameter dict per row: ~0.1 ms a row, ~60 % of the merge's CPU on
  PostgreSQL), the JSON columns as their text, as the Core INSERT bound them; psycopg2 adapts
  the same Python values either way (the column types process none of them on psycopg2).

Either way the database receives what the Core INSERT of the same values sent before, byte
for byte (``tests/store/test_rows.py`` compares them), so stored values read back identical
and databases written before read the same.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Column, Connection, Table, Text, bindparam
from sqlalchemy.sql.dml import Insert

#: json.dumps(value, default=str), the encoder built once: what is not JSON (a date, …)
#: becomes its str, tuples become lists — the text of what the value reads back as
_ENCODE = json.JSONEncoder(default=str).encode


def json_text(value: Any) -> str:
    """The text a JSON column stores for ``value``: SQLAlchemy's JSON type sends
    ``json.dumps`` of it (``None``: JSON ``null``, the column is not ``none_as_null``); what
    is not JSON is stored as its ``str`` (the merge's ``jsonable`` did that before)."""
    return _ENCODE(value)


def read_back(value: Any) -> Any:
    """``value`` as it reads back from a JSON column (tuples → lists, a date → its str…)."""
    return json.loads(_ENCODE(value))


def new_ids(n: int) -> list[str]:
    """``n`` random (version 4) UUIDs as strings, from one read of the OS's random source
    (``uuid.uuid4`` reads it once per id): what ``str(uuid.UUID(bytes=b, version=4))`` makes
    of each 16 bytes, the version and variant bits set on the bytes and the text cut from one
    hex string (a UUID object per id cost three times as much)."""
    raw = bytearray(os.urandom(16 * n))
    raw[6::16] = bytes(b & 0x0F | 0x40 for b in raw[6::16])  # version 4
    raw[8::16] = bytes(b & 0x3F | 0x80 for b in raw[8::16])  # variant RFC 4122
    h = raw.hex()
    return [f"{h[j:j + 8]}-{h[j + 8:j + 12]}-{h[j + 12:j + 16]}-{h[j + 16:j + 20]}-"
            f"{h[j + 20:j + 32]}" for j in range(0, 32 * n, 32)]


def driver_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """``value`` as the column's type hands it to the driver on ``conn``'s database (SQLite:
    a timestamp becomes SQLAlchemy's text form of it; PostgreSQL: the datetime itself)."""
    dialect = conn.dialect
    process = column.type.dialect_impl(dialect).bind_processor(dialect)
    return value if process is None else process(value)


def result_value(conn: Connection, column: Column[Any], value: Any) -> Any:
    """A driver's ``value`` of ``column`` as the column's type reads it back on ``conn``'s
    database (SQLite: a timestamp's text becomes a datetime; PostgreSQL: the driver's value)."""
    dialect = conn.dialect
    process = column.type.dialect_impl(dialect).result_processor(dialect, None)
    return value if process is None else process(value)


#: rows per multi-row INSERT on PostgreSQL (SQLAlchemy's insertmanyvalues page size)
VALUES_PAGE = 1000


class PlainInsert:
    """``INSERT INTO table (columns)`` of tuples of driver values (JSON columns: the text of
    :func:`json_text`; timestamps: :func:`driver_value`)."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        for name in (table.name, *columns):
            if not name.isidentifier() or name.lower() != name:
                raise ValueError(f"not a plain lower-case SQL name: {name!r}")
        self.table, self.columns = table, tuple(columns)
        self._sql = (f"INSERT INTO {table.name} ({', '.join(self.columns)}) "
                     f"VALUES ({', '.join('?' * len(self.columns))})")
        self._core: Insert = table.insert().values({
            c: bindparam(c, type_=Text() if isinstance(table.c[c].type, JSON)
                         else table.c[c].type)
            for c in self.columns})

        self._values: dict[int, str] = {}

    def run(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql(self._sql, list(rows))
        elif conn.dialect.driver == "psycopg2":
            for start in range(0, len(rows), VALUES_PAGE):
                page = rows[start:start + VALUES_PAGE]
                conn.exec_driver_sql(self._values_sql(len(page)),
                                     tuple(v for row in page for v in row))
        else:  # another driver: the Core INSERT (its types bind the values)
            keys = self.columns
            conn.execute(self._core, [dict(zip(keys, row, strict=True)) for row in rows])

    def _values_sql(self, n: int) -> str:
        """``INSERT INTO table (columns) VALUES`` ``n`` rows of psycopg2's ``%s`` marks."""
        sql = self._values.get(n)
        if sql is None:
            row = f"({', '.join(('%s',) * len(self.columns))})"
            sql = self._values[n] = (f"INSERT INTO {self.table.name} "
                                     f"({', '.join(self.columns)}) VALUES {', '.join((row,) * n)}")
        return sql


def _mark(conn: Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


def marks(conn: Connection, n: int) -> str:
    """``n`` positional parameter marks of the driver (``?`` for SQLite, ``%s`` for
    psycopg2)."""
    return ", ".join((_mark(conn),) * n)


def driver_sql(conn: Connection, sql: str) -> str:
    """``sql`` written with ``?`` marks (and no other ``?`` or ``%``) in the driver's marks."""
    mark = _mark(conn)
    return sql if mark == "?" else sql.replace("?", mark)


def pair_where(conn: Connection, first: str, a: Sequence[Any], second: str,
               b: Sequence[Any]) -> str:
    """``first IN (a…) AND second IN (b…)`` in driver marks (parameters: ``(*a, *b)``)."""
    return f"{first} IN ({marks(conn, len(a))}) AND {second} IN ({marks(conn, len(b))})"


def select_pairs(conn: Connection, columns: str, table: str, first: str, a: Sequence[Any],
                 second: str, b: Sequence[Any]) -> Sequence[Any]:
    """The plain rows of ``SELECT columns FROM table WHERE first IN a AND second IN b`` (text
    and number columns only: no type of SQLAlchemy's is applied to them). SQLAlchemy's Core
    statement costs ~0.3 ms to build, compile-key and render per call against ~0.04 ms for
    the driver's; a push commits a chunk of links with a handful of these."""
    return conn.exec_driver_sql(
        f"SELECT {columns} FROM {table} WHERE {pair_where(conn, first, a, second, b)}",
        (*a, *b)).all()


def delete_pairs_in(conn: Connection, table: str, first: str, a: Sequence[Any], second: str,
                    b: Sequence[Any]) -> None:
    """``DELETE FROM table WHERE first IN a AND second IN b`` (see :func:`select_pairs`)."""
    conn.exec_driver_sql(f"DELETE FROM {table} WHERE {pair_where(conn, first, a, second, b)}",
                         (*a, *b))


def execute_many(conn: Connection, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """The driver's executemany of ``sql`` written with ``?`` marks (made ``%s`` for
    psycopg2) over plain rows; nothing when there are none."""
    if rows:
        conn.exec_driver_sql(driver_sql(conn, sql), list(rows))
