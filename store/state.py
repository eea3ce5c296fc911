"""A spoke's sync state: links committed after a push, cursors, state, halt confirmation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from cirahub.core.errors import InvalidInput, NotFound
from cirahub.core.model import Link
from cirahub.store import models as m
from cirahub.store.base import StoreBase, chunks, utcnow
from cirahub.store.engine import guarded
from cirahub.store.records import LEAVE, _Leave

#: spoke states the store accepts
STATES = frozenset({"idle", "running", "ok", "error", "halted", "disabled"})
_L = m.links.c


def link_values(spoke_id: str, link: Link) -> dict[str, Any]:
    return dict(spoke_id=spoke_id, hub_item_id=link.hub_item_id, remote_id=link.remote_id,
                remote_version=link.remote_version, fingerprint=link.fingerprint,
                hub_version=link.hub_version)


class StateMixin(StoreBase):
    @guarded
    def commit_links(self, spoke_id: str, upserts: Sequence[Link], deletes: Sequence[str]) -> None:
        """After a push: set these links (replacing any link of the same hub item or the same
        remote id in the spoke) and delete the links of the hub item ids in ``deletes``, in one
        transaction. NotFound when the spoke or a hub item no longer exists."""
        for ln in upserts:
            if ln.spoke_id != spoke_id:
                raise InvalidInput("a link of another spoke was committed", field="spoke_id",
                                   spoke_id=spoke_id)
        final = {ln.hub_item_id: ln for ln in upserts}  # the last write of an item wins
        try:
            with self._write() as conn:
                self._spoke_row(conn, spoke_id)
                gone = set(deletes) | set(final)
                for part in chunks(sorted(gone)):
                    conn.execute(delete(m.links).where(_L.spoke_id == spoke_id,
                                                       _L.hub_item_id.in_(part)))
                for part in chunks(sorted({ln.remote_id for ln in final.values()})):
                    conn.execute(delete(m.links).where(_L.spoke_id == spoke_id,
                                                       _L.remote_id.in_(part)))
                rows = [link_values(spoke_id, ln) for ln in final.values()]
                for part in chunks(rows):
                    conn.execute(m.links.insert(), part)
        except IntegrityError:
            raise NotFound("a committed link refers to a hub item that no longer exists",
                           spoke_id=spoke_id) from None

    @guarded
    def set_cursors(
        self,
        spoke_id: str,
        *,
        pull_cursor: str | _Leave | None = LEAVE,
        push_cursor: int | _Leave = LEAVE,
    ) -> None:
        """Set the pull cursor (None = pull everything again) and/or the push cursor (the hub
        version up to which the spoke is known to be written); LEAVE keeps a value."""
        values: dict[str, Any] = {}
        if not isinstance(pull_cursor, _Leave):
            values["pull_cursor"] = pull_cursor
        if not isinstance(push_cursor, _Leave):
            if isinstance(push_cursor, bool) or not isinstance(push_cursor, int) or push_cursor < 0:
                raise InvalidInput("push_cursor must be a hub version >= 0", field="push_cursor")
            values["push_cursor"] = push_cursor
        if values:
            self._update_spoke_row(spoke_id, values)

    @guarded
    def set_spoke_state(
        self,
        spoke_id: str,
        state: str,
        *,
        error: Mapping[str, Any] | None = None,
        halted_reason: str | None = None,
    ) -> None:
        """Record a spoke's state with its last error (None clears it) and halt reason
        (None clears it; give it with state "halted")."""
        if state not in STATES:
            raise InvalidInput(f"unknown spoke state {state!r}", field="state")
        self._update_spoke_row(spoke_id, {
            "state": state,
            "last_error": dict(error) if error is not None else None,
            "halted_reason": halted_reason,
        })

    @guarded
    def confirm_deletes(self, spoke_id: str) -> None:
        """An operator confirms a halted spoke's deletions: the next run may apply them
        (once), and the halt is cleared."""
        with self._write() as conn:
            row = self._spoke_row(conn, spoke_id)
            values: dict[str, Any] = {"confirm_deletes": True, "halted_reason": None,
                                      "updated_at": utcnow()}
            if row.state == "halted":
                values["state"] = "idle"
            conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id).values(**values))

    @guarded
    def consume_confirm(self, spoke_id: str) -> bool:
        """Clear the spoke's delete confirmation; True when one was set."""
        with self._write() as conn:
            result = conn.execute(update(m.spokes).where(
                m.spokes.c.id == spoke_id, m.spokes.c.confirm_deletes.is_(True)
            ).values(confirm_deletes=False, updated_at=utcnow()))
            if result.rowcount:
                return True
            self._spoke_row(conn, spoke_id)
            return False

    @guarded
    def mark_initial_done(self, spoke_id: str) -> None:
        """The spoke's first complete run is done (first-attach matching by content ends)."""
        self._update_spoke_row(spoke_id, {"initial_done": True})

    def _update_spoke_row(self, spoke_id: str, values: dict[str, Any]) -> None:
        with self._write() as conn:
            result = conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id)
                                  .values(updated_at=utcnow(), **values))
            if not result.rowcount:
                raise NotFound(f"spoke {spoke_id!r} does not exist", spoke_id=spoke_id)

