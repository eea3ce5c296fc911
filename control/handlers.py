"""What each control-plane call does, in domain terms (no protobuf here).

:class:`Handlers` wraps the running runtime (``Runtime`` from ``cirahub.actors.runtime``:
``.store``, ``reconcile()``, ``sync_now()``, ``status()``, ``events()``). Every method either
completes or raises a :class:`~cirahub.core.errors.CirahubError`; inputs are validated fully
before anything is stored, so a rejected call changes nothing. After a topology change the
runtime is asked to reconcile at once, so new or changed spokes start without waiting for the
supervisor's next loop.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from cirahub.connectors import registry
from cirahub.connectors.kinds import DiscoveryPage, DiscoveryQuery, get_kind
from cirahub.control.connection import ConnectionCheck, test_connection
from cirahub.control.items import ItemDetail, ItemPage, ItemViews
from cirahub.control.paging import Page, Paged
from cirahub.control.runlog import config_change
from cirahub.control.spoke_checks import (
    awaits_login,
    check_spoke_input,
    refuse_unusable,
    unusable,
)
from cirahub.control.syncing import sync_rounds
from cirahub.core import limits
from cirahub.core.errors import InvalidInput
from cirahub.core.model import HubItem
from cirahub.core.options import SyncOptions
from cirahub.core.sealed import pack, unpack
from cirahub.store.files import backup_sqlite
from cirahub.store.protocols import ControlStore
from cirahub.store.records import ConflictEntry, HubRecord, QuarantineEntry, SpokeRecord

log = logging.getLogger(__name__)

#: what a backup of the store does not contain
KEY_NOTE = ("the secret key with it (secret.key in the server's data folder, or "
            "$CIRAHUB_SECRET_KEY): without it the stored passwords cannot be read")



class RuntimeLike(Protocol):
    """The part of ``cirahub.actors.runtime.Runtime`` the control plane uses."""

    @property
    def store(self) -> ControlStore: ...

    def reconcile(self) -> Any: ...

    def reconcile_soon(self) -> None: ...

    def sync_now(self, hub: str, spoke: str | None = None,
                 only: Collection[str] | None = None) -> Iterator[Any]: ...

    def status(self, hub: str | None = None) -> list[Any]: ...

    def backup(self, path: str) -> tuple[str, int, str]: ...

    def events(self, since: int, timeout: float) -> list[Any]: ...

    def last_seq(self) -> int: ...

    def hub_actors(self) -> list[dict[str, Any]]: ...


@dataclass(frozen=True)
class Names:
    """Id → name lookups for hubs and spokes (events and runs carry ids)."""

    hubs: Mapping[str, str]
    spokes: Mapping[str, str]

    def hub(self, hub_id: str | None) -> str:
        return self.hubs.get(hub_id or "", hub_id or "")

    def spoke(self, spoke_id: str | None) -> str:
        return self.spokes.get(spoke_id or "", spoke_id or "")


class Handlers:
    """The control plane's operations on one runtime."""

    def __init__(self, runtime: RuntimeLike) -> None:
        self.runtime = runtime
        self.store = runtime.store

    def _changed(self) -> None:
        """Let the runtime pick up a topology change now (not waited for: the change is
        stored, the spokes run within seconds). A failure here is not the caller's: the
        supervisor's own loop reconciles later, so it is logged, not raised."""
        try:
            self.runtime.reconcile_soon()
        except Exception:  # pragma: no cover - depends on the runtime's health
            log.exception("reconcile after a topology change failed; the supervisor retries")

    def names(self, hub: str | None = None) -> Names:
        """Names of every hub and of every spoke, or of ``hub``'s spokes only (what a sync of
        one hub names: reading every spoke of a 10,000-spoke fleet was most of such a sync's
        fixed cost). NotFound for an unknown ``hub``."""
        hubs = {h.id: h.name for h in self.store.list_hubs()}
        spokes = {s.id: s.name for s in self.store.list_spokes(hub)}
        return Names(hubs, spokes)

    # --- hubs --------------------------------------------------------------------------------

    def create_hub(self, name: str, policy: str = "", object_type: str = "") -> HubRecord:
        _required(name, "hub")
        limits.check_text(policy, field="policy", limit=limits.MAX_NAME)
        limits.check_text(object_type, field="object_type", limit=limits.MAX_NAME)
        hub = self.store.create_hub(name, policy or "latest", object_type or "calendar")
        config_change("hub created", hub=name, policy=policy or "latest")
        self._changed()
        return hub

    def get_hub(self, name: str) -> HubRecord:
        return self.store.get_hub(_required(name, "hub"))

    def list_hubs(self) -> list[HubRecord]:
        return list(self.store.list_hubs())

    def spoke_count(self, hub_id: str) -> int:
        return len(self.store.list_spokes(hub_id))

    def delete_hub(self, name: str) -> None:
        self.store.delete_hub(_required(name, "hub"))
        config_change("hub deleted", hub=name)
        self._changed()

    # --- spokes ------------------------------------------------------------------------------

    def add_spoke(
        self, hub: str, name: str, kind: str, config: Mapping[str, Any],
        options: Mapping[str, Any], secret: str | None, *, check: bool = True,
    ) -> SpokeRecord:
        """Attach a spoke. With ``check`` its calendar is reached first and the spoke refused
        (ConfigError, AuthError…, nothing stored) when it cannot be used."""
        self.store.get_hub(_required(hub, "hub"))  # NotFound before config errors
        _required(name, "spoke")
        normalized = check_spoke_input(kind, config, secret)
        opts = SyncOptions.from_dict(options)
        if check and not awaits_login(normalized, secret):
            refuse_unusable(name, kind, test_connection(kind, normalized, secret), opts)
        spoke = self.store.add_spoke(hub, name, kind, normalized, opts, secret or None)
        config_change("spoke added", hub=hub, spoke=name, kind=kind, checked=check,
                      enabled=opts.enabled)
        self._changed()
        return spoke

    def get_spoke(self, hub: str, name: str) -> SpokeRecord:
        return self.store.find_spoke(_required(hub, "hub"), _required(name, "spoke"))

    def list_spokes(self, hub: str) -> list[SpokeRecord]:
        if hub:
            self.store.get_hub(_required(hub, "hub"))
        return list(self.store.list_spokes(hub or None))

    def update_spoke(
        self, hub: str, name: str, changes: Mapping[str, Any], secret: str | None,
        *, check: bool = True,
    ) -> SpokeRecord:
        """Change options and/or the secret. With ``check``, a new secret or new hub_writes is
        tried against the calendar first (as :meth:`add_spoke` does)."""
        spoke = self.get_spoke(hub, name)
        limits.check_secret(secret)
        if not changes and secret is None:
            raise InvalidInput("nothing to change: give at least one option or a new secret",
                               field="options")
        if secret is not None and not secret:
            raise InvalidInput("the new secret must not be empty", field="secret")
        new = spoke.options.with_changes(changes)
        if check and (secret is not None or new.hub_writes != spoke.options.hub_writes):
            stored = (pack(secret, unpack(self._secret(spoke))[1]) if secret is not None  # keep sealed values
                      else self._secret(spoke))
            refuse_unusable(name, spoke.kind,
                            test_connection(spoke.kind, spoke.config, stored), new, "changed")
        updated = self.store.update_spoke(spoke.id, options=new, secret=secret)
        config_change("spoke options changed", hub=hub, spoke=name,
                      options=",".join(sorted(changes)) or "-",
                      secret="replaced" if secret is not None else "kept")
        self._changed()
        return updated

    def _secret(self, spoke: Any) -> str | None:
        return self.store.get_spoke_secret(spoke.id) if spoke.has_secret else None

    def test_spoke(self, hub: str, name: str) -> ConnectionCheck:
        """Reach an attached spoke's calendar with its stored config and secret (writes
        nothing); the answer says whether it can be used, and why not."""
        spoke = self.get_spoke(hub, name)
        result = test_connection(spoke.kind, spoke.config, self._secret(spoke))
        reason = unusable(spoke.kind, result, spoke.options)
        if reason and result.ok:
            return replace(result, ok=False, message=reason)
        return result

    def remove_spoke(self, hub: str, name: str) -> None:
        spoke = self.get_spoke(hub, name)
        self.store.remove_spoke(spoke.id)
        config_change("spoke removed", hub=hub, spoke=name)
        self._changed()

    def set_enabled(self, hub: str, name: str, enabled: bool) -> SpokeRecord:
        spoke = self.get_spoke(hub, name)
        updated = self.store.set_spoke_enabled(spoke.id, enabled)
        config_change("spoke enabled" if enabled else "spoke disabled", hub=hub, spoke=name)
        self._changed()
        return updated

    def confirm_deletes(self, hub: str, name: str, halt_id: str = "",
                        dry_run: bool = False) -> tuple[Any, Any]:
        """(spoke, halt): "yes" to the spoke's current halt (see Store.confirm_deletes)."""
        spoke = self.get_spoke(hub, name)
        halt = self.store.confirm_deletes(spoke.id, halt_id or None, dry_run=dry_run)
        if not dry_run:
            config_change("halt confirmed", hub=hub, spoke=name, halt=halt.id,
                          deleting=halt.deleting)
            self._changed()
        return self.store.get_spoke(spoke.id), halt

    def restore(self, hub: str, name: str, halt_id: str = "",
                dry_run: bool = False) -> tuple[Any, Any, int]:
        """(spoke, halt, recreated): "no" to the spoke's current halt; the hub writes its
        copies back where ``hub_writes`` allows create (see Store.restore_from_hub)."""
        spoke = self.get_spoke(hub, name)
        halt = self.store.restore_from_hub(spoke.id, halt_id or None, dry_run=dry_run)
        alive = self.store.hub_items(spoke.hub_id, set(halt.hub_item_ids)) if halt.lost else {}
        recreated = (sum(1 for h in alive.values() if h.item is not None)
                     if spoke.options.hub_writes.create else 0)
        if not dry_run:
            config_change("halt answered with restore", hub=hub, spoke=name, halt=halt.id,
                          written_back=recreated)
            self._changed()
        return self.store.get_spoke(spoke.id), halt, recreated

    # --- sync and status ---------------------------------------------------------------------

    def sync_now(self, hub: str, spoke: str) -> Iterator[Any]:
        """Progress events of runs started now: of one spoke, of a hub's enabled spokes, or
        (``hub`` empty) of every hub's, hub by hub, each hub's followed by its
        :class:`~cirahub.control.syncing.HubOutcome` (rounds until converged, see there).
        Each run ends with its own final event."""
        if spoke and not hub:
            raise InvalidInput("a spoke is named by its hub: give the hub too", field="hub")
        if spoke:
            record = self.get_spoke(hub, spoke)
            if not record.options.enabled:
                raise InvalidInput(f"spoke {spoke!r} of hub {hub!r} is disabled; enable it "
                                   "first", field="spoke", hub=hub, spoke=spoke)
        hubs = [self.store.get_hub(_required(hub, "hub"))] if hub else self.store.list_hubs()
        for h in hubs:
            yield from sync_rounds(self.store, self.runtime, h, spoke or None)

    def status(self, hub: str) -> list[Any]:
        if hub:
            self.store.get_hub(_required(hub, "hub"))
        return list(self.runtime.status(hub or None))

    def runs(self, hub: str, spoke: str, limit: int) -> list[Any]:
        """Newest runs first, at most ``limit`` (0 = 50, at most MAX_LIMIT)."""
        return self.runs_page(hub, spoke, limit, Page(limits.limit(limit, 50))).entries

    def runs_page(self, hub: str, spoke: str, limit: int, page: Page) -> Paged:
        """One page of the newest runs: at most ``limit`` (0 = 50) over all pages."""
        total = limits.limit(limit, 50)
        spoke_id = self.get_spoke(hub, spoke).id if spoke else None
        if hub and not spoke:
            self.store.get_hub(_required(hub, "hub"))
        count = min(page.size, total - page.offset)
        if count <= 0:
            return Paged([], "")
        found = list(self.store.list_runs(hub or None, spoke_id, count + 1, offset=page.offset))
        more = len(found) > count and page.offset + count < total
        return Paged(found[:count], str(page.offset + count) if more else "")

    def conflicts(self, hub: str, spoke: str, limit: int) -> list[tuple[ConflictEntry, HubItem | None]]:
        """(conflict entry, current hub item or None), newest first (the console's view)."""
        entries = self.conflicts_page(hub, spoke, limit, Page(limits.limit(limit, 100))).entries
        out: list[tuple[ConflictEntry, HubItem | None]] = []
        for hub_id in dict.fromkeys(c.hub_id for c in entries):
            ids = {c.hub_item_id for c in entries if c.hub_id == hub_id and c.hub_item_id}
            current = self.store.hub_items(hub_id, ids) if ids else {}
            out += [(c, current.get(c.hub_item_id or "")) for c in entries if c.hub_id == hub_id]
        return out

    def conflicts_page(self, hub: str, spoke: str, limit: int, page: Page) -> Paged:
        """One page of conflict entries, newest first per hub, hub by hub: at most ``limit``
        (0 = 100) over all pages."""
        total = limits.limit(limit, 100)
        spoke_id = self.get_spoke(hub, spoke).id if spoke else None
        hubs = [self.store.get_hub(_required(hub, "hub"))] if hub else self.store.list_hubs()
        wanted = min(total, page.offset + page.size + 1)
        out: list[Any] = []
        for h in hubs:
            out += [c for c in self.store.list_conflicts(h.id, wanted)
                    if spoke_id is None or c.spoke_id == spoke_id]
            if len(out) >= wanted:
                break
        return page.cut(out[:total])

    def get_conflict(self, conflict_id: str) -> tuple[ConflictEntry, HubItem | None]:
        """(conflict entry with its losing item, current hub item or None)."""
        limits.check_text(conflict_id, field="id", limit=limits.MAX_NAME)
        if not conflict_id:
            raise InvalidInput("a conflict id is required", field="id")
        entry = self.store.get_conflict(conflict_id)
        current = (self.store.hub_items(entry.hub_id, {entry.hub_item_id})
                   if entry.hub_item_id else {})
        return entry, current.get(entry.hub_item_id or "")

    def quarantine(self, hub: str, spoke: str) -> list[QuarantineEntry]:
        if spoke:
            return list(self.store.list_quarantine(spoke_id=self.get_spoke(hub, spoke).id))
        if hub:
            self.store.get_hub(_required(hub, "hub"))
        return list(self.store.list_quarantine(hub=hub or None))

    # --- hub items ---------------------------------------------------------------------------

    def items(self, hub: str, spoke: str = "", search: str = "", page_size: int = 0,
              page_token: str = "") -> ItemPage:
        """One page of the hub's items with their copies (see :meth:`ItemViews.page`)."""
        return ItemViews(self.store).page(hub, spoke, search, page_size, page_token)

    def item(self, hub: str, uid: str, history_limit: int = 0) -> ItemDetail:
        """One hub item with its copies and history (see :meth:`ItemViews.detail`)."""
        return ItemViews(self.store).detail(_required(hub, "hub"), uid, history_limit)

    def backup(self, path: str) -> tuple[str, int, str]:
        """(path, bytes, note): a consistent copy of the live SQLite store at ``path``; on
        PostgreSQL InvalidInput with the pg_dump command instead (see store.files)."""
        db = self.store.sqlite_file
        if db is None:
            url = self.store.engine.url.set(query={}).render_as_string(hide_password=True)
            raise InvalidInput(
                f"the store is PostgreSQL: back it up with `pg_dump --format=custom "
                f"--file=FILE '{url}'` (restore: `pg_restore --clean --dbname=URL FILE`), and "
                f"keep {KEY_NOTE}", field="path")
        size = backup_sqlite(db, Path(path))
        log.info("store backed up to %s (%d bytes)", path, size)
        note = (f"keep {KEY_NOTE}. To restore: stop the server, replace {db} with this file "
                f"(and delete {db.name}-wal and {db.name}-shm), start the server")
        return path, size, note

    def events(self, since: int, timeout: float) -> list[Any]:
        return list(self.runtime.events(since, timeout))

    def last_seq(self) -> int:
        """The newest event's sequence number: following from it means "from now on"."""
        return int(self.runtime.last_seq())

    # --- observability (the console's dashboard and /metrics) --------------------------------

    def hub_item_count(self, hub: str) -> int:
        """Alive items of the hub ``hub``; NotFound for an unknown hub."""
        return int(self.store.count_items(self.store.get_hub(_required(hub, "hub")).id))

    def discover(self, kind: str, config: Mapping[str, Any], secret: str | None, under: str = "",
                 page_size: int = 0, page_token: str = "",
                 mailboxes: tuple[str, ...] = ()) -> DiscoveryPage:
        """One page of what ``config``'s connection settings reach (see
        :func:`cirahub.connectors.registry.discover`); nothing is stored. InvalidInput for a
        bad page token or size, or a missing secret."""
        spec = get_kind(kind)
        if spec.needs_secret(config) and not secret:
            what = spec.secret.name_for(config) if spec.secret else "secret"
            raise InvalidInput(f"discovering {kind} calendars needs the {what} (API: the 'secret' "
                               "field)", field="secret", kind=kind)
        if page_token and not page_token.isdigit():
            raise InvalidInput("page_token is not one this server gave out", field="page_token")
        query = DiscoveryQuery(under=under, page_size=page_size or 100,
                               offset=int(page_token or 0), mailboxes=mailboxes)
        return registry.discover(kind, config, secret, query)

    def test_connection(
        self, kind: str, config: Mapping[str, Any], secret: str | None
    ) -> ConnectionCheck:
        """Validate a spoke's config like :meth:`add_spoke` and reach its calendar once,
        storing nothing (see :mod:`cirahub.control.connection`)."""
        return test_connection(kind, check_spoke_input(kind, config, secret), secret)

    def hub_actors(self) -> list[dict[str, Any]]:
        """The hub actors' own status (one dict each; ``error`` set for one that did not
        answer)."""
        return list(self.runtime.hub_actors())


def _required(value: str, what: str) -> str:
    """A name given to find or create a hub / spoke: required and bounded (a name the store
    could never hold is refused before any lookup, so errors stay short)."""
    return limits.check_name(value, field=what)

