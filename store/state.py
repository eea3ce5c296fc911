"""A spoke's sync state: links committed after a push, cursors, state, halts and their answers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError

from cirahub.core.errors import InvalidInput, NotFound
from cirahub.core.model import Link, PendingWrite
from cirahub.core.safety import HALT_SHOWN
from cirahub.core.states import STORED_STATES, SpokeState
from cirahub.store import models as m
from cirahub.store.base import StoreBase, chunks, utcnow
from cirahub.store.engine import guarded
from cirahub.store.pending import MAX_PENDING, put_pending
from cirahub.store.pushes import put_links
from cirahub.store.records import LEAVE, HaltInfo, PendingDelete, _Leave
from cirahub.store.rows import marks

_L = m.links.c
__all__ = ["MAX_PENDING", "StateMixin"]


class StateMixin(StoreBase):
    @guarded
    def commit_links(self, spoke_id: str, upserts: Sequence[Link], deletes: Sequence[str],
                     confirmed: Sequence[str] = ()) -> None:
        """After a push: set these links (replacing any link of the same hub item or the same
        remote id in the spoke) and delete the links of the hub item ids in ``deletes``, in one
        transaction; the pending writes of ``deletes`` and ``confirmed`` (hub items whose write
        succeeded) are done. NotFound when the spoke or a hub item no longer exists."""
        for ln in upserts:
            if ln.spoke_id != spoke_id:
                raise InvalidInput("a link of another spoke was committed", field="spoke_id",
                                   spoke_id=spoke_id)
        try:
            with self._write() as conn:
                if not conn.exec_driver_sql(f"SELECT 1 FROM spokes WHERE id = {marks(conn, 1)}",
                                            (spoke_id,)).first():
                    raise NotFound(f"spoke {spoke_id!r} does not exist", spoke_id=spoke_id)
                put_links(conn, {spoke_id: (upserts, deletes, confirmed)})
        except IntegrityError:
            raise NotFound("a committed link refers to a hub item that no longer exists",
                           spoke_id=spoke_id) from None

    @guarded
    def note_pending_writes(self, spoke_id: str, pending: Sequence[PendingWrite]) -> None:
        """Before a push sends creates and updates: store each write about to be sent, in one
        transaction, keeping the newest :data:`MAX_PENDING` of a hub item. They stay until the
        write's success is committed (``commit_links``' ``confirmed``) or a pull reads the item
        back, so the next pull can tell the echo of a write whose answer was lost from a spoke
        edit (``core.plan``, rows 3a' and 4b'). A hub item that no longer exists is skipped."""
        if pending:
            with self._write() as conn:
                put_pending(conn, {spoke_id: pending})

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
        state: SpokeState,
        *,
        error: Mapping[str, Any] | None = None,
        halted_reason: str | None = None,
    ) -> None:
        """Record a spoke's state with its last error (None clears it) and halt reason
        (None clears it; give it with state "halted")."""
        if state not in STORED_STATES:
            raise InvalidInput(f"unknown spoke state {state!r}", field="state")
        self._update_spoke_row(spoke_id, {
            "state": str(state),
            "last_error": dict(error) if error is not None else None,
            "halted_reason": halted_reason,
        })

    @guarded
    def record_halt(
        self, spoke_id: str, reason: str, digest: str, lost: Sequence[PendingDelete],
        deleting: int,
    ) -> HaltInfo:
        """Halt the spoke (state "halted") holding back ``lost`` (every linked item it no
        longer holds). The same digest as the current halt keeps that halt's id; anything else
        is a new halt and drops any confirmation (it answered another question)."""
        with self._write() as conn:
            row = self._spoke_row(conn, spoke_id)
            same = bool(row.halt) and row.halt.get("digest") == digest
            halt = HaltInfo(
                id=row.halt["id"] if same else str(uuid.uuid4()), digest=digest, reason=reason,
                at=utcnow(), deleting=deleting, lost=len(lost), items=tuple(lost[:HALT_SHOWN]),
                hub_item_ids=tuple(p.hub_item_id for p in lost),
            )
            conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id).values(
                state=str(SpokeState.HALTED), halted_reason=reason, halt=halt.to_json(),
                confirmed_halt=None, updated_at=utcnow()))
            return halt

    def _current_halt(self, conn: Any, spoke_id: str, halt_id: str | None) -> tuple[Any, HaltInfo]:
        row = self._spoke_row(conn, spoke_id)
        if not row.halt or not row.halted_reason:
            raise InvalidInput(f"spoke {row.name!r} is not halted: there is nothing to answer",
                               field="spoke", spoke=row.name)
        halt = HaltInfo.from_json(row.halt, confirmed=False)
        if halt_id and halt_id != halt.id:
            raise InvalidInput(
                f"halt {halt_id} of spoke {row.name!r} is no longer current (the spoke is now "
                f"halted by {halt.id}): look again with `cirahubctl status` and answer that",
                field="halt", spoke=row.name, halt=halt_id, current=halt.id)
        return row, halt

    @guarded
    def confirm_deletes(self, spoke_id: str, halt_id: str | None = None,
                        dry_run: bool = False) -> HaltInfo:
        """An operator confirms the spoke's current halt (``halt_id`` when given must be it):
        the next run applies the held-back deletions once, and only if it sees exactly the
        same loss (same digest); otherwise it halts again with a new halt. InvalidInput when
        the spoke is not halted or ``halt_id`` is not its current halt. ``dry_run`` checks and
        returns the halt without changing anything."""
        with self._write() as conn:
            _, halt = self._current_halt(conn, spoke_id, halt_id)
            if not dry_run:
                conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id).values(
                    confirmed_halt=halt.id, halted_reason=None, state="idle",
                    updated_at=utcnow()))
            return replace(halt, confirmed=not dry_run)

    @guarded
    def restore_from_hub(self, spoke_id: str, halt_id: str | None = None,
                         dry_run: bool = False) -> HaltInfo:
        """The opposite answer to a halt: the hub keeps the items, and the spoke gets the
        hub's copies back. Drops the links of the lost items and re-checks every hub item on
        the next push (push cursor 0), so the push re-creates them where ``hub_writes`` allows
        create; clears the halt. Same errors as :meth:`confirm_deletes`."""
        with self._write() as conn:
            _, halt = self._current_halt(conn, spoke_id, halt_id)
            if dry_run:
                return halt
            for part in chunks(sorted(set(halt.hub_item_ids))):
                conn.execute(delete(m.links).where(_L.spoke_id == spoke_id,
                                                   _L.hub_item_id.in_(part)))
            conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id).values(
                halt=None, confirmed_halt=None, halted_reason=None, state="idle",
                push_cursor=0, updated_at=utcnow()))
            return halt

    @guarded
    def clear_halt(self, spoke_id: str) -> None:
        """The run went through (its confirmed deletions applied, or nothing halts any more):
        forget the halt and its confirmation."""
        self._update_spoke_row(spoke_id, {"halt": None, "confirmed_halt": None})

    @guarded
    def end_first_attach(self, spoke_id: str) -> None:
        """The spoke's first complete run is done (first-attach matching by content ends)."""
        self._update_spoke_row(spoke_id, {"initial_done": True})

    def _update_spoke_row(self, spoke_id: str, values: dict[str, Any]) -> None:
        with self._write() as conn:
            result = conn.execute(update(m.spokes).where(m.spokes.c.id == spoke_id)
                                  .values(updated_at=utcnow(), **values))
            if not result.rowcount:
                raise NotFound(f"spoke {spoke_id!r} does not exist", spoke_id=spoke_id)

