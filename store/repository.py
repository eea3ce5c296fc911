"""The canonical store: ``Store.open(url)`` and everything the rest of cirahub asks of it.

The methods live in small mixins by concern — topology (:mod:`.topology`), planning reads
(:mod:`.reads`), the merge and writer guard (:mod:`.merge`), a spoke's sync state
(:mod:`.state`), runs / conflicts / quarantine / history (:mod:`.runs`), operator views of items
(:mod:`.items`), push runs of many spokes at once (:mod:`.pushes`). Guarantees common
to all of them:

- every call is its own transaction on a pooled connection: a Store is thread-safe;
- no raw SQLAlchemy exception escapes: a lost or unreachable database is ``StoreError``
  (retryable), a broken constraint the matching domain error (AlreadyExists, NotFound);
- secrets are encrypted at rest and appear in no value, repr or message.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from cirahub.core.errors import CirahubError, StoreError
from cirahub.store.apply import ApplyMixin
from cirahub.store.engine import make_engine, parse_url, translate, upgrade
from cirahub.store.files import prepare_sqlite_file, private_dir
from cirahub.store.items import ItemsMixin
from cirahub.store.lease import LeaseMixin
from cirahub.store.paths import default_data_dir
from cirahub.store.pushes import PushesMixin
from cirahub.store.reads import ReadsMixin
from cirahub.store.runs import RunsMixin
from cirahub.store.secrets import SecretBox, load_or_create_key
from cirahub.store.state import StateMixin
from cirahub.store.topology import TopologyMixin

DB_FILE = "cirahub.db"


class Store(TopologyMixin, ReadsMixin, ApplyMixin, StateMixin, RunsMixin, LeaseMixin,
            ItemsMixin, PushesMixin):
    """The canonical store of hubs, spokes, hub items, links, runs, conflicts, quarantine."""

    @classmethod
    def open(
        cls,
        url: str | None = None,
        *,
        data_dir: Path | None = None,
        secret_key: bytes | None = None,
        migrate: bool = True,
    ) -> Store:
        """Open (and migrate to the newest schema) the store at ``url``.

        ``url`` None → SQLite file ``<data_dir>/cirahub.db``. ``data_dir`` defaults to the
        user's data folder; it also holds ``secret.key`` unless ``secret_key`` or
        ``$CIRAHUB_SECRET_KEY`` gives the key. Raises StoreError when the database cannot be
        reached or migrated, InvalidInput for a malformed URL or key. ``migrate=False``
        skips the migration (for processes started after one that migrated).
        """
        folder = Path(data_dir) if data_dir is not None else default_data_dir()
        if url is None:
            private_dir(folder)
            url = f"sqlite:///{folder / DB_FILE}"
        parsed = parse_url(url)
        if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
            prepare_sqlite_file(Path(parsed.database))  # 0600, and so its -wal and -shm
        box = SecretBox(secret_key if secret_key is not None else load_or_create_key(folder))
        engine = make_engine(parsed)
        if not migrate:
            return cls(engine, box)
        try:
            upgrade(engine)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise translate(exc, "open") from exc
        except CirahubError:
            engine.dispose()
            raise
        except Exception as exc:  # alembic wraps some failures in its own exceptions
            engine.dispose()
            raise StoreError(f"open: migrating the store failed: {type(exc).__name__}",
                             action="open") from exc
        return cls(engine, box)

    @property
    def sqlite_file(self) -> Path | None:
        """The database file when the store is a SQLite file, else None (PostgreSQL)."""
        url = self._engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)

    def close(self) -> None:
        """Release every pooled connection. Calls after close raise StoreError."""
        self._closed = True
        self._engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({self._engine.url.render_as_string(hide_password=True)!r})"
