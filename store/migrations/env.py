"""Alembic environment: run programmatically by ``cirahub.store.engine.upgrade``, which passes
an open connection (inside its transaction) in ``config.attributes["connection"]``.

To write a new revision against a scratch database::

    alembic -x url=sqlite:///scratch.db -c /dev/null revision --autogenerate -m "..."
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cirahub.store.models import Base

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        # SQLite cannot ALTER most things; batch mode rebuilds tables for later revisions.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("pass -x url=<database url>")
    with create_engine(url).begin() as conn:
        _run(conn)
