"""exchangelib's unmodified client against the EWS emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from exchangelib import (
    DELEGATE,
    Account,
    Build,
    Configuration,
    Credentials,
    EWSDateTime,
    EWSTimeZone,
    Q,
    Version,
)
from exchangelib.errors import ErrorInvalidOperation, ErrorIrresolvableConflict, UnauthorizedError
from exchangelib.folders import Calendar, FolderCollection
from exchangelib.items import NEVER_OVERWRITE, SEND_TO_NONE, CalendarItem
from exchangelib.recurrence import Recurrence, WeeklyPattern
from exchangelib.transport import BASIC

from cirahub.connectors.ews.mapping import register_properties
from tests.ews_emulator import EwsEmulator

from .conftest import PASSWORD, USER

register_properties()
BERLIN = EWSTimeZone("Europe/Berlin")


def _account(emu: EwsEmulator, password: str = PASSWORD, address: str = USER) -> Account:
    conf = Configuration(service_endpoint=emu.url, credentials=Credentials(USER, password),
                         auth_type=BASIC, version=Version(build=Build(15, 20, 8769, 21)))
    return Account(address, config=conf, autodiscover=False, access_type=DELEGATE)


def test_public_folder_traversal_is_shallow_and_deep_is_refused(emu: EwsEmulator) -> None:
    fid = emu.add_public_folder("/Calendars/Team")
    emu.add_public_folder("/Calendars/Ops")
    acc = _account(emu)
    root = acc.public_folders_root
    cal = root // "Calendars" // "Team"
    assert isinstance(cal, Calendar) and cal.id == fid
    assert sorted(f.name for f in (root // "Calendars").children) == ["Ops", "Team"]
    with pytest.raises(ErrorInvalidOperation):
        list(FolderCollection(account=acc, folders=[root]).find_folders(depth="Deep"))
    assert all(r.attrs.get("Traversal") != "Deep" or r.op == "FindFolder" for r in emu.requests)


def test_crud_paging_and_conflicts(emu: EwsEmulator) -> None:
    emu.add_public_folder("/Calendars/Team")
    cal = _account(emu).public_folders_root // "Calendars" // "Team"
    start = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)
    items = [CalendarItem(folder=cal, subject=f"e{n}", start=start + timedelta(days=n),
                          end=start + timedelta(days=n, hours=1), hub_id=f"h{n}") for n in range(7)]
    for item in items:
        item.save(send_meeting_invitations=SEND_TO_NONE)
    qs = cal.all().only("subject")
    qs.page_size = 3
    assert sorted(i.subject for i in qs) == [f"e{n}" for n in range(7)]
    assert emu.count("FindItem") == 3  # 3 + 3 + 1
    [found] = cal.filter(hub_id="h4").only("subject", "hub_id")
    assert found.subject == "e4" and found.hub_id == "h4"
    old_key = items[0].changekey
    items[0].subject = "renamed"
    items[0].save(update_fields=["subject"], conflict_resolution=NEVER_OVERWRITE)
    assert items[0].changekey != old_key
    stale = CalendarItem(account=cal.account, folder=cal, id=items[0].id, changekey=old_key, subject="x")
    with pytest.raises(ErrorIrresolvableConflict):
        stale.save(update_fields=["subject"], conflict_resolution=NEVER_OVERWRITE)
    items[1].delete()
    assert len(list(cal.all().only("subject"))) == 6
    assert emu.meeting_messages == []


def test_an_or_of_equalities_finds_what_each_clause_finds(emu: EwsEmulator) -> None:
    """The emulator answers an Or of IsEqualTo clauses (the create batch's duplicate check)
    by set lookups: the same items as the clauses one by one, extended properties, times and
    texts mixed, and an Or holding another comparison still tested clause by clause."""
    emu.add_public_folder("/Calendars/Team")
    cal = _account(emu).public_folders_root // "Calendars" // "Team"
    start = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)
    for n in range(12):
        CalendarItem(folder=cal, subject=f"e{n}", start=start + timedelta(days=n),
                     end=start + timedelta(days=n, hours=1),
                     hub_id=f"h{n}" if n % 2 else None).save(send_meeting_invitations=SEND_TO_NONE)

    def subjects(q: Q) -> list[str]:
        return sorted(i.subject for i in cal.filter(q).only("subject"))

    q = Q(hub_id__in=["h1", "h3", "h4", "nope"]) | Q(start=start + timedelta(days=6)) \
        | Q(start=start + timedelta(days=7)) | Q(subject="e10")
    assert subjects(q) == ["e1", "e10", "e3", "e6", "e7"]
    mixed = Q(hub_id="h5") | Q(start__gt=start + timedelta(days=10))
    assert subjects(mixed) == ["e11", "e5"]
    assert subjects(Q(hub_id__in=["nope", "none"])) == []


def test_calendar_view_expands_a_series_with_exceptions(emu: EwsEmulator) -> None:
    emu.add_public_folder("/Calendars/Team")
    cal = _account(emu).public_folders_root // "Calendars" // "Team"
    start = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)
    series = CalendarItem(folder=cal, subject="standup", start=start, end=start + timedelta(minutes=15),
                          recurrence=Recurrence(pattern=WeeklyPattern(interval=1, weekdays=[1]),
                                                start=start.date(), number=5))
    series.save()
    series.occurrence(3).delete()
    view = list(cal.view(start=start - timedelta(days=1), end=start + timedelta(days=40)))
    assert len(view) == 4
    # 2026-03-30 is after the DST change: still 09:00 in Berlin
    assert view[-1].start.astimezone(BERLIN).hour == 9
    [master] = cal.account.fetch([series], folder=cal, only_fields=["deleted_occurrences", "type"])
    assert master.type == "RecurringMaster" and len(master.deleted_occurrences) == 1


def test_sync_folder_items_on_a_mailbox_and_refused_on_public_folders(emu: EwsEmulator) -> None:
    acc = _account(emu)
    start = EWSDateTime(2026, 3, 2, 9, tzinfo=BERLIN)
    CalendarItem(folder=acc.calendar, subject="a", start=start, end=start + timedelta(hours=1)).save()
    changes = list(acc.calendar.sync_items(only_fields=["subject"]))
    assert [c[0] for c in changes] == ["create"]
    state = acc.calendar.item_sync_state
    changes[0][1].delete()
    assert [c[0] for c in acc.calendar.sync_items(sync_state=state)] == ["delete"]
    emu.add_public_folder("/Calendars/Team")
    pub = acc.public_folders_root // "Calendars" // "Team"
    with pytest.raises((ErrorInvalidOperation, AttributeError)):
        list(pub.sync_items())


def test_wrong_password_gets_401(emu: EwsEmulator) -> None:
    with pytest.raises(UnauthorizedError):
        _account(emu, password="nope").calendar  # noqa: B018
