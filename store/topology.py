"""Hubs and spokes: create, read, change, remove."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from cirahub.core.errors import AlreadyExists, InvalidInput, NotFound
from cirahub.core.options import ConflictPolicy, SyncOptions
from cirahub.core.sealed import pack, split, unpack
from cirahub.core.states import SpokeState
from cirahub.store import models as m
from cirahub.store.base import (
    StoreBase,
    check_name,
    chunks,
    hub_record,
    spoke_record,
    utcnow,
)
from cirahub.store.engine import guarded
from cirahub.store.lease import RUNTIME
from cirahub.store.records import HubRecord, SpokeRecord

OBJECT_TYPES = ("calendar",)
#: the options key of the enabled flag, and the config key of a spoke's node pin
#: (``cirahub.cluster.placement.NODE_KEY``), read in SQL by :meth:`spoke_placements`
_ENABLED, _PIN = "enabled", "node"


@dataclass(frozen=True)
class NewSpoke:
    """A spoke to attach (:meth:`TopologyMixin.add_spokes`), as :meth:`add_spoke` takes it."""

    name: str
    kind: str
    config: Mapping[str, Any] | None = None
    options: SyncOptions | Mapping[str, Any] | None = None
    secret: str | None = None
#: options that change what is written where; a change re-checks every hub item (push cursor 0)
_SCHEDULING_ONLY = ("interval_seconds", "enabled")


def _policy(value: ConflictPolicy | str) -> ConflictPolicy:
    try:
        return ConflictPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in ConflictPolicy)
        raise InvalidInput(f"policy must be one of {choices} (got {value!r})",
                           field="policy") from None


def _config(config: Mapping[str, Any] | None) -> dict[str, Any]:
    if config is None:
        return {}
    if not isinstance(config, Mapping):
        raise InvalidInput("config must be a mapping of settings", field="config")
    try:
        return json.loads(json.dumps(dict(config)))
    except (TypeError, ValueError):
        raise InvalidInput("config values must be JSON-compatible", field="config") from None


def _options(options: SyncOptions | Mapping[str, Any] | None) -> SyncOptions:
    if options is None:
        return SyncOptions()
    if isinstance(options, SyncOptions):
        return options
    return SyncOptions.from_dict(options)


def _filters_changed(old: SyncOptions, new: SyncOptions) -> bool:
    a, b = old.to_dict(), new.to_dict()
    return any(a[k] != b[k] for k in a if k not in _SCHEDULING_ONLY)


class TopologyMixin(StoreBase):
    # --- hubs ----------------------------------------------------------------------------------

    @guarded
    def create_hub(
        self,
        name: str,
        policy: ConflictPolicy | str = ConflictPolicy.LATEST,
        object_type: str = "calendar",
    ) -> HubRecord:
        """Create a hub. InvalidInput (field named) on a bad name/policy/object type,
        AlreadyExists when the name is taken."""
        check_name(name, field="name")
        pol = _policy(policy)
        if object_type not in OBJECT_TYPES:
            raise InvalidInput(f"object_type must be one of {', '.join(OBJECT_TYPES)}",
                               field="object_type")
        values: dict[str, Any] = dict(id=str(uuid.uuid4()), name=name, object_type=object_type,
                      policy=pol.value, version=0, writer_epoch=0, created_at=utcnow())
        try:
            with self._write() as conn:
                if conn.execute(select(m.hubs.c.id).where(m.hubs.c.name == name)).first():
                    raise AlreadyExists(f"hub {name!r} already exists", hub=name)
                conn.execute(m.hubs.insert().values(**values))
                return hub_record(self._hub_row(conn, values["id"]))
        except IntegrityError:
            raise AlreadyExists(f"hub {name!r} already exists", hub=name) from None

    @guarded
    def get_hub(self, name_or_id: str) -> HubRecord:
        """The hub with this name or id; NotFound naming it otherwise."""
        with self._read() as conn:
            return hub_record(self._hub_row(conn, name_or_id))

    @guarded
    def list_hubs(self) -> list[HubRecord]:
        with self._read() as conn:
            return [hub_record(r) for r in conn.execute(select(m.hubs).order_by(m.hubs.c.name))]

    @guarded
    def update_hub(self, name_or_id: str, *, policy: ConflictPolicy | str | None = None) -> HubRecord:
        """Change a hub's conflict policy."""
        with self._write() as conn:
            row = self._hub_row(conn, name_or_id)
            if policy is not None:
                conn.execute(update(m.hubs).where(m.hubs.c.id == row.id)
                             .values(policy=_policy(policy).value))
            return hub_record(self._hub_row(conn, row.id))

    @guarded
    def delete_hub(self, name_or_id: str) -> None:
        """Delete a hub with its spokes, items, links, history, runs, conflicts, quarantine."""
        with self._write() as conn:
            row = self._hub_row(conn, name_or_id)
            conn.execute(delete(m.hubs).where(m.hubs.c.id == row.id))

    # --- spokes --------------------------------------------------------------------------------

    @guarded
    def add_spoke(
        self,
        hub: str,
        name: str,
        kind: str,
        config: Mapping[str, Any] | None = None,
        options: SyncOptions | Mapping[str, Any] | None = None,
        secret: str | None = None,
    ) -> SpokeRecord:
        """Attach a spoke to ``hub`` (name or id). ``secret`` is stored encrypted, with the
        config's sealed values (:mod:`cirahub.core.sealed`), which the stored config never holds.
        InvalidInput names the bad field; AlreadyExists when the hub has a spoke of that name."""
        ids = self.add_spokes(hub, [NewSpoke(name, kind, config, options, secret)])
        with self._read() as conn:
            return spoke_record(self._spoke_row(conn, ids[0]))

    @guarded
    def add_spokes(self, hub: str, spokes: Sequence[NewSpoke]) -> list[str]:
        """Attach many spokes to ``hub`` (name or id) in one transaction and one bulk INSERT
        (a fleet of thousands is stored in seconds); returns their ids, in order. All or
        nothing: InvalidInput or AlreadyExists naming the first bad spoke, and nothing is
        stored. Each spoke as :meth:`add_spoke`."""
        rows = [self._new_spoke_values(s, named=len(spokes) > 1) for s in spokes]
        names = [s.name for s in spokes]
        try:
            with self._write() as conn:
                hub_row = self._hub_row(conn, hub)
                seen: set[str] = set()
                taken = {r.name for part in chunks(names) for r in conn.execute(select(
                    m.spokes.c.name).where(m.spokes.c.hub_id == hub_row.id,
                                           m.spokes.c.name.in_(part)))}
                for name in names:
                    if name in taken or name in seen:
                        raise AlreadyExists(f"hub {hub_row.name!r} already has a spoke {name!r}",
                                            hub=hub_row.name, spoke=name)
                    seen.add(name)
                if rows:
                    conn.execute(m.spokes.insert(), [{"hub_id": hub_row.id, **r} for r in rows])
        except IntegrityError:  # a concurrent add of the same name
            what = f"a spoke {names[0]!r}" if len(names) == 1 else "one of these spokes"
            raise AlreadyExists(f"hub {hub!r} already has {what}", hub=hub) from None
        return [r["id"] for r in rows]

    def _new_spoke_values(self, spoke: NewSpoke, named: bool) -> dict[str, Any]:
        """The row of a new spoke (validated; ``named``: errors name the spoke)."""
        try:
            check_name(spoke.name, field="name")
            check_name(spoke.kind, field="kind")
            cfg, sealed = split(_config(spoke.config))
            opts = _options(spoke.options)
        except InvalidInput as exc:
            if not named:
                raise
            raise InvalidInput(f"spoke {spoke.name!r}: {exc.message}",
                               **{"spoke": spoke.name, **exc.fields}) from None
        secret = pack(spoke.secret or None, sealed)
        now = utcnow()
        return dict(
            id=str(uuid.uuid4()), name=spoke.name, kind=spoke.kind, config=cfg,
            options=opts.to_dict(), secret=self._box.encrypt(secret) if secret else None,
            pull_cursor=None, push_cursor=0,
            state=str(SpokeState.IDLE if opts.enabled else SpokeState.DISABLED),
            last_error=None, halted_reason=None, halt=None, confirmed_halt=None,
            initial_done=False, created_at=now, updated_at=now,
        )

    @guarded
    def get_spoke(self, spoke_id: str) -> SpokeRecord:
        with self._read() as conn:
            return spoke_record(self._spoke_row(conn, spoke_id))

    @guarded
    def poll_view(self, spoke_id: str) -> tuple[SpokeRecord, int, int]:
        """(the spoke, its hub's version, the runtime lease's epoch) in ONE query: what a
        scheduled poll reads before it knows whether there is anything to do (a fleet of
        idle spokes polls hundreds of times a second). NotFound for an unknown spoke."""
        view = self.poll_views([spoke_id]).get(spoke_id)
        if view is None:
            raise NotFound(f"spoke {spoke_id!r} does not exist", spoke_id=spoke_id)
        return view

    @guarded
    def poll_views(self, spoke_ids: Sequence[str]) -> dict[str, tuple[SpokeRecord, int, int]]:
        """:meth:`poll_view` of many spokes, one query per :data:`~.base.CHUNK` of them (the
        spoke actor reads the views of the polls due together at once); unknown ids are
        left out."""
        hub_version = (select(m.hubs.c.version).where(m.hubs.c.id == m.spokes.c.hub_id)
                       .scalar_subquery())
        epoch = (select(m.runtime_lease.c.epoch).where(m.runtime_lease.c.name == RUNTIME)
                 .scalar_subquery())
        stmt = select(m.spokes, hub_version.label("hub_version_"), epoch.label("runtime_epoch_"))
        out: dict[str, tuple[SpokeRecord, int, int]] = {}
        with self._read() as conn:
            for part in chunks(dict.fromkeys(spoke_ids)):
                where = (m.spokes.c.id == part[0] if len(part) == 1
                         else m.spokes.c.id.in_(part))
                for row in conn.execute(stmt.where(where)):
                    out[row.id] = (spoke_record(row), int(row.hub_version_ or 0),
                                   int(row.runtime_epoch_ or 0))
        return out

    @guarded
    def find_spoke(self, hub: str, name: str) -> SpokeRecord:
        """The spoke called ``name`` in ``hub`` (name or id); NotFound naming both."""
        with self._read() as conn:
            hub_row = self._hub_row(conn, hub)
            row = conn.execute(select(m.spokes).where(
                m.spokes.c.hub_id == hub_row.id, m.spokes.c.name == name)).first()
            if row is None:
                raise NotFound(f"hub {hub_row.name!r} has no spoke {name!r}",
                               hub=hub_row.name, spoke=name)
            return spoke_record(row)

    @guarded
    def list_spokes(self, hub: str | None = None) -> list[SpokeRecord]:
        """All spokes, or those of ``hub`` (name or id), ordered by hub then name."""
        with self._read() as conn:
            stmt = select(m.spokes).order_by(m.spokes.c.hub_id, m.spokes.c.name)
            if hub is not None:
                stmt = stmt.where(m.spokes.c.hub_id == self._hub_row(conn, hub).id)
            return [spoke_record(r) for r in conn.execute(stmt)]

    @guarded
    def spoke_placements(self) -> list[tuple[str, str, dict[str, Any]]]:
        """(id, hub id, config) of every *enabled* spoke, ordered by hub then name: what the
        placement reads on every reconcile (every few seconds). The enabled flag and the node
        pin are read in SQL (JSON paths), so the config returned holds only the pin
        (``{"node": NAME}``, or ``{}``): decoding 10,000 spokes' options and config JSON was
        a quarter of a supervisor's CPU at that scale."""
        spokes = m.spokes.c
        enabled = spokes.options[_ENABLED].as_boolean()
        pin = spokes.config[_PIN].as_string()
        with self._read() as conn:
            rows = conn.execute(select(spokes.id, spokes.hub_id, pin.label("pin"))
                                .where(enabled.is_not(False))
                                .order_by(spokes.hub_id, spokes.name))
            return [(r.id, r.hub_id, {_PIN: str(r.pin)} if r.pin else {}) for r in rows]

    @guarded
    def update_spoke(
        self,
        spoke_id: str,
        *,
        options: SyncOptions | Mapping[str, Any] | None = None,
        config: Mapping[str, Any] | None = None,
        secret: str | None = None,
        clear_secret: bool = False,
    ) -> SpokeRecord:
        """Change a spoke's options, config and/or secret (None = leave as is). A change of
        what is synced (filters, permissions, transforms — not the interval) resets the push
        cursor to 0 so every hub item is re-checked against the new options."""
        with self._write() as conn:
            row = self._spoke_row(conn, spoke_id)
            values: dict[str, Any] = {"updated_at": utcnow()}
            if options is not None:
                old, new = SyncOptions.from_dict(row.options), _options(options)
                values["options"] = new.to_dict()
                if _filters_changed(old, new):
                    values["push_cursor"] = 0
                if old.enabled != new.enabled:
                    values.update(self._enabled_state(row.state, new.enabled))
            values.update(self._secret_values(row, config, secret, clear_secret))
            conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id).values(**values))
            return spoke_record(self._spoke_row(conn, spoke_id))

    def _secret_values(self, row: Any, config: Mapping[str, Any] | None, secret: str | None,
                       clear_secret: bool) -> dict[str, Any]:
        """The config and secret columns after an update: a new config brings its own sealed
        values (none: none), else the stored ones stay; the spoke's own secret likewise."""
        if config is None and not secret and not clear_secret:
            return {}
        old = self._box.decrypt(row.secret, spoke_id=row.id) if row.secret is not None else None
        own, sealed = unpack(old)
        out: dict[str, Any] = {}
        if config is not None:
            out["config"], sealed = split(_config(config))
        own = secret or (None if clear_secret else own)
        packed = pack(own, sealed)
        out["secret"] = self._box.encrypt(packed) if packed else None
        return out

    @staticmethod
    def _enabled_state(state: str, enabled: bool) -> dict[str, Any]:
        if not enabled:
            return {"state": str(SpokeState.DISABLED)}
        return {"state": str(SpokeState.IDLE)} if state == SpokeState.DISABLED else {}

    @guarded
    def set_spoke_enabled(self, spoke_id: str, enabled: bool) -> SpokeRecord:
        """Enable or disable sync of a spoke (its ``options.enabled``; state "disabled")."""
        with self._write() as conn:
            row = self._spoke_row(conn, spoke_id)
            opts = replace(SyncOptions.from_dict(row.options), enabled=bool(enabled))
            conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id).values(
                options=opts.to_dict(), updated_at=utcnow(),
                **self._enabled_state(row.state, bool(enabled))))
            return spoke_record(self._spoke_row(conn, spoke_id))

    @guarded
    def remove_spoke(self, spoke_id: str) -> None:
        """Detach a spoke: its links, quarantine rows and runs go with it; hub items stay."""
        with self._write() as conn:
            self._spoke_row(conn, spoke_id)
            conn.execute(delete(m.spokes).where(m.spokes.c.id == spoke_id))

    @guarded
    def get_spoke_secret(self, spoke_id: str) -> str | None:
        """The decrypted secret (with the config's sealed values, :mod:`cirahub.core.sealed`),
        for the connector only. Never log or return it further."""
        with self._read() as conn:
            row = self._spoke_row(conn, spoke_id)
        if row.secret is None:
            return None
        return self._box.decrypt(row.secret, spoke_id=spoke_id)
