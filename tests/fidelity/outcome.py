"""Judging one corpus file after a path: what arrived in the destination folder, compared with
the source as the reference libraries read both, and the per-path table.

Statuses (worst first): ``lost`` (not in the destination, not refused), ``duplicated`` (a
component arrived twice), ``distorted`` (occurrences differ), ``quarantined`` (refused,
with why), ``projected`` (same occurrences, some properties differ: listed), ``identical``.
Files the reference cannot read are ``unreadable`` (outside the acceptance: whatever the path
does with them is reported, nothing is required); files without any component to carry are
``empty``.

A path whose spoke *declared* a projection of a file's items (the notes it stores per item,
``Store.list_projections``) has that file ``projected`` with the notes when the copy has the
source's occurrences, whatever else it lacks: the spoke said what it holds is not the item.
A copy whose occurrences differ is ``distorted``, declared or not (the notes are shown).
"""

from __future__ import annotations

import copy
import datetime as dt
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import icalendar

from . import reference

STATUSES = ("identical", "projected", "quarantined", "distorted", "duplicated", "lost",
            "empty", "unreadable")
#: the statuses that meet the acceptance on their own
GOOD = frozenset({"identical", "empty", "unreadable"})


class Source(Protocol):
    """A corpus file as the judge sees it (tests.corpus.CorpusFile is one)."""

    @property
    def id(self) -> str: ...

    def read(self) -> bytes: ...


@dataclass(frozen=True)
class Outcome:
    file_id: str
    status: str
    detail: str = ""
    byte_identical: bool = False


@dataclass
class Destination:
    """The destination folder, parsed once: components by UID, with their file names."""

    by_uid: dict[str, list[tuple[str, icalendar.cal.Component]]] = field(default_factory=dict)
    timezones: dict[str, list[icalendar.cal.Component]] = field(default_factory=dict)
    #: file name → its calendar's own properties (X-WR-TIMEZONE changes what times mean)
    heads: dict[str, list[tuple[str, object]]] = field(default_factory=dict)
    raw: dict[str, bytes] = field(default_factory=dict)
    unreadable: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, folder: Path) -> Destination:
        out = cls()
        for path in sorted(folder.glob("*.ics")) if folder.exists() else []:
            data = path.read_bytes()
            out.raw[path.name] = data
            try:
                cal = reference.load(data)
            except reference.Unreadable as exc:
                out.unreadable[path.name] = str(exc)
                continue
            out.timezones[path.name] = [c for c in cal.subcomponents if c.name == "VTIMEZONE"]
            if cal.name == "VCALENDAR":
                out.heads[path.name] = list(cal.property_items(recursive=False))[1:-1]
            for c in reference.carried(cal):
                out.by_uid.setdefault(str(c.get("UID", "")), []).append((path.name, c))
        return out


def _signature(c: icalendar.cal.Component) -> tuple[str, str, str, str]:
    """What stands for a component without UID: kind, summary, recurrence id and start (an
    instant, whatever zone the copy states it in)."""
    start = reference.start_as_read(c)
    return (c.name, str(c.get("SUMMARY", "")), reference.component_key(c)[2],
            reference.moment(start) if start != "" else "")


#: a RECURRENCE-ID date-time within this of a date's UTC midnight names that date's occurrence
_RID_SLACK = dt.timedelta(hours=14)


def _same_key(a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    """Same component: equal keys, or the RECURRENCE-ID of one occurrence of an all-day
    series written as its date on one side and as a (zone's local) midnight on the other (a
    copy that states the date for a date series, as RFC 5545 wants, names the same occurrence)."""
    if a == b:
        return True
    if a[:2] != b[:2] or not a[2] or not b[2] or (a[2].startswith("D:") == b[2].startswith("D:")):
        return False
    day, moment = (a[2], b[2]) if a[2].startswith("D:") else (b[2], a[2])
    try:
        midnight = dt.datetime.fromisoformat(day[2:] + "T00:00:00+00:00")
        instant = dt.datetime.fromisoformat(moment.replace("Z", "+00:00"))
    except ValueError:
        return False
    return instant.tzinfo is not None and abs(instant - midnight) <= _RID_SLACK


def _bare(c: icalendar.cal.Component) -> icalendar.cal.Component:
    out = copy.deepcopy(c)
    out.pop("UID", None)
    return out


class OrphanClaims:
    """The destination components that may stand for source components without UID: those
    under a UID no source file of the round uses (the hub gave them one). Each stands for at
    most one source component of the round, so two files (or two components of one file) with
    the same summary and start never count one copy twice."""

    def __init__(self, dest: Destination, taken_uids: set[str]) -> None:
        self._free = [(name, d) for uid, entries in dest.by_uid.items() if uid not in taken_uids
                      for name, d in entries]
        self._claimed: set[int] = set()
        #: id of a source component → the UID its claimed copy has in the destination
        self.given: dict[int, str] = {}
        #: id of a copy without its UID → the copy as it is (one series for the reference)
        self.original: dict[int, icalendar.cal.Component] = {}

    def _candidates(self, c: icalendar.cal.Component) -> list[int]:
        want = _signature(c)
        return [i for i, (_, d) in enumerate(self._free)
                if i not in self._claimed and _signature(d) == want]

    def claim(self, c: icalendar.cal.Component) -> tuple[str, icalendar.cal.Component] | None:
        """The copy of ``c`` (without its given UID), preferring one whose every property
        matches; None when no unclaimed component can stand for it."""
        found = self._candidates(c)
        if not found:
            return None
        lines = reference.property_lines(c)

        def shared(i: int) -> int:  # exact copies first, then the one sharing most lines
            theirs = reference.property_lines(_bare(self._free[i][1]))
            return sum((theirs & lines).values()) + (10**6 if theirs == lines else 0)

        pick = max(found, key=shared)
        self._claimed.add(pick)
        name, d = self._free[pick]
        self.given[id(c)] = str(d.get("UID", ""))
        bare = _bare(d)
        self.original[id(bare)] = d
        return name, bare

    def companions(self, c: icalendar.cal.Component, dest: Destination,
                   ) -> list[tuple[str, icalendar.cal.Component]]:
        """The other components under the UID the copy of ``c`` was given (the overrides a
        spoke wrote for it, e.g. for RDATE periods), without that UID, as ``c``'s are."""
        uid = self.given.get(id(c))
        if not uid:
            return []
        picked = {id(d) for i, (_, d) in enumerate(self._free) if i in self._claimed}
        out = []
        for n, d in dest.by_uid.get(uid, []):
            if id(d) not in picked:
                bare = _bare(d)
                self.original[id(bare)] = d
                out.append((n, bare))
        return out

    def unclaimed(self, cs: Iterable[icalendar.cal.Component]) -> int:
        """How many further components could stand for one of ``cs``: once every source
        component of the round has claimed its copy, each of them is a duplicate."""
        return len({i for c in cs for i in self._candidates(c)})


def judge(f: Source, dest: Destination, refused: Sequence[str], claims: OrphanClaims,
          full_properties: bool, round_errors: Sequence[str] = (),
          declared: Sequence[str] = ()) -> Outcome:
    """The outcome of ``f`` given what the round left (see the module docstring). A component
    with a UID is matched by (kind, UID, RECURRENCE-ID): the destination must hold as many of
    each as the source (a file may hold two masters of one UID); fewer is a loss, more a
    duplicate (an all-day occurrence's RECURRENCE-ID as a date or a midnight is one key). A
    component without UID claims one copy from ``claims``. A component the path's spoke
    declared it cannot hold (``declared``: "VTODO of this item: not written") is projected
    away, not lost."""
    data = f.read()
    why = "; ".join(sorted(set(refused)))
    try:
        reading = reference.read(data)
    except reference.Unreadable as exc:
        return Outcome(f.id, "unreadable", f"{exc}" + (f" (path: {why})" if why else ""))
    source = reading.calendar
    wanted = reference.carried(source)
    if not wanted:
        return Outcome(f.id, "empty", why)
    arrived: list[tuple[str, icalendar.cal.Component]] = []
    aliases: dict[int, tuple[str, str, str]] = {}  # copies matched under another key
    missing = extra_copies = 0
    want_keys = Counter(reference.component_key(c) for c in wanted if "UID" in c)
    for key, n in want_keys.items():
        entries = [(name, d) for name, d in dest.by_uid.get(key[1], [])
                   if _same_key(reference.component_key(d), key)]
        if not entries and key[2] and _declared_as_series(declared):
            entries = _as_series(key, wanted, dest)
        missing += 0 if _declared_away(key[0], declared) else max(0, n - len(entries))
        extra_copies += max(0, len(entries) - n)
        arrived += entries
        aliases.update({id(d): key for _, d in entries if reference.component_key(d) != key})
    companions: list[tuple[str, icalendar.cal.Component]] = []
    for c in wanted:
        # a component the spoke declared it did not write claims no copy (another file's
        # component of the same summary and start may have arrived)
        if "UID" not in c and not _declared_away(c.name, declared):
            claimed = claims.claim(c)
            missing += claimed is None
            arrived += [claimed] if claimed else []
            companions += claims.companions(c, dest) if claimed else []
    if missing:
        status = "quarantined" if why else "lost"
        part = "" if missing == len(wanted) else f"{missing} of {len(wanted)} components: "
        context = f" (run errors: {'; '.join(round_errors)})" if round_errors else ""
        return Outcome(f.id, status, part + (why or "not in the destination" + context))
    if extra_copies:
        return Outcome(f.id, "duplicated",
                       f"{len(arrived)} copies of {len(wanted)} components")
    files = sorted({n for n, _ in arrived})
    # every other component of those UIDs in the destination belongs to the copy too
    # (and of the events a custom component wraps: a spoke may hold them without it)
    uids = {str(sub["UID"]) for c in wanted for sub in c.walk() if "UID" in sub}
    extra = [(n, d) for uid in uids for n, d in dest.by_uid.get(uid, [])
             if not any(d is a for _, a in arrived)]
    copy_components = [d for _, d in arrived + extra + companions]
    # the reference expands a series whose components share a UID: the copies as they are
    distortion = _occurrence_diff(reading, [claims.original.get(id(d), d) for d in copy_components],
                                  dest, files)
    # a declaration excuses what the copy lacks, never other occurrences: those are what a
    # user sees, so a copy that has them differ is distorted, declared or not (the notes shown)
    if distortion:
        return Outcome(f.id, "distorted", distortion + (
            f" (declared: {'; '.join(declared)})" if declared else ""))
    diff = _property_diff(wanted, copy_components, full_properties, aliases)
    if full_properties:  # the calendar's own properties (X-WR-CALNAME, METHOD...) too
        diff = _with_heads(diff, source, [dest.heads.get(n, []) for n in files])
    same_bytes = len(files) == 1 and dest.raw[files[0]] == data
    # a declaration never hides what else differs: the properties are compared all the same
    # and what differs is listed beside the notes (so a note cannot excuse a loss it names not)
    differs = ", ".join(diff.names())
    if declared:
        return Outcome(f.id, "projected", "declared: " + "; ".join(declared) + (
            f"; differs: {differs}" if differs else ""), same_bytes)
    if differs:
        return Outcome(f.id, "projected", differs, same_bytes)
    return Outcome(f.id, "identical", "", same_bytes)


def _property_diff(wanted: list[icalendar.cal.Component],
                   copy_components: list[icalendar.cal.Component],
                   full_properties: bool, aliases: reference.Aliases) -> reference.PropertyDiff:
    """Every property and parameter (iCalendar end to end), else the modelled fields; a copy
    matched to a source component under another key (``aliases``) compared with it."""
    if full_properties:
        return reference.property_diff(wanted, copy_components, aliases)
    src = reference.field_view(wanted)
    dst = reference.field_view(copy_components, aliases)
    return reference.PropertyDiff(tuple(reference.strip_key(x) for x in (src - dst).elements()),
                                  tuple(reference.strip_key(x) for x in (dst - src).elements()))


def _head_lines(items: Iterable[tuple[str, object]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for name, value in items:
        name = name.upper()
        if name not in ("BEGIN", "END"):
            out["VCALENDAR/" + reference.property_line(name, value)] += 1
    return out


def _with_heads(diff: reference.PropertyDiff, source: icalendar.cal.Component,
                heads: list[list[tuple[str, object]]]) -> reference.PropertyDiff:
    """``diff`` and how the calendar properties of each file the copy is in differ from the
    source's (a bare component has none to compare)."""
    if source.name != "VCALENDAR":
        return diff
    want = _head_lines(list(source.property_items(recursive=False))[1:-1])
    lost, added = list(diff.lost), list(diff.added)
    for head in heads:
        got = _head_lines(head)
        lost += (want - got).elements()
        added += (got - want).elements()
    return reference.PropertyDiff(tuple(sorted(set(lost))), tuple(sorted(set(added))))


#: the note of a spoke that wrote occurrences without their series as one series of them
#: (:func:`cirahub.connectors.caldav.mending.orphan_occurrences`)
_AS_SERIES = "occurrences without their series written as one series"


def _declared_as_series(declared: Sequence[str]) -> bool:
    return any(_AS_SERIES in note for note in declared)


def _as_series(key: tuple[str, str, str], wanted: Sequence[icalendar.cal.Component],
               dest: Destination) -> list[tuple[str, icalendar.cal.Component]]:
    """The copy of the occurrence ``key`` that the spoke made the series (declared): the
    component of its UID without RECURRENCE-ID that starts when the occurrence does."""
    source = next(c for c in wanted if "UID" in c and reference.component_key(c) == key)
    start = reference.moment(source["DTSTART"].dt) if "DTSTART" in source else None
    return [(name, d) for name, d in dest.by_uid.get(key[1], [])
            if reference.component_key(d)[:2] == key[:2] and not reference.component_key(d)[2]
            and "DTSTART" in d and reference.moment(d["DTSTART"].dt) == start]


def _declared_away(kind: str, declared: Sequence[str]) -> bool:
    """Whether the path's spoke declared that it does not write components of ``kind``."""
    return any(note.startswith(kind) and "not written" in note for note in declared)


def judge_round(files: Sequence[Source], dest: Destination,
                refused: Mapping[str, Sequence[str]], round_uids: set[str],
                full_properties: bool, round_errors: Sequence[str] = (),
                declared: Mapping[str, Sequence[str]] | None = None) -> dict[str, Outcome]:
    """The outcomes of one round's files (file id → Outcome). UID-less components claim their
    copies one by one; a copy left over that could stand for one of them is a duplicate."""
    claims = OrphanClaims(dest, round_uids)
    out = {f.id: judge(f, dest, refused.get(f.id, []), claims, full_properties, round_errors,
                       (declared or {}).get(f.id, ()))
           for f in files}
    for f in files:
        if out[f.id].status not in ("identical", "projected", "distorted"):
            continue
        try:
            orphans = [c for c in reference.carried(reference.load(f.read())) if "UID" not in c]
        except reference.Unreadable:
            continue
        left = claims.unclaimed(orphans)
        if left:
            out[f.id] = Outcome(f.id, "duplicated",
                                f"{left} more copies of its {len(orphans)} components "
                                "without UID")
    return out


def _occurrence_diff(source: reference.Reading, copy_components: list[icalendar.cal.Component],
                     dest: Destination, files: Iterable[str]) -> str:
    cal = icalendar.Calendar()
    for prop, value in next((dest.heads[n] for n in files if n in dest.heads), []):
        cal.add(prop, value, encode=False)
    seen: set[str] = set()
    for name in files:
        for tz in dest.timezones.get(name, []):
            if str(tz.get("TZID")) not in seen:
                seen.add(str(tz.get("TZID")))
                cal.add_component(tz)
    for c in copy_components:
        cal.add_component(c)
    # compared without their UIDs (a copy of an item without UID has the one it was given),
    # so in an order that does not depend on them
    expected = sorted((o[1:] for o in source.occurrences), key=str)
    try:
        got = sorted((o[1:] for o in reference.occurrences(cal)), key=str)
    except Exception as exc:  # the copy is unreadable by the reference
        return f"copy unreadable: {type(exc).__name__}: {str(exc)[:120]}"
    if expected == got:
        return ""
    if len(expected) != len(got):
        first = next((a for a, b in zip(expected, got, strict=False) if a != b), None)
        return f"{len(expected)} occurrences became {len(got)}" + (
            f"; first difference at {first[0]}" if first else "")
    a, b = next((a, b) for a, b in zip(expected, got, strict=True) if a != b)
    return f"{a[0]} {a[1]:g}s {a[2]!r} became {b[0]} {b[1]:g}s {b[2]!r}"


# --- the table ---------------------------------------------------------------------------------


def table(results: Mapping[str, Mapping[str, Outcome]]) -> str:
    """One block per path: counts, then every non-identical file with why."""
    lines: list[str] = []
    header = (f"{'path':<16}{'files':>6}{'readable':>9}{'carried':>8}{'identical':>10}"
              f"{'bytes':>6}{'projected':>10}{'quarant.':>9}{'distorted':>10}{'lost':>5}"
              f"{'dup':>4}{'empty':>6}")
    lines.append(header)
    for path, outcomes in results.items():
        c = Counter(o.status for o in outcomes.values())
        readable = len(outcomes) - c["unreadable"]
        carried = c["identical"] + c["projected"] + c["distorted"]
        same = sum(1 for o in outcomes.values() if o.byte_identical)
        lines.append(f"{path:<16}{len(outcomes):>6}{readable:>9}{carried:>8}{c['identical']:>10}"
                     f"{same:>6}{c['projected']:>10}{c['quarantined']:>9}{c['distorted']:>10}"
                     f"{c['lost']:>5}{c['duplicated']:>4}{c['empty']:>6}")
    for path, outcomes in results.items():
        bad = [o for o in outcomes.values() if o.status not in GOOD]
        if not bad:
            continue
        lines.append("")
        lines.append(f"{path}: not identical ({len(bad)})")
        for o in sorted(bad, key=lambda o: (STATUSES.index(o.status), o.file_id)):
            lines.append(f"  {o.status:<12} {o.file_id}: {o.detail}"[:240])
    return "\n".join(lines)
