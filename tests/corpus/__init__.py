"""The real-world calendar corpus: public test calendars shipped inside packages we install.

The files are not copied into this repository: they are read where the ``icalendar`` and
``recurring-ical-events`` distributions install them (both pinned in the ``test`` extra, so
the corpus is the same on every machine). ``manifest.tsv`` beside this file names every file
with its source repository and path, its licence and its SHA-256; :func:`corpus` checks each
file against it, so a changed dependency shows up as a clear error instead of a silently
different corpus. ``python -m tests.corpus.manifest`` rewrites the manifest and the README.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
from dataclasses import dataclass
from functools import cache
from pathlib import Path

HERE = Path(__file__).parent
MANIFEST = HERE / "manifest.tsv"
#: manifest columns, in order
COLUMNS = ("id", "package", "path", "repo", "repo_path", "licence", "sha256", "features")


class CorpusError(Exception):
    """A corpus file is missing or not the one the manifest names."""


@dataclass(frozen=True)
class CorpusFile:
    """One corpus calendar. ``id`` is stable and safe as a file name; ``features`` is a
    comma-separated summary (recurring, overrides, exdate, rdate, non-iana, unreadable...)."""

    id: str
    package: str
    path: str
    repo: str
    repo_path: str
    licence: str
    sha256: str
    features: str

    @property
    def file_name(self) -> str:
        return self.id + ".ics"

    def location(self) -> Path:
        """Where the installed package keeps the file."""
        return package_root(self.package) / self.path

    def read(self) -> bytes:
        """The file's bytes; CorpusError when missing or changed."""
        try:
            data = self.location().read_bytes()
        except OSError as exc:
            raise CorpusError(f"corpus file {self.id} is missing: {exc}") from None
        if hashlib.sha256(data).hexdigest() != self.sha256:
            raise CorpusError(
                f"corpus file {self.id} differs from the manifest (package {self.package} "
                "changed?); run `python -m tests.corpus.manifest` and review the diff"
            )
        return data


@cache
def package_root(package: str) -> Path:
    """The folder an installed top-level package lives in."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise CorpusError(f"package {package!r} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


@cache
def corpus() -> tuple[CorpusFile, ...]:
    """Every corpus file, in manifest order."""
    with MANIFEST.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh, delimiter="\t"))
    header, body = rows[0], rows[1:]
    if tuple(header) != COLUMNS:
        raise CorpusError(f"{MANIFEST.name} has columns {header}, expected {list(COLUMNS)}")
    return tuple(CorpusFile(*row) for row in body)
