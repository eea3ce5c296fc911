"""Giving back occurrences Exchange deleted: a series is recreated.

Exchange cannot un-delete an occurrence: ``DeletedOccurrences`` is read-only (exchangelib
refuses to set it, Exchange answers ``ErrorInvalidPropertySet``) and an update of the
recurrence keeps the deletions (OfficeDev/ews-managed-api#235: extending a series did not bring
a deleted occurrence back). So when the hub's series excludes fewer occurrences than the
Exchange copy (a user re-included one elsewhere, or the winner of a merge has fewer EXDATEs),
the writer makes a new master with the same UID and hub stamp, re-applies its deleted and
modified occurrences, and then deletes the old item. The result names the new item, so the
pusher moves the link to it and the next poll sees neither a delete nor a create.

Order: *create, then delete*. A crash in between leaves two copies for a while (the next pull
quarantines the unlinked one as a duplicate UID instead of fanning it out, and the next
attempt of the same write deletes it before creating again), never zero: a series missing from
the spoke reads as a user's delete, which the planner may carry to the hub and every other
spoke. A visible duplicate is a nuisance; a lost series is data loss.

Every request carries SendToNone (no meeting mail for the recreated item or the old one's
deletion).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from exchangelib import Q
from exchangelib.items import HARD_DELETE, SEND_TO_NONE

from cirahub.connectors.base import Write, WriteOutcome, WriteResult
from cirahub.core.errors import CirahubError, PreconditionFailed, RemoteNotFound
from cirahub.core.item import Item

from .client import item_error, raise_delete_failures

if TYPE_CHECKING:
    from .writes import Writer


def restored_occurrences(have: Item | None, wanted: Item) -> list[str]:
    """Occurrence keys Exchange holds deleted that ``wanted`` (a projection) does not exclude:
    what only a recreation can give back."""
    if have is None or not wanted.get("rrule"):
        return []
    keep = set(wanted.get("exdates") or [])
    return sorted(k for k in have.get("exdates") or [] if k not in keep)


def recreate(writer: Writer, w: Write, old_id: str) -> WriteOutcome:
    """Replace series ``old_id`` by a new item holding ``w``'s projection; the new id and
    ChangeKey, or the error (the old item then still stands, unless only its delete failed:
    then both stand and the next attempt deletes the newer one first)."""
    assert w.item is not None
    held = writer.projected[w.hub_item_id].item
    try:
        ci = writer._new_item(w, writer._values(w))
        writer._check(ci, "create item")

        def attempt() -> str:
            # leftovers first: a retry after a lost answer, or an earlier crashed recreation
            _delete(writer, _leftovers(writer, w, old_id), "delete leftover copy")
            made = writer.acc.bulk_create(writer.folder, [ci], send_meeting_invitations=SEND_TO_NONE)
            if isinstance(made[0], Exception):
                raise item_error(made[0], "create item")
            return str(made[0].id)

        new_id: str = writer.conn.call(attempt, "recreate series")
        writer._occurrences(new_id, held)
        if _change_key_or_none(writer, old_id) != w.expected_version:
            # edited or deleted in Outlook meanwhile: the user's action stands, ours is taken
            # back and the next pull re-plans (a recreated copy must not undo a delete)
            writer.conn.call(lambda: _delete(writer, [new_id], "delete recreated series"),
                             "delete recreated series")
            raise PreconditionFailed("item changed on the server", remote_id=old_id)
        writer.conn.call(lambda: _delete(writer, [old_id], "delete replaced series"),
                         "delete replaced series")
        return WriteResult(new_id, writer._change_key(new_id))
    except CirahubError as exc:
        return exc


def _change_key_or_none(writer: Writer, rid: str) -> str | None:
    try:
        return writer._change_key(rid)
    except RemoteNotFound:
        return None


def _leftovers(writer: Writer, w: Write, old_id: str) -> list[str]:
    """Copies an earlier attempt of this recreation left (an answer lost, or a crash before
    the old one was deleted): our hub stamp and the same UID, another id."""
    assert w.item is not None
    uid = w.item.uid
    found = writer.folder.filter(Q(hub_id=w.hub_item_id)).only("hub_id", "uid")
    return [ci.id for ci in found if ci.id != old_id and ci.uid == uid]


def _delete(writer: Writer, ids: Iterable[str], what: str) -> None:
    """Hard-delete items (one already gone is fine); run inside ``conn.call``."""
    todo: list[Any] = [(rid, None) for rid in ids]
    if not todo:
        return
    raise_delete_failures(writer.acc.bulk_delete(
        todo, delete_type=HARD_DELETE, send_meeting_cancellations=SEND_TO_NONE), what)
