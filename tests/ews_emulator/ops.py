"""The EWS operations the emulator answers. Each handler takes the operation element of the
SOAP body and returns the ``m:{Op}Response`` element; per-message failures are EWS error
messages (``ResponseClass="Error"``) as a real Exchange sends them."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from . import rules
from .items import Shape, Target, folder_ref, matcher, parse_item, resolve, write_folder, write_item
from .routing import add_replica_list
from .state import State, StoredItem
from .xmlio import (
    EwsError,
    SoapFault,
    local,
    m,
    message,
    normalize_prop,
    parse_dt,
    response,
    sub,
    t,
)


@dataclass
class Context:
    """Who is asking: the authenticated user and the mailbox acted upon (anchor/impersonation)."""

    user: str
    mailbox: str
    #: fault knob: truncate this FindItem page (fewer items, wrong offset, not last)
    truncate_page: bool = False


Handler = Callable[[State, etree._Element, Context], etree._Element]



#: the most items one FindItem page returns (Exchange's EWSFindCountLimit default)
FIND_COUNT_LIMIT = 1000

def _each(op: str, container: etree._Element, elements: list[etree._Element],
          fn: Callable[[etree._Element, etree._Element], None]) -> None:
    """One response message per element; an EwsError becomes that message's error."""
    for el in elements:
        holder = etree.Element("x")
        try:
            fn(el, holder)
        except EwsError as exc:
            message(container, op, exc.code, exc.text)
            continue
        msg = message(container, op)
        for child in holder:
            msg.append(child)


def _children(el: etree._Element | None) -> list[etree._Element]:
    return [] if el is None else [c for c in el if isinstance(c.tag, str)]


# --- folders ---------------------------------------------------------------------------------


def get_folder(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("GetFolder")

    shape = Shape.parse(op.find(m("FolderShape")))

    def one(ref: etree._Element, out: etree._Element) -> None:
        folder = folder_ref(state, ref, ctx.mailbox)
        el = write_folder(sub(out, m("Folders")), state, folder)
        if state.routing is not None and folder.public:
            add_replica_list(state.routing, el, shape.ext)

    _each("GetFolder", container, _children(op.find(m("FolderIds"))), one)
    return root


def find_folder(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("FindFolder")
    deep = op.get("Traversal", "Shallow") == "Deep"
    view = op.find(m("IndexedPageFolderView"))
    test = matcher(op.find(m("Restriction")))

    def one(ref: etree._Element, out: etree._Element) -> None:
        parent = folder_ref(state, ref, ctx.mailbox)
        if deep and parent.public:
            raise EwsError("ErrorInvalidOperation", "Deep traversal queries cannot be performed on public folders.")
        found, stack = [], list(parent.children)
        while stack:
            f = state.folders[stack.pop(0)]
            found.append(f)
            if deep:
                stack.extend(f.children)
        found = [f for f in found if test(f)]
        offset = int(view.get("Offset", "0")) if view is not None else 0
        size = int(view.get("MaxEntriesReturned", "1000")) if view is not None else 1000
        page = found[offset:offset + size]
        last = offset + len(page) >= len(found)
        rf = sub(out, m("RootFolder"), IndexedPagingOffset=str(offset + len(page)),
                 TotalItemsInView=str(len(found)), IncludesLastItemInRange="true" if last else "false")
        folders = sub(rf, t("Folders"))
        for f in page:
            write_folder(folders, state, f)

    _each("FindFolder", container, _children(op.find(m("ParentFolderIds"))), one)
    return root


# --- reading items ---------------------------------------------------------------------------


def find_item(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("FindItem")
    shape = Shape.parse(op.find(m("ItemShape")))
    test = matcher(op.find(m("Restriction")))

    def one(ref: etree._Element, out: etree._Element) -> None:
        folder = folder_ref(state, ref, ctx.mailbox)
        view = op.find(m("CalendarView"))
        if view is not None:
            _calendar_view(state, folder.id, view, shape, out)
            return
        items = [i for i in state.folder_items(folder.id) if test(i)]
        items.sort(key=lambda i: i.seq_created)
        paged = op.find(m("IndexedPageItemView"))
        offset = int(paged.get("Offset", "0")) if paged is not None else 0
        size = int(paged.get("MaxEntriesReturned", "1000")) if paged is not None else len(items)
        # Exchange's throttling policy (EWSFindCountLimit, 1,000 by default on-premises and
        # online) caps a page whatever the client asks for; the rest needs another page
        page = items[offset:offset + min(size, FIND_COUNT_LIMIT)]
        next_offset, last = offset + len(page), offset + len(page) >= len(items)
        if ctx.truncate_page and len(page) > 1:
            page, last = page[: len(page) // 2], False  # fewer items, yet the full offset
        rf = sub(out, m("RootFolder"), IndexedPagingOffset=str(next_offset),
                 TotalItemsInView=str(len(items)), IncludesLastItemInRange="true" if last else "false")
        holder = sub(rf, t("Items"))
        for item in page:
            write_item(state, holder, item, shape)

    _each("FindItem", container, _children(op.find(m("ParentFolderIds"))), one)
    return root


def _calendar_view(state: State, folder_id: str, view: etree._Element, shape: Shape,
                   out: etree._Element) -> None:
    """Singles, occurrences and exceptions overlapping the view, sorted by start."""
    start, end = parse_dt(view.get("StartDate", "")), parse_dt(view.get("EndDate", ""))
    if (end - start).days > 2 * 366:
        raise EwsError("ErrorCalendarViewRangeTooBig", "The range of the calendar view is too big.")
    rows: list[tuple[datetime, StoredItem, tuple[int, datetime] | None]] = []
    for item in state.folder_items(folder_id):
        if item.kind == "RecurringMaster":
            for index, original in state.occurrences(item, start, end):
                exc_id = item.exceptions.get(original)
                if exc_id is None:
                    rows.append((original, item, (index, original)))
            for exc_id in item.exceptions.values():
                exc = state.items[exc_id]
                s, e = exc.dt("Start"), exc.dt("End")
                if s is not None and e is not None and s < end and e > start:
                    rows.append((s, exc, None))
        else:
            s, e = item.dt("Start"), item.dt("End")
            if s is not None and e is not None and s < end and e > start:
                rows.append((s, item, None))
    rows.sort(key=lambda r: r[0])
    limit = int(view.get("MaxEntriesReturned") or len(rows) or 1)
    page = rows[:limit]
    rf = sub(out, m("RootFolder"), TotalItemsInView=str(len(rows)),
             IncludesLastItemInRange="true" if len(page) == len(rows) else "false")
    holder = sub(rf, t("Items"))
    for _, item, occ in page:
        write_item(state, holder, item, shape, occurrence=occ)


def _occurrence_target(state: State, target: Target) -> tuple[StoredItem, tuple[int, datetime] | None]:
    if target.index is None:
        return target.item, None
    original = state.occurrence_start(target.item, target.index)
    exc_id = target.item.exceptions.get(original)
    if exc_id is not None:
        return state.items[exc_id], None
    return target.item, (target.index, original)


def get_item(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("GetItem")
    shape = Shape.parse(op.find(m("ItemShape")))

    def one(ref: etree._Element, out: etree._Element) -> None:
        item, occ = _occurrence_target(state, resolve(state, ref))
        write_item(state, sub(out, m("Items")), item, shape, occurrence=occ)

    _each("GetItem", container, _children(op.find(m("ItemIds"))), one)
    return root


# --- writing items ---------------------------------------------------------------------------


def create_item(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("CreateItem")
    target = op.find(m("SavedItemFolderId"))
    folder_el = _children(target)[0] if target is not None else None

    elements = _children(op.find(m("Items")))
    rules.check_request([parse_item(el)[0] for el in elements])

    def one(el: etree._Element, out: etree._Element) -> None:
        if local(el.tag) != "CalendarItem":
            raise EwsError("ErrorInvalidItemForOperationCreateItem", "Only calendar items are emulated.")
        folder = (folder_ref(state, folder_el, ctx.mailbox) if folder_el is not None
                  else state.distinguished("calendar", ctx.mailbox))
        props, ext = parse_item(el)
        for name in sorted(READ_ONLY & set(props)):
            raise EwsError("ErrorInvalidPropertySet", f"The property {name} is read-only.")
        tz = props.get("StartTimeZone")
        rules.check_item(props, None if tz is None else tz.get("Id"), state.refusals)
        item = state.create(folder, props, ext, ctx.mailbox)
        sub(sub(sub(out, m("Items")), t("CalendarItem")), t("ItemId"), Id=item.id, ChangeKey=item.change_key)

    _each("CreateItem", container, elements, one)
    return root


_SERIES_SHAPING = frozenset({"Recurrence", "Start", "StartTimeZone"})
#: what Exchange computes and refuses to be set (a deleted occurrence cannot be given back)
READ_ONLY = frozenset({"DeletedOccurrences", "ModifiedOccurrences", "CalendarItemType",
                       "FirstOccurrence", "LastOccurrence", "IsRecurring"})


def _apply_update(state: State, item: StoredItem, updates: etree._Element) -> None:
    before = dict(item.props)
    try:
        changed = _set_fields(item, updates)
        rules.check_item(item.props, item.tz_id, state.refusals)
    except EwsError:
        item.props = before  # a refused update changes nothing
        raise
    if (item.kind == "RecurringMaster" and changed & _SERIES_SHAPING) or (
        "Recurrence" in changed and item.exceptions
    ):
        # Exchange drops the modified occurrences when the series shape changes, but never
        # gives a deleted one back (OfficeDev/ews-managed-api#235: extending a series did not
        # restore it): deletions are kept by their date (MAPI's DeletedInstanceDates are dates)
        for exc_id in item.exceptions.values():
            state.items.pop(exc_id, None)
        item.exceptions.clear()
        state.keep_deletions_by_date(item)
    state.touch(item)


def _set_fields(item: StoredItem, updates: etree._Element) -> set[str]:
    changed: set[str] = set()
    for upd in _children(updates):
        kind, kids = local(upd.tag), _children(upd)
        uri = kids[0]
        if local(uri.tag) == "ExtendedFieldURI":
            key = tuple(sorted(uri.attrib.items()))
            if kind == "DeleteItemField":
                item.ext.pop(key, None)
            else:
                prop = kids[1].find(t("ExtendedProperty"))
                if prop is not None:
                    item.ext[key] = prop
            continue
        name = uri.get("FieldURI", "").split(":")[-1]
        if name in READ_ONLY:
            raise EwsError("ErrorInvalidPropertySet", f"The property {name} is read-only.")
        changed.add(name)
        if kind == "DeleteItemField":
            item.props.pop(name, None)
            continue
        value = kids[1].find(t(name))
        if value is None:
            raise EwsError("ErrorInvalidPropertySet", f"SetItemField for {name} carries no value.")
        item.props[name] = normalize_prop(value)
    return changed


def update_item(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("UpdateItem")
    never = op.get("ConflictResolution", "AutoResolve") == "NeverOverwrite"
    rules.check_request([{local(v.tag): v for v in op.iter(t("ReminderMinutesBeforeStart"))}])

    def one(change: etree._Element, out: etree._Element) -> None:
        kids = _children(change)
        target = resolve(state, kids[0])
        if not target.change_key:
            raise EwsError("ErrorChangeKeyRequiredForWriteOperations",
                           "When making a request that requires a change key, you must supply one.")
        if never and target.change_key != target.item.change_key:
            raise EwsError("ErrorIrresolvableConflict",
                           "The send or update operation could not be performed because the change key "
                           "passed in the request does not match the current change key for the item.")
        item = target.item
        if target.index is not None:
            item = state.materialize(target.item, state.occurrence_start(target.item, target.index))
        updates = change.find(t("Updates"))
        if updates is not None:
            _apply_update(state, item, updates)
        sub(sub(sub(out, m("Items")), t("CalendarItem")), t("ItemId"), Id=item.id, ChangeKey=item.change_key)
        sub(sub(out, m("ConflictResults")), t("Count"), "0")

    _each("UpdateItem", container, _children(op.find(m("ItemChanges"))), one)
    return root


def delete_item(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("DeleteItem")

    def one(ref: etree._Element, out: etree._Element) -> None:
        target = resolve(state, ref)
        if target.index is None:
            state.delete(target.item)
            return
        original = state.occurrence_start(target.item, target.index)
        exc_id = target.item.exceptions.get(original)
        if exc_id is not None:
            state.delete(state.items[exc_id])
        else:
            target.item.deleted_occurrences.add(original)
            state.touch(target.item)

    _each("DeleteItem", container, _children(op.find(m("ItemIds"))), one)
    return root


# --- SyncFolderItems (mailbox folders only) --------------------------------------------------


def sync_folder_items(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    root, container = response("SyncFolderItems")
    shape = Shape.parse(op.find(m("ItemShape")))
    ref = _children(op.find(m("SyncFolderId")))[0]
    try:
        folder = folder_ref(state, ref, ctx.mailbox)
        if folder.public:
            raise EwsError("ErrorInvalidOperation",
                           "SyncFolderItems is not supported for public folders.")
        since = _decode_state(op.findtext(m("SyncState")), folder.id)
    except EwsError as exc:
        message(container, "SyncFolderItems", exc.code, exc.text)
        return root
    limit = int(op.findtext(m("MaxChangesReturned")) or "100")
    changes: list[tuple[int, str, StoredItem | str]] = []
    for item in state.folder_items(folder.id):
        if item.seq_modified > since:
            changes.append((item.seq_modified, "Create" if item.seq_created > since else "Update", item))
    for item_id, (created, deleted) in folder.tombstones.items():
        if deleted > since >= created:
            changes.append((deleted, "Delete", item_id))
    changes.sort(key=lambda c: c[0])
    page = changes[:limit]
    last = len(page) == len(changes)
    new_state = state.seq if last else page[-1][0]
    msg = message(container, "SyncFolderItems")
    sub(msg, m("SyncState"), base64.b64encode(f"{folder.id}|{new_state}".encode()).decode())
    sub(msg, m("IncludesLastItemInRange"), "true" if last else "false")
    holder = sub(msg, m("Changes"))
    for _, kind, obj in page:
        change = sub(holder, t(kind))
        if isinstance(obj, str):
            sub(change, t("ItemId"), Id=obj, ChangeKey="")
        else:
            write_item(state, change, obj, shape)
    return root


def _decode_state(text: str | None, folder_id: str) -> int:
    if not text:
        return 0
    try:
        fid, seq = base64.b64decode(text.encode()).decode().split("|")
        if fid != folder_id:
            raise ValueError(fid)
        return int(seq)
    except (ValueError, UnicodeDecodeError):
        raise EwsError("ErrorInvalidSyncStateData", "Synchronization state data is corrupt or otherwise invalid.") from None


def convert_id(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    """Only used by exchangelib's version probe: any answer with the version header does."""
    root, container = response("ConvertId")
    message(container, "ConvertId", "ErrorInvalidIdMalformed", "Id is malformed.")
    return root


OPERATIONS: dict[str, Handler] = {
    "GetFolder": get_folder, "FindFolder": find_folder, "FindItem": find_item,
    "GetItem": get_item, "CreateItem": create_item, "UpdateItem": update_item,
    "DeleteItem": delete_item, "SyncFolderItems": sync_folder_items, "ConvertId": convert_id,
}


def dispatch(state: State, op: etree._Element, ctx: Context) -> etree._Element:
    handler = OPERATIONS.get(local(op.tag))
    if handler is None:
        raise SoapFault("ErrorInvalidRequest", f"The operation {local(op.tag)} is not emulated.")
    with state.lock:
        return handler(state, op, ctx)
