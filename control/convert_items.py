"""Conversions of the hub-item views (:mod:`cirahub.control.items`) to the control API's
messages. Pure functions; lists carry derived fields only, never item bodies."""

from __future__ import annotations

from typing import Any

from cirahub.control.convert import _set_ts, struct_pb
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


def item_summary_to_pb(row: Any, detail: bool = False) -> pb.ItemSummary:
    """An ItemRow as a message; ``detail`` adds each copy's remote id and synced version."""
    msg = pb.ItemSummary(
        uid=row.uid, summary=row.summary, start=row.start, recurrence=row.recurrence,
        overrides=row.overrides, version=row.version, deleted=row.deleted,
        copies=[pb.ItemCopy(spoke=c.spoke, state=c.state, reason=c.reason,
                            remote_id=c.remote_id if detail else "",
                            hub_version=c.hub_version if detail else 0,
                            projection=list(c.projection) if detail else [])
                for c in row.copies],
    )
    _set_ts(msg, "updated_at", row.updated_at)
    return msg


def item_page_to_pb(page: Any) -> pb.ListItemsResponse:
    return pb.ListItemsResponse(items=[item_summary_to_pb(r) for r in page.items],
                                next_page_token=page.next_token)


def item_detail_to_pb(detail: Any) -> pb.ItemDetail:
    msg = pb.ItemDetail(item=item_summary_to_pb(detail.row, detail=True),
                        history_total=detail.history_total)
    if detail.content is not None:
        msg.content.CopyFrom(struct_pb(detail.content))
    for change in detail.history:
        version = msg.history.add(version=change.version, spoke=change.spoke,
                                  change=change.change, fields=list(change.fields))
        _set_ts(version, "at", change.at)
    return msg
