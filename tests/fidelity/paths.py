"""The paths a corpus file travels, each through real components, ending in a vdir folder.

- ``vdir``: source folder → hub → destination folder.
- ``caldav-radicale`` / ``caldav-xandikos``: source folder → hub A → a collection on the real
  server → hub B (a second spoke on the same collection) → destination folder.
- ``ews``: source folder → hub A → a public folder on the EWS emulator → hub B → destination.
- ``ics-url``: one feed per file (served as-is) → hub → destination folder.

Files go in *rounds* in which no UID repeats (the corpus reuses sample UIDs across files,
and one UID is one item by design); each round gets fresh hubs, folders and collections.
Every round is synced in passes (pull-push along the path, twice) by the real SyncCycle.
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from cirahub.actors.cycle import LocalMerger, RunSummary, SyncCycle
from cirahub.connectors.registry import open_connector
from cirahub.connectors.vdir_files import read_file
from cirahub.core.options import SyncOptions
from tests.corpus import CorpusFile

from . import reference

PASSES = 2


@dataclass
class RoundResult:
    """What one round left: the destination folder and, per file id, why the path refused it
    (quarantine reasons and run errors seen on any spoke of the path)."""

    dest: Path
    refused: dict[str, list[str]] = field(default_factory=dict)
    meeting_messages: int = 0
    #: run errors of spokes that carry the whole round (they explain files that did not arrive)
    errors: list[str] = field(default_factory=list)
    #: per file id, the projections a spoke of the path declared for its items (what it changed)
    declared: dict[str, list[str]] = field(default_factory=dict)


class PathRunner(Protocol):
    name: str
    #: compare every property and parameter (iCalendar end to end), else the modeled fields
    full_properties: bool

    def run_round(self, files: Sequence[CorpusFile], work: Path, tag: str) -> RoundResult: ...


def rounds(files: Sequence[CorpusFile]) -> list[list[CorpusFile]]:
    """Greedy split into groups whose files share no UID."""
    groups: list[tuple[set[str], list[CorpusFile]]] = []
    files = sorted(files, key=lambda f: -len(_uids(f)))  # big files first: fewer rounds
    for f in files:
        uids = set(_uids(f))
        for taken, members in groups:
            if not (taken & uids):
                taken |= uids
                members.append(f)
                break
        else:
            groups.append((set(uids), [f]))
    return [members for _, members in groups]


@cache
def _uids(f: CorpusFile) -> frozenset[str]:
    """The UIDs of a file's items (read from the text for what the reference cannot read)."""
    data = f.read()
    try:
        cal = reference.load(data)
    except reference.Unreadable:
        text = data.decode("utf-8", errors="replace")
        return frozenset(m.strip() for m in re.findall(r"^UID:(.*)$", text, flags=re.M))
    return frozenset(str(c["UID"]) for c in reference.carried(cal) if "UID" in c)


class Spokes:
    """Hubs and spokes of one round in the store; runs their cycles."""

    def __init__(self, store: Any, tag: str) -> None:
        self.store = store
        self.tag = tag
        self.merger = LocalMerger(store)
        self.cycles: dict[str, SyncCycle] = {}
        self.connectors: list[Any] = []
        self.hubs: list[str] = []
        self.errors: dict[str, str] = {}

    def hub(self, name: str) -> str:
        hub = f"{self.tag}-{name}"
        self.store.create_hub(hub)
        self.hubs.append(hub)
        return hub

    def add(self, hub: str, name: str, kind: str, config: Mapping[str, Any],
            secret: str | None = None) -> str:
        record = self.store.add_spoke(hub, name, kind, dict(config), SyncOptions(),
                                      secret=secret)
        connector = open_connector(kind, record.config, secret)
        self.connectors.append(connector)
        self.cycles[record.id] = SyncCycle(self.store, connector, record.id, self.merger)
        return record.id

    def run(self, spoke_id: str) -> RunSummary:
        summary = self.cycles[spoke_id].run("fidelity")
        if summary.error:
            self.errors[spoke_id] = str(summary.error.get("message") or summary.error)
        return summary

    def quarantine(self) -> list[Any]:
        return [q for hub in self.hubs for q in self.store.list_quarantine(hub=hub)]

    def projections(self) -> list[Any]:
        return [p for hub in self.hubs for p in self.store.list_projections(hub=hub)]

    def close(self) -> None:
        for c in self.connectors:
            c.close()


def place(files: Sequence[CorpusFile], folder: Path) -> dict[str, str]:
    """Copy the files into ``folder`` as ``<id>.ics``; file name → file id."""
    folder.mkdir(parents=True)
    for f in files:
        (folder / f.file_name).write_bytes(f.read())
    return {f.file_name: f.id for f in files}


class Owners:
    """Which corpus file a hub item of the round came from: by UID (the file's own), and by the
    source spoke's link (file name), which also names the items without UID (the hub gave them
    a derived UID: quarantine rows and projections carry that one, or only the hub item id)."""

    def __init__(self, spokes: Spokes, files: Sequence[CorpusFile],
                 by_name: Mapping[str, str], sources: Sequence[str] = ()) -> None:
        self.by_uid = {uid: f.id for f in files for uid in _uids(f)}
        for f in files:  # UIDs inside components the reference does not see as items
            text = f.read().decode("utf-8", errors="replace")
            for uid in re.findall(r"^UID:(.*?)\r?$", text, flags=re.M):
                self.by_uid.setdefault(uid.strip(), f.id)
            for entry in read_file(f.file_name, text):  # the UIDs the source folder gave
                self.by_uid.setdefault(entry.uid or "", f.id)
        self.by_item: dict[str, str] = {}
        for spoke_id in sources:
            for remote_id, link in spokes.store.links(spoke_id).items():
                fid = by_name.get(remote_id.partition("#")[0])
                if fid is not None:
                    self.by_item[link.hub_item_id] = fid
                    # the derived UID travels with the copy to the next hub of the path
                    self.by_uid.setdefault(link.uid, fid)

    def of(self, uid: str | None, hub_item_id: str | None = None) -> str | None:
        return self.by_item.get(hub_item_id or "") or self.by_uid.get(uid or "")


def refusals(spokes: Spokes, files: Sequence[CorpusFile], by_name: Mapping[str, str],
             by_spoke: Mapping[str, str] | None = None, owners: Owners | None = None,
             ) -> dict[str, list[str]]:
    """Quarantine reasons and run errors, attributed to files by file name, spoke, hub item
    (a failed write's row is ``write:<hub item id>``) or UID."""
    owners = owners or Owners(spokes, files, by_name)
    out: dict[str, list[str]] = {}
    for q in spokes.quarantine():
        item = q.remote_id.removeprefix("write:") if q.remote_id.startswith("write:") else None
        fid = (by_name.get(q.remote_id) or (by_spoke or {}).get(q.spoke_id)
               or owners.of(q.uid, item) or owners.of(q.remote_id))
        if fid is not None:
            out.setdefault(fid, []).append(f"{q.reason}: {q.detail}"[:200])
    for spoke_id, message in spokes.errors.items():
        fid = (by_spoke or {}).get(spoke_id)
        if fid is not None:
            out.setdefault(fid, []).append(f"run error: {message}"[:200])
    return out


def declarations(spokes: Spokes, owners: Owners) -> dict[str, list[str]]:
    """The projections the path's spokes declared (stored per item), attributed to files."""
    out: dict[str, list[str]] = {}
    for p in spokes.projections():
        fid = owners.of(p.uid, p.hub_item_id)
        if fid is not None:
            out.setdefault(fid, []).extend(p.notes)
    return {fid: sorted(set(notes)) for fid, notes in out.items()}


class VdirPath:
    name = "vdir"
    full_properties = True

    def __init__(self, store: Any) -> None:
        self.store = store

    def run_round(self, files: Sequence[CorpusFile], work: Path, tag: str) -> RoundResult:
        spokes = Spokes(self.store, tag)
        by_name = place(files, work / "source")
        hub = spokes.hub("hub")
        src = spokes.add(hub, "source", "vdir", {"path": str(work / "source")})
        dst = spokes.add(hub, "dest", "vdir", {"path": str(work / "dest")})
        for _ in range(PASSES):
            spokes.run(src)
            spokes.run(dst)
        spokes.close()
        owners = Owners(spokes, files, by_name, [src])
        return RoundResult(work / "dest", refusals(spokes, files, by_name, owners=owners),
                           errors=sorted(set(spokes.errors.values())),
                           declared=declarations(spokes, owners))


@dataclass
class MiddlePath:
    """source vdir → hub A → middle spoke ← hub B → destination vdir."""

    name: str
    store: Any
    kind: str
    #: (tag) → (config, secret) of a new empty middle calendar, used by both hubs
    make_middle: Callable[[str], tuple[dict[str, Any], str | None]]
    full_properties: bool = True
    meeting_messages: Callable[[], int] = lambda: 0

    def run_round(self, files: Sequence[CorpusFile], work: Path, tag: str) -> RoundResult:
        spokes = Spokes(self.store, tag)
        by_name = place(files, work / "source")
        config, secret = self.make_middle(tag)
        hub_a, hub_b = spokes.hub("a"), spokes.hub("b")
        order = [
            spokes.add(hub_a, "source", "vdir", {"path": str(work / "source")}),
            spokes.add(hub_a, "middle", self.kind, config, secret),
            spokes.add(hub_b, "middle", self.kind, config, secret),
            spokes.add(hub_b, "dest", "vdir", {"path": str(work / "dest")}),
        ]
        for _ in range(PASSES):
            for spoke_id in order:
                spokes.run(spoke_id)
        spokes.close()
        owners = Owners(spokes, files, by_name, order[:1])
        return RoundResult(work / "dest", refusals(spokes, files, by_name, owners=owners),
                           self.meeting_messages(), sorted(set(spokes.errors.values())),
                           declarations(spokes, owners))


@dataclass
class FeedPath:
    """Each file served as-is as a feed, read by an ics-url spoke of its own hub, written to
    that hub's destination folder (one hub per feed: a hub of hundreds of spokes would make
    each run re-check every hub item); the folders are then gathered into one."""

    store: Any
    publish: Callable[[str, bytes], str]
    name: str = "ics-url"
    full_properties: bool = True

    def run_round(self, files: Sequence[CorpusFile], work: Path, tag: str) -> RoundResult:
        spokes = Spokes(self.store, tag)
        owner: dict[str, str] = {}
        for n, f in enumerate(files):
            hub = spokes.hub(f"f{n}")
            url = self.publish(f"/{tag}/{f.file_name}", f.read())
            feed = spokes.add(hub, "feed", "ics-url", {"url": url})
            dest = spokes.add(hub, "dest", "vdir", {"path": str(work / "dests" / str(n))})
            owner[feed] = owner[dest] = f.id
            # one pass: a feed is read-only, so nothing comes back to settle
            spokes.run(feed)
            spokes.run(dest)
        spokes.close()
        gathered = work / "dest"
        gathered.mkdir(parents=True)
        for path in sorted((work / "dests").glob("*/*.ics")):
            # items without UID may get the same derived name in two hubs: keep both
            os.link(path, gathered / f"{path.parent.name}-{path.name}")
        return RoundResult(gathered, refusals(spokes, files, {}, owner))


def run_path(runner: PathRunner, files: Sequence[CorpusFile], work: Path,
             ) -> Iterator[tuple[list[CorpusFile], RoundResult]]:
    """Every round of ``files`` through ``runner``."""
    counter = itertools.count()
    for group in rounds(files):
        n = next(counter)
        yield group, runner.run_round(group, work / f"round-{n}", f"{runner.name}-r{n}")


def collect(runner: PathRunner, files: Sequence[CorpusFile], work: Path,
            ) -> tuple[dict[str, Any], int]:
    """Outcomes of every file through ``runner`` (file id → Outcome) and the meeting messages
    the path sent (must be 0)."""
    from .outcome import Destination, judge_round

    out: dict[str, Any] = {}
    messages = 0
    for group, result in run_path(runner, files, work):
        dest = Destination.read(result.dest)
        uids = set().union(*(_uids(f) for f in group))
        messages += result.meeting_messages
        out.update(judge_round(group, dest, result.refused, uids, runner.full_properties,
                               result.errors, result.declared))
    return out, messages
