"""Rewrite ``manifest.tsv`` and ``README.md`` from the installed packages.

    python -m tests.corpus.manifest

Every ``.ics`` file under the packages' test-calendar folders is listed once (byte-identical
copies are listed under their first path only), with the features the fidelity tables group
by. Review the diff: the expected outcomes in tests/fidelity/expected.yaml name files by id.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import itertools
import warnings
import zoneinfo
from dataclasses import dataclass
from importlib.metadata import version

import icalendar
import recurring_ical_events

from tests.corpus import COLUMNS, HERE, MANIFEST, CorpusFile, package_root


@dataclass(frozen=True)
class Source:
    package: str  # importable top-level package
    distribution: str
    folder: str  # inside the package
    repo: str
    repo_prefix: str  # the package folder's path in the repository
    licence: str
    short: str  # id prefix


SOURCES = (
    Source("icalendar", "icalendar", "tests", "collective/icalendar", "src/icalendar/",
           "BSD-2-Clause", "icalendar"),
    Source("recurring_ical_events", "recurring-ical-events", "test/calendars",
           "niccokunzmann/python-recurring-ical-events", "recurring_ical_events/",
           "LGPL-3.0-or-later", "rie"),
)
_IANA = zoneinfo.available_timezones()


def features(data: bytes) -> str:
    """What a file exercises, as the reference library reads it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cal = icalendar.Calendar.from_ical(data)
            list(itertools.islice(
                recurring_ical_events.of(cal).after(dt.datetime(1900, 1, 1)), 300))
    except Exception:
        return "unreadable"
    found: set[str] = set()
    components = [c for c in cal.walk() if c.name in ("VEVENT", "VTODO", "VJOURNAL")]
    if not [c for c in components if c.name == "VEVENT"]:
        found.add("no-vevent")
    if len({str(c.get("UID", "")) for c in components}) > 1:
        found.add("multi-uid")
    for c in components:
        if "UID" not in c:
            found.add("no-uid")
        if "RRULE" in c or "RDATE" in c:
            found.add("recurring")
        for prop, name in (("RECURRENCE-ID", "overrides"), ("EXDATE", "exdate"),
                           ("RDATE", "rdate")):
            if prop in c:
                found.add(name)
        start = c.get("DTSTART")
        tzid = start.params.get("TZID") if start is not None else None
        if tzid and tzid not in _IANA:
            found.add("non-iana")
    return ",".join(sorted(found))


def scan() -> list[CorpusFile]:
    seen: set[str] = set()
    out: list[CorpusFile] = []
    for source in SOURCES:
        root = package_root(source.package)
        for path in sorted((root / source.folder).rglob("*.ics")):
            data = path.read_bytes()
            digest = hashlib.sha256(data).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            rel = path.relative_to(root).as_posix()
            stem = path.relative_to(root / source.folder).with_suffix("").as_posix()
            out.append(CorpusFile(
                id=f"{source.short}.{stem.replace('/', '.')}", package=source.package, path=rel,
                repo=source.repo, repo_path=source.repo_prefix + rel, licence=source.licence,
                sha256=digest, features=features(data)))
    return out


def readme(files: list[CorpusFile]) -> str:
    counts = {f: sum(1 for c in files if f in c.features.split(","))
              for f in ("recurring", "overrides", "exdate", "rdate", "non-iana", "multi-uid",
                        "no-uid", "no-vevent", "unreadable")}
    series = sum(1 for c in files if "recurring" in c.features.split(",") and
                 {"overrides", "exdate", "rdate", "non-iana"} & set(c.features.split(",")))
    lines = [
        "# Real-world calendar corpus",
        "",
        "Public test calendars (exports of Google, Outlook/Exchange, Thunderbird, Apple, Etar,",
        "khal, the RFC 5545/7529/7986/9074/9253 examples, and files from public bug reports)",
        "collected by the `icalendar` and `recurring-ical-events` projects. They are **not**",
        "copied here: `tests/corpus/__init__.py` reads them where the pinned packages install",
        "them and checks each against the SHA-256 in `manifest.tsv`. Both licences allow",
        "redistribution (BSD-2-Clause; LGPL-3.0-or-later); the packages carry the licence texts.",
        "",
        "Regenerate after a dependency bump: `python -m tests.corpus.manifest`.",
        "",
        f"- files: {len(files)}; read by the reference library: "
        f"{len(files) - counts['unreadable']}",
        f"- recurring series with overrides, EXDATEs, RDATEs or non-IANA zones: {series}",
        "- by feature: " + ", ".join(f"{k} {v}" for k, v in counts.items()),
        "",
        "Versions: " + ", ".join(f"{s.distribution} {version(s.distribution)}" for s in SOURCES),
        "",
        "| id | source (repository: path) | licence | features |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {c.id} | {c.repo}: `{c.repo_path}` | {c.licence} | {c.features} |"
              for c in files]
    return "\n".join(lines) + "\n"


def main() -> None:
    files = scan()
    with MANIFEST.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter="\t", lineterminator="\n")
        writer.writerow(COLUMNS)
        for c in files:
            writer.writerow([getattr(c, k) for k in COLUMNS])
    (HERE / "README.md").write_text(readme(files), encoding="utf-8")
    print(f"{len(files)} files -> {MANIFEST}")


if __name__ == "__main__":
    main()
