"""Writing a merge batch's outcome (:class:`cirahub.store.batch.Batch`, changed in memory by its
ops) in a handful of bulk statements, and which items pruning must then look at.

Only what could be stored is deleted. Every stored link the ops could touch was loaded (by
remote id and by hub item), and a hub item the batch created has no link, pending write or old
version yet: a first pull's merge (new items, new links) sends no DELETE and no pruning query,
which were 4 of a batch's 13 statements (~50 ms of ~500 ms of CPU per 5,000 items).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from sqlalchemy import Text, bindparam, delete, update

from cirahub.store import models as m
from cirahub.store.base import chunks, update_links_in_place
from cirahub.store.pruning import KEEP_VERSIONS
from cirahub.store.rows import PlainInsert, delete_pairs_in, driver_value

if TYPE_CHECKING:
    from cirahub.store.batch import Batch

_I, _Q = m.hub_items.c, m.quarantine.c
_ITEM_COLUMNS = ("uid", "version", "content", "fingerprint", "match_key", "deleted", "updated_at")
_INSERT_ITEMS = PlainInsert(m.hub_items, ("id", "hub_id", "uid", "version", "created_version",
                                          "content", "fingerprint", "match_key", "deleted",
                                          "updated_at"))
_INSERT_VERSIONS = PlainInsert(m.hub_item_versions, ("hub_item_id", "version", "content",
                                                     "spoke_id", "created_at"))
_INSERT_LINKS = PlainInsert(m.links, ("spoke_id", "hub_item_id", "remote_id", "remote_version",
                                      "fingerprint", "hub_version", "fp_version"))
#: the hub items' UPDATE: content bound as its JSON text (serialized once, see store.rows)
_UPDATE_ITEMS = (update(m.hub_items).where(_I.id == bindparam("b_id"))
                 .values({c: bindparam(f"b_{c}", type_=Text()) if c == "content"
                          else bindparam(f"b_{c}") for c in _ITEM_COLUMNS}))


def flush(b: Batch) -> None:
    """Write ``b``'s outcome: items, versions, links, conflicts, quarantine."""
    conn = b.conn
    hub_id = b.hub_id
    now = driver_value(conn, _I.updated_at, b.now)  # once, not per row
    _INSERT_ITEMS.run(conn, [
        (i.id, hub_id, i.uid, i.version, i.created_version, i.text, i.fingerprint,
         i.match_key, i.deleted, now) for i in b.items.values() if i.new])
    changed = [i for i in b.items.values() if i.dirty and not i.new]
    for group in chunks(changed):
        conn.execute(_UPDATE_ITEMS, [
            dict(b_id=i.id, b_uid=i.uid, b_version=i.version, b_content=i.text,
                 b_fingerprint=i.fingerprint, b_match_key=i.match_key,
                 b_deleted=i.deleted, b_updated_at=b.now) for i in group])
    _INSERT_VERSIONS.run(conn, [(item_id, version, text, b.spoke_id, now)
                                for item_id, version, text in b.version_rows])
    _flush_links(b)
    for rows in chunks(b.conflict_rows):
        conn.execute(m.conflicts.insert(), rows)
    for ids in chunks(sorted(b.touched_quarantine)):
        conn.execute(delete(m.quarantine).where(_Q.spoke_id == b.spoke_id,
                                                _Q.remote_id.in_(ids)))
    quarantined = [r for k, r in b.quarantine.items() if r and k in b.touched_quarantine]
    for rows in chunks(quarantined):
        conn.execute(m.quarantine.insert(), rows)


def _flush_links(b: Batch) -> None:
    # The final state of every link whose remote id or hub item was touched (all such
    # stored links were loaded, so nothing else is lost): one that keeps its remote id
    # and hub item is updated in place (its row and its three index entries stay where
    # they are: a delete and an insert wrote ~100 more pages per 62 links), every other
    # stored one is deleted, the rest inserted.
    final = {remote_id: ln for remote_id, ln in b.by_remote.items()
             if remote_id in b.touched_remotes or ln.hub_item_id in b.touched_items}
    kept = {remote_id: ln for remote_id, ln in final.items()
            if (old := b.stored.get(remote_id)) is not None
            and old.hub_item_id == ln.hub_item_id}
    kept_items = {ln.hub_item_id for ln in kept.values()}
    gone_remotes, gone_items = stored_links(b, b.touched_remotes - set(kept),
                                            b.touched_items - kept_items)
    spoke = (b.spoke_id,)
    for part in chunks(sorted(gone_remotes)):
        delete_pairs_in(b.conn, "links", "spoke_id", spoke, "remote_id", part)
    for part in chunks(sorted(gone_items)):
        delete_pairs_in(b.conn, "links", "spoke_id", spoke, "hub_item_id", part)
    # A pull read these items back (or found them gone): the writes sent to them before
    # are settled, their echo recognized or their content taken as the spoke's.
    for part in chunks(sorted(old_items(b, b.touched_items))):
        delete_pairs_in(b.conn, "pending_writes", "spoke_id", spoke, "hub_item_id", part)
    update_links_in_place(b.conn, [
        dict(spoke_id=b.spoke_id, hub_item_id=ln.hub_item_id,
             remote_version=ln.remote_version, fingerprint=ln.fingerprint,
             hub_version=ln.hub_version, fp_version=ln.fp_version)
        for remote_id, ln in kept.items() if ln != b.stored[remote_id]])
    _INSERT_LINKS.run(b.conn, [
        (b.spoke_id, ln.hub_item_id, remote_id, ln.remote_version, ln.fingerprint,
         ln.hub_version, ln.fp_version)
        for remote_id, ln in final.items() if remote_id not in kept])


def stored_links(b: Batch, remotes: set[str], items: set[str]) -> tuple[set[str], set[str]]:
    """Those of ``remotes`` and ``items`` that have a stored link in ``b``'s spoke. Exact,
    given what :meth:`Batch.load` read: a touched remote id is an op's (its link, if any,
    was loaded) or a loaded link's; a touched hub item is an op's (its link was loaded),
    one the batch created (no link), or a loaded link's."""
    linked = {ln.hub_item_id for ln in b.stored.values()}
    return remotes & b.stored.keys(), items & linked


def old_items(b: Batch, ids: set[str]) -> set[str]:
    """``ids`` but the hub items ``b`` created (nothing names them yet)."""
    return {i for i in ids if not ((item := b.items.get(i)) and item.new)}


def pruned_items(b: Batch) -> set[str]:
    """The hub items whose versions pruning must look at after :func:`flush`: every item
    ``b`` wrote a version of, but those it created with at most
    :data:`~cirahub.store.pruning.KEEP_VERSIONS` versions (all kept: nothing to prune)."""
    written = Counter(item_id for item_id, _, _ in b.version_rows)
    created = set(written) - old_items(b, set(written))
    return {i for i, n in written.items() if i not in created or n > KEEP_VERSIONS}
