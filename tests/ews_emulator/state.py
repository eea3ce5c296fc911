"""In-memory state of the emulated Exchange organisation: mailboxes, public folders, items.

Every write bumps the item's ChangeKey and LastModifiedTime and a global change sequence
(SyncFolderItems states are positions in that sequence). Editing or deleting one occurrence
of a series is a write to the series master as well (its ChangeKey and LastModifiedTime move),
which is what FindItem-based change detection relies on.
"""

from __future__ import annotations

import base64
import copy
import itertools
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from lxml import etree

from . import recurrence
from .rules import Refusal
from .xmlio import EwsError, fmt_dt, parse_dt, sub, t

ExtKey = tuple[tuple[str, str], ...]


def ext_key(uri: etree._Element) -> ExtKey:
    """Identity of an extended property: its ExtendedFieldURI attributes."""
    return tuple(sorted(uri.attrib.items()))


@dataclass
class Folder:
    id: str
    name: str
    folder_class: str
    parent_id: str | None
    public: bool
    mailbox: str | None = None
    distinguished: str | None = None
    change_key: str = "AQAAAA=="
    children: list[str] = field(default_factory=list)
    #: item id → (created seq, deleted seq) of items deleted from this folder
    tombstones: dict[str, tuple[int, int]] = field(default_factory=dict)


@dataclass
class StoredItem:
    id: str
    folder_id: str
    props: dict[str, etree._Element]
    ext: dict[ExtKey, etree._Element]
    change_key: str
    created: datetime
    modified: datetime
    seq_created: int
    seq_modified: int
    organizer: str
    is_exception: bool = False
    master_id: str | None = None
    original_start: datetime | None = None
    #: original start (UTC) → exception item id
    exceptions: dict[datetime, str] = field(default_factory=dict)
    deleted_occurrences: set[datetime] = field(default_factory=set)

    def text(self, name: str) -> str | None:
        el = self.props.get(name)
        return None if el is None else (el.text or "")

    def dt(self, name: str) -> datetime | None:
        value = self.text(name)
        return parse_dt(value) if value else None

    @property
    def kind(self) -> str:
        if self.is_exception:
            return "Exception"
        return "RecurringMaster" if "Recurrence" in self.props else "Single"

    @property
    def tz_id(self) -> str | None:
        el = self.props.get("StartTimeZone")
        if el is None:
            return None
        out = recurrence.ZoneId(el.get("Id") or "")
        if el.find(t("Periods")) is not None:  # the item's own rules ("Customized Time Zone")
            out.rules = recurrence.rules_zone(el)
        return out


class State:
    """All emulated data; callers hold :attr:`lock` around every operation."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.folders: dict[str, Folder] = {}
        self.items: dict[str, StoredItem] = {}
        self.seq = 0
        self._ids = itertools.count(1)
        self._last_time = datetime(2000, 1, 1, tzinfo=UTC)
        self.public_root = self._folder("IPM_SUBTREE", "IPF.Note", None, public=True)
        self.public_root.distinguished = "publicfoldersroot"
        self.mailbox_roots: dict[str, Folder] = {}
        #: items CreateItem/UpdateItem refuse (see :mod:`.rules`)
        self.refusals: list[Refusal] = []
        #: public-folder routing (:class:`.routing.Routing`), when the emulator checks it
        self.routing: Any = None

    # --- ids, keys, clock ------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        raw = f"{prefix}-{next(self._ids):06d}-{uuid.uuid4().hex[:8]}".encode()
        return base64.b64encode(raw).decode()

    @staticmethod
    def new_change_key() -> str:
        return base64.b64encode(b"CQAAABYAAA" + uuid.uuid4().bytes[:9]).decode()

    def now(self) -> datetime:
        """Wall clock, strictly increasing across calls (so every write orders)."""
        value = datetime.now(UTC)
        if value <= self._last_time:
            value = self._last_time + timedelta(microseconds=1)
        self._last_time = value
        return value

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    # --- folders ---------------------------------------------------------------------------

    def _folder(self, name: str, cls: str, parent: Folder | None, *, public: bool,
                mailbox: str | None = None) -> Folder:
        folder = Folder(self.new_id("F"), name, cls, parent.id if parent else None, public,
                        mailbox=mailbox, change_key=self.new_change_key())
        self.folders[folder.id] = folder
        if parent is not None:
            parent.children.append(folder.id)
        return folder

    def add_mailbox(self, address: str) -> Folder:
        """A mailbox with root → msgfolderroot (Top of Information Store) → Calendar."""
        address = address.lower()
        if address in self.mailbox_roots:
            return self.mailbox_roots[address]
        root = self._folder("root", "", None, public=False, mailbox=address)
        root.distinguished = "root"
        top = self._folder("Top of Information Store", "IPF.Note", root, public=False, mailbox=address)
        top.distinguished = "msgfolderroot"
        cal = self._folder("Calendar", "IPF.Appointment", top, public=False, mailbox=address)
        cal.distinguished = "calendar"
        self.mailbox_roots[address] = root
        return root

    def add_public_folder(self, path: str, folder_class: str = "IPF.Appointment") -> Folder:
        """Create ``/A/B`` under the public folder root (missing parents as mail folders)."""
        parent = self.public_root
        parts = [p for p in path.split("/") if p]
        for n, part in enumerate(parts):
            found = next((self.folders[c] for c in parent.children if self.folders[c].name == part), None)
            if found is None:
                cls = folder_class if n == len(parts) - 1 else "IPF.Note"
                found = self._folder(part, cls, parent, public=True)
            parent = found
        return parent

    def distinguished(self, name: str, mailbox: str | None) -> Folder:
        if name == "publicfoldersroot":
            return self.public_root
        if mailbox is None or mailbox.lower() not in self.mailbox_roots:
            raise EwsError("ErrorNonExistentMailbox", f"No mailbox with address {mailbox}.")
        root = self.mailbox_roots[mailbox.lower()]
        stack = [root]
        while stack:
            f = stack.pop()
            if f.distinguished == name:
                return f
            stack.extend(self.folders[c] for c in f.children)
        raise EwsError("ErrorFolderNotFound", f"The distinguished folder {name} was not found.")

    def folder(self, folder_id: str) -> Folder:
        try:
            return self.folders[folder_id]
        except KeyError:
            raise EwsError("ErrorFolderNotFound", "The specified folder could not be found in the store.") from None

    def folder_by_path(self, path: str, mailbox: str | None = None) -> Folder:
        """``/Calendars/Team`` under the public root, or a path under a mailbox's calendar."""
        folder = self.public_root if mailbox is None else self.distinguished("calendar", mailbox)
        for part in [p for p in path.split("/") if p]:
            folder = next(self.folders[c] for c in folder.children if self.folders[c].name == part)
        return folder

    # --- items -----------------------------------------------------------------------------

    def item(self, item_id: str) -> StoredItem:
        try:
            return self.items[item_id]
        except KeyError:
            raise EwsError("ErrorItemNotFound", "The specified object was not found in the store.") from None

    def folder_items(self, folder_id: str) -> list[StoredItem]:
        """Singles and recurring masters of a folder (what FindItem lists), oldest first."""
        return [i for i in self.items.values() if i.folder_id == folder_id and not i.is_exception]

    def create(self, folder: Folder, props: dict[str, etree._Element],
               ext: dict[ExtKey, etree._Element], organizer: str) -> StoredItem:
        now, seq = self.now(), self.next_seq()
        props = dict(props)
        if "UID" not in props:
            el = etree.Element(t("UID"))
            el.text = uuid.uuid4().hex.upper()
            props["UID"] = el
        for name, default in (("LegacyFreeBusyStatus", "Busy"), ("Sensitivity", "Normal"),
                              ("Importance", "Normal"), ("IsAllDayEvent", "false")):
            if name not in props:
                el = etree.Element(t(name))
                el.text = default
                props[name] = el
        item = StoredItem(self.new_id("I"), folder.id, props, dict(ext), self.new_change_key(),
                          now, now, seq, seq, organizer)
        self.items[item.id] = item
        return item

    def touch(self, item: StoredItem) -> None:
        """Record a write: new ChangeKey, LastModifiedTime and change sequence; a write to an
        exception is a write to its master too."""
        item.change_key = self.new_change_key()
        item.modified = self.now()
        item.seq_modified = self.next_seq()
        if item.master_id and item.master_id in self.items:
            self.touch(self.items[item.master_id])

    def delete(self, item: StoredItem) -> None:
        for exc_id in list(item.exceptions.values()):
            self.items.pop(exc_id, None)
        self.items.pop(item.id, None)
        if item.is_exception:
            master = self.items.get(item.master_id or "")
            if master is not None and item.original_start is not None:
                master.exceptions.pop(item.original_start, None)
                master.deleted_occurrences.add(item.original_start)
                self.touch(master)
            return
        self.folders[item.folder_id].tombstones[item.id] = (item.seq_created, self.next_seq())

    # --- occurrences -----------------------------------------------------------------------

    def occurrence_start(self, master: StoredItem, index: int) -> datetime:
        rec, start = master.props.get("Recurrence"), master.dt("Start")
        value = None if rec is None or start is None else recurrence.nth_start(rec, start, master.tz_id, index)
        if value is None:
            raise EwsError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                           "The occurrence index is out of recurrence range.")
        if value in master.deleted_occurrences:
            raise EwsError("ErrorCalendarOccurrenceIsDeletedFromRecurrence",
                           "Occurrence index is for an occurrence that was deleted from the recurrence.")
        return value

    def keep_deletions_by_date(self, master: StoredItem) -> None:
        """After the series changed shape: the occurrences deleted are those of the new
        pattern on a (start-zone) date an occurrence was deleted on."""
        rec, first = master.props.get("Recurrence"), master.dt("Start")
        if not master.deleted_occurrences or rec is None or first is None:
            master.deleted_occurrences.clear()
            return
        zone = recurrence.zone(master.tz_id)
        days = {d.astimezone(zone).date() for d in master.deleted_occurrences}
        master.deleted_occurrences = {
            v for v in recurrence.occurrence_starts(rec, first, master.tz_id)
            if v.astimezone(zone).date() in days}

    def materialize(self, master: StoredItem, original: datetime) -> StoredItem:
        """The exception item for one occurrence, created from the master when needed. Its id
        is the occurrence id (master id + instance index), as on Exchange, where an occurrence
        keeps its id when it becomes an exception."""
        if original in master.exceptions:
            return self.items[master.exceptions[original]]
        rec, first = master.props.get("Recurrence"), master.dt("Start")
        assert rec is not None and first is not None
        index = recurrence.index_of(rec, first, master.tz_id, original)
        if index is None:
            raise EwsError("ErrorCalendarOccurrenceIndexIsOutOfRecurrenceRange",
                           "The occurrence index is out of recurrence range.")
        start, end = master.dt("Start"), master.dt("End")
        assert start is not None and end is not None
        props = {k: copy.deepcopy(v) for k, v in master.props.items() if k != "Recurrence"}
        props["Start"].text = fmt_dt(original)
        props["End"].text = fmt_dt(original + (end - start))
        now, seq = self.now(), self.next_seq()
        exc = StoredItem(occurrence_id(master.id, index), master.folder_id, props, copy.deepcopy(master.ext),
                         self.new_change_key(), now, now, seq, seq, master.organizer,
                         is_exception=True, master_id=master.id, original_start=original)
        self.items[exc.id] = exc
        master.exceptions[original] = exc.id
        return exc

    def occurrences(self, master: StoredItem, start: datetime, end: datetime) -> list[tuple[int, datetime]]:
        """(instance index, original start) of the master's occurrences overlapping [start, end)."""
        rec, first, first_end = master.props.get("Recurrence"), master.dt("Start"), master.dt("End")
        if rec is None or first is None or first_end is None:
            return []
        duration = first_end - first
        out = []
        for n, value in enumerate(recurrence.occurrence_starts(rec, first, master.tz_id, until=end), 1):
            if value + duration > start and value not in master.deleted_occurrences:
                out.append((n, value))
        return out

    def add_occurrence_lists(self, item: StoredItem, parent: etree._Element) -> None:
        """ModifiedOccurrences / DeletedOccurrences of a master, as Exchange lists them."""
        if item.exceptions:
            mods = sub(parent, t("ModifiedOccurrences"))
            for original, exc_id in sorted(item.exceptions.items()):
                exc = self.items[exc_id]
                occ = sub(mods, t("Occurrence"))
                sub(occ, t("ItemId"), Id=exc.id, ChangeKey=exc.change_key)
                sub(occ, t("Start"), exc.text("Start"))
                sub(occ, t("End"), exc.text("End"))
                sub(occ, t("OriginalStart"), fmt_dt(original))
        if item.deleted_occurrences:
            dels = sub(parent, t("DeletedOccurrences"))
            for original in sorted(item.deleted_occurrences):
                sub(sub(dels, t("DeletedOccurrence")), t("Start"), fmt_dt(original))


def occurrence_id(master_id: str, index: int) -> str:
    """Id of occurrence ``index`` of a series (also the id of its exception, once modified)."""
    return base64.b64encode(f"OCC|{master_id}|{index}".encode()).decode()


def parse_occurrence_id(value: str) -> tuple[str, int] | None:
    try:
        text = base64.b64decode(value.encode()).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not text.startswith("OCC|"):
        return None
    _, master, index = text.split("|")
    return master, int(index)
