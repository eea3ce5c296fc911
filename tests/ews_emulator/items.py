"""Item and folder XML for the emulator: request parsing, shapes, restrictions, serialization."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from .state import ExtKey, Folder, State, StoredItem, ext_key, occurrence_id, parse_occurrence_id
from .xmlio import EwsError, fmt_dt, local, normalize_prop, parse_dt, sub, t

#: element order of a CalendarItem as Exchange writes it (unknown elements go last)
ORDER = [
    "ItemId", "ParentFolderId", "ItemClass", "Subject", "Sensitivity", "Body", "Categories",
    "Importance", "DateTimeCreated", "LastModifiedTime", "ReminderIsSet",
    "ReminderMinutesBeforeStart", "ExtendedProperty", "UID", "OriginalStart", "Start", "End",
    "IsAllDayEvent", "LegacyFreeBusyStatus", "Location", "IsMeeting", "IsRecurring",
    "MeetingRequestWasSent", "CalendarItemType", "Organizer", "RequiredAttendees",
    "OptionalAttendees", "Resources", "Recurrence", "ModifiedOccurrences", "DeletedOccurrences",
    "StartTimeZone", "EndTimeZone",
]


@dataclass
class Shape:
    """Which properties a response carries: all of them, or ItemId + the requested ones."""

    everything: bool = True
    names: set[str] = field(default_factory=set)
    ext: list[etree._Element] = field(default_factory=list)

    @classmethod
    def parse(cls, el: etree._Element | None) -> Shape:
        if el is None:
            return cls()
        base = (el.findtext(t("BaseShape")) or "IdOnly").strip()
        shape = cls(everything=base in ("AllProperties", "Default"))
        extra = el.find(t("AdditionalProperties"))
        for child in [] if extra is None else extra:
            if local(child.tag) == "ExtendedFieldURI":
                shape.ext.append(child)
            elif child.get("FieldURI"):
                shape.names.add(child.get("FieldURI", "").split(":")[-1])
        return shape

    def wants(self, name: str) -> bool:
        return self.everything or name in self.names


# --- occurrence ids --------------------------------------------------------------------------


@dataclass
class Target:
    """What an item id element addresses: an item, or occurrence ``index`` of a master."""

    item: StoredItem
    index: int | None = None
    change_key: str | None = None


def resolve(state: State, el: etree._Element) -> Target:
    """Resolve ``t:ItemId`` / ``t:OccurrenceItemId`` / ``t:RecurringMasterItemId``."""
    name = local(el.tag)
    if name == "OccurrenceItemId":
        master = state.item(el.get("RecurringMasterId", ""))
        return Target(master, int(el.get("InstanceIndex", "0")), el.get("ChangeKey"))
    if name == "RecurringMasterItemId":
        item = state.item(el.get("OccurrenceId", ""))
        if item.master_id:
            item = state.item(item.master_id)
        return Target(item, None, el.get("ChangeKey"))
    occ = parse_occurrence_id(el.get("Id", ""))
    if occ is not None and el.get("Id", "") not in state.items:
        return Target(state.item(occ[0]), occ[1], el.get("ChangeKey"))
    return Target(state.item(el.get("Id", "")), None, el.get("ChangeKey"))


# --- parsing requests ------------------------------------------------------------------------


def parse_item(el: etree._Element) -> tuple[dict[str, etree._Element], dict[ExtKey, etree._Element]]:
    """Properties and extended properties of a ``t:CalendarItem`` from a request."""
    props: dict[str, etree._Element] = {}
    ext: dict[ExtKey, etree._Element] = {}
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = local(child.tag)
        if name == "ExtendedProperty":
            uri = child.find(t("ExtendedFieldURI"))
            if uri is not None:
                ext[ext_key(uri)] = copy.deepcopy(child)
        elif name not in ("ItemId", "MeetingTimeZone"):
            props[name] = normalize_prop(child)
    return props, ext


def folder_ref(state: State, el: etree._Element, mailbox: str) -> Folder:
    """Resolve ``t:FolderId`` or ``t:DistinguishedFolderId`` (with an optional Mailbox)."""
    if local(el.tag) == "DistinguishedFolderId":
        address = el.findtext(f"{t('Mailbox')}/{t('EmailAddress')}") or mailbox
        return state.distinguished(el.get("Id", ""), address)
    return state.folder(el.get("Id", ""))


# --- restrictions ----------------------------------------------------------------------------

_COMPARE = {
    "IsEqualTo": lambda a, b: a == b, "IsNotEqualTo": lambda a, b: a != b,
    "IsGreaterThan": lambda a, b: a > b, "IsGreaterThanOrEqualTo": lambda a, b: a >= b,
    "IsLessThan": lambda a, b: a < b, "IsLessThanOrEqualTo": lambda a, b: a <= b,
}


Getter = Callable[[StoredItem | Folder], object]
Test = Callable[[StoredItem | Folder], bool]


def _getter(uri: etree._Element) -> Getter:
    """The value a field URI names, read from an item or folder (None when it has none)."""
    if local(uri.tag) == "ExtendedFieldURI":
        key, value = ext_key(uri), t("Value")

        def extended(obj: StoredItem | Folder) -> object:
            if not isinstance(obj, StoredItem):
                return None
            prop = obj.ext.get(key)
            return None if prop is None else prop.findtext(value)
        return extended
    name = uri.get("FieldURI", "").split(":")[-1]

    def field_value(obj: StoredItem | Folder) -> object:
        if isinstance(obj, Folder):
            return {"DisplayName": obj.name, "FolderClass": obj.folder_class}.get(name)
        if name == "LastModifiedTime":
            return obj.modified.replace(microsecond=0)
        if name == "DateTimeCreated":
            return obj.created.replace(microsecond=0)
        if name in ("Start", "End"):
            return obj.dt(name)
        return obj.text(name)
    return field_value


def _comparison(name: str, kids: list[etree._Element]) -> Test:
    value, const = _getter(kids[0]), kids[1].find(t("Constant"))
    compare = _COMPARE[name]
    right_text = "" if const is None else const.get("Value", "")
    as_time: list[datetime] = []  # the constant read as a time once, when an item needs it

    def test(obj: StoredItem | Folder) -> bool:
        left = value(obj)
        if left is None or const is None:
            return False
        right: object = right_text
        if isinstance(left, datetime):
            if not as_time:
                as_time.append(parse_dt(str(right_text)))
            right = as_time[0]
        return bool(compare(left, right))
    return test


def _equalities(kids: list[etree._Element]) -> Test | None:
    """An Or of IsEqualTo comparisons as one set lookup per field (the same answers as the
    clause-by-clause test), Ors nested in it included: a create batch's duplicate check sends
    ~200 such clauses, and a folder of 5,000 items made that 10^6 tests a batch. None for any
    other Or."""
    fields: dict[bytes, tuple[Getter, set[str]]] = {}
    clauses = list(kids)
    while any(local(c.tag) == "Or" for c in clauses):  # exchangelib nests an __in inside
        clauses = [k for c in clauses
                   for k in ([k for k in c if isinstance(k.tag, str)] if local(c.tag) == "Or" else [c])]
    for clause in clauses:
        parts = [k for k in clause if isinstance(k.tag, str)]
        const = parts[1].find(t("Constant")) if len(parts) == 2 else None
        if local(clause.tag) != "IsEqualTo" or const is None:
            return None
        key = etree.tostring(parts[0])
        if key not in fields:
            fields[key] = (_getter(parts[0]), set())
        fields[key][1].add(const.get("Value", ""))
    as_times: dict[bytes, set[datetime]] = {}  # the constants read as times, when needed

    def test(obj: StoredItem | Folder) -> bool:
        for key, (value, texts) in fields.items():
            left = value(obj)
            if isinstance(left, datetime):
                if key not in as_times:
                    as_times[key] = {parse_dt(text) for text in texts}
                if left in as_times[key]:
                    return True
            elif left is not None and left in texts:
                return True
        return False
    return test


def matcher(restriction: etree._Element | None) -> Test:
    """An EWS restriction (comparisons, And/Or/Not, Exists) as a test of an item or folder,
    read once for all the items a query looks at. An unsupported one raises when it is
    evaluated, as the server does."""
    if restriction is None:
        return lambda obj: True
    name = local(restriction.tag)
    kids = [c for c in restriction if isinstance(c.tag, str)]
    if name in ("Restriction", "And", "Or"):
        if name == "Or" and (lookup := _equalities(kids)) is not None:
            return lookup
        tests = [matcher(c) for c in kids]
        if name == "Or":
            return lambda obj: any(test(obj) for test in tests)
        return lambda obj: all(test(obj) for test in tests)
    if name == "Not":
        negated = matcher(kids[0])
        return lambda obj: not negated(obj)
    if name == "Exists":
        value = _getter(kids[0])
        return lambda obj: value(obj) is not None
    if name in _COMPARE:
        return _comparison(name, kids)

    def unsupported(obj: StoredItem | Folder) -> bool:
        raise EwsError("ErrorUnsupportedQueryFilter", f"Restriction {name} is not supported.")
    return unsupported


def matches(obj: StoredItem | Folder, restriction: etree._Element | None) -> bool:
    """Evaluate an EWS restriction on one item or folder (see :func:`matcher`)."""
    return matcher(restriction)(obj)


# --- serialization ---------------------------------------------------------------------------


def _computed(state: State, item: StoredItem) -> dict[str, etree._Element]:
    out: dict[str, etree._Element] = {}

    def put(name: str, text: str | None = None, **attrs: str) -> etree._Element:
        el = etree.Element(t(name), {k: v for k, v in attrs.items() if v is not None})
        el.text = text
        out[name] = el
        return el

    folder = state.folders[item.folder_id]
    put("ParentFolderId", Id=folder.id, ChangeKey=folder.change_key)
    put("ItemClass", "IPM.Appointment")
    put("DateTimeCreated", fmt_dt(item.created))
    put("LastModifiedTime", fmt_dt(item.modified))
    put("CalendarItemType", item.kind)
    put("IsRecurring", "true" if item.kind != "Single" else "false")
    has_attendees = any(n in item.props for n in ("RequiredAttendees", "OptionalAttendees"))
    put("IsMeeting", "true" if has_attendees else "false")
    put("MeetingRequestWasSent", "false")
    if item.original_start is not None:
        put("OriginalStart", fmt_dt(item.original_start))
    org = put("Organizer")
    mbx = sub(org, t("Mailbox"))
    sub(mbx, t("Name"), item.organizer.split("@")[0])
    sub(mbx, t("EmailAddress"), item.organizer)
    sub(mbx, t("RoutingType"), "SMTP")
    holder = etree.Element("x")
    state.add_occurrence_lists(item, holder)
    for child in holder:
        out[local(child.tag)] = child
    return out


def write_item(state: State, parent: etree._Element, item: StoredItem, shape: Shape,
               *, occurrence: tuple[int, datetime] | None = None) -> etree._Element:
    """Append ``t:CalendarItem`` for ``item`` (or for one occurrence of it) to ``parent``."""
    el = sub(parent, t("CalendarItem"))
    if occurrence is not None:
        index, _start = occurrence
        sub(el, t("ItemId"), Id=occurrence_id(item.id, index), ChangeKey=item.change_key)
    else:
        sub(el, t("ItemId"), Id=item.id, ChangeKey=item.change_key)
    props = {k: copy.deepcopy(v) for k, v in item.props.items()}
    props.update(_computed(state, item))
    if occurrence is not None:
        first, first_end = item.dt("Start"), item.dt("End")
        assert first is not None and first_end is not None
        props["Start"].text = fmt_dt(occurrence[1])
        props["End"].text = fmt_dt(occurrence[1] + (first_end - first))
        props["CalendarItemType"].text = "Occurrence"
        for name in ("Recurrence", "ModifiedOccurrences", "DeletedOccurrences"):
            props.pop(name, None)
    rank = {n: i for i, n in enumerate(ORDER)}
    for name in sorted(props, key=lambda n: rank.get(n, len(ORDER))):
        if name == "ExtendedProperty":
            continue
        if shape.wants(name):
            el.append(props[name])
        if name == "ReminderMinutesBeforeStart":
            _write_ext(el, item, shape)
    if "ReminderMinutesBeforeStart" not in props:
        _write_ext(el, item, shape)
    return el


def _write_ext(el: etree._Element, item: StoredItem, shape: Shape) -> None:
    if shape.everything:
        for prop in item.ext.values():
            el.append(copy.deepcopy(prop))
        return
    for uri in shape.ext:
        prop = item.ext.get(ext_key(uri))
        if prop is not None:
            out = sub(el, t("ExtendedProperty"))
            out.append(copy.deepcopy(uri))  # echo the request's attributes verbatim
            for value in prop:
                if local(value.tag) != "ExtendedFieldURI":
                    out.append(copy.deepcopy(value))


def write_folder(parent: etree._Element, state: State, folder: Folder) -> etree._Element:
    tag = "CalendarFolder" if folder.folder_class == "IPF.Appointment" else "Folder"
    el = sub(parent, t(tag))
    sub(el, t("FolderId"), Id=folder.id, ChangeKey=folder.change_key)
    if folder.parent_id:
        parent_folder = state.folders[folder.parent_id]
        sub(el, t("ParentFolderId"), Id=parent_folder.id, ChangeKey=parent_folder.change_key)
    if folder.folder_class:
        sub(el, t("FolderClass"), folder.folder_class)
    sub(el, t("DisplayName"), folder.name)
    sub(el, t("TotalCount"), str(len(state.folder_items(folder.id))))
    sub(el, t("ChildFolderCount"), str(len(folder.children)))
    if tag == "Folder":
        sub(el, t("UnreadCount"), "0")
    return el
