"""Running the corpus through one path by name, and the expected outcomes.

``expected.yaml`` holds, per path, the files known today not to be identical: their status and
why. The tests hold each file to it strictly: a file that becomes identical, or changes
status, fails until the data file says so (``python bench/fidelity_report.py
--write-expected`` rewrites it from a run; review the diff).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import yaml

from tests.caldav.servers import PASSWORD, USER, DavServer, FeedServer, Radicale, Xandikos
from tests.corpus import CorpusFile, corpus
from tests.ews_emulator import EwsEmulator

from .outcome import GOOD, Outcome
from .paths import FeedPath, MiddlePath, PathRunner, VdirPath, collect

PATHS = ("vdir", "caldav-radicale", "caldav-xandikos", "ews", "ics-url")
EXPECTED = Path(__file__).parent / "expected.yaml"
EWS_USERS = {"svc@example.com": "secret"}


class Servers(Protocol):
    def radicale(self) -> DavServer: ...
    def xandikos(self) -> DavServer: ...
    def ews(self) -> EwsEmulator: ...
    def feeds(self) -> FeedServer: ...


class LazyServers(Servers):
    """Starts each server the first time a path asks for it; stops them all at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._started: dict[str, object] = {}

    def _get(self, name: str, start: type) -> object:
        if name not in self._started:
            folder = self.root / name
            folder.mkdir()
            self._started[name] = start(folder) if start is not EwsEmulator else \
                EwsEmulator(dict(EWS_USERS)).start()
        return self._started[name]

    def radicale(self) -> Radicale:
        return self._get("radicale", Radicale)  # type: ignore[return-value]

    def xandikos(self) -> Xandikos:
        return self._get("xandikos", Xandikos)  # type: ignore[return-value]

    def ews(self) -> EwsEmulator:
        return self._get("ews", EwsEmulator)  # type: ignore[return-value]

    def feeds(self) -> FeedServer:
        if "feeds" not in self._started:
            self._started["feeds"] = FeedServer()
        return self._started["feeds"]  # type: ignore[return-value]

    def stop(self) -> None:
        for server in self._started.values():
            server.stop()  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PathResult:
    path: str
    outcomes: Mapping[str, Outcome]
    meeting_messages: int


def _dav_middle(server: DavServer) -> Callable[[str], tuple[dict[str, Any], str | None]]:
    def make(tag: str) -> tuple[dict[str, Any], str | None]:
        path = server.mkcalendar(tag)
        return {"url": server.base + path, "username": USER}, PASSWORD
    return make


def _ews_middle(emu: EwsEmulator) -> Callable[[str], tuple[dict[str, Any], str | None]]:
    [(user, password)] = EWS_USERS.items()

    def make(tag: str) -> tuple[dict[str, Any], str | None]:
        folder = f"/Fidelity/{tag}"
        emu.add_public_folder(folder)
        return {"service_endpoint": emu.url, "username": user, "version": "exchange2016",
                "auth_type": "basic", "timezone": "Europe/Berlin", "max_retry_seconds": 5.0,
                "folder": folder}, password
    return make


def runner(path: str, store: Any, servers: Servers) -> PathRunner:
    """The runner for a path name of :data:`PATHS`."""
    if path == "vdir":
        return VdirPath(store)
    if path in ("caldav-radicale", "caldav-xandikos"):
        server = servers.radicale() if path == "caldav-radicale" else servers.xandikos()
        return MiddlePath(path, store, "caldav", _dav_middle(server))
    if path == "ews":
        emu = servers.ews()
        return MiddlePath(path, store, "ews-public-folder", _ews_middle(emu),
                          full_properties=False,
                          meeting_messages=lambda: len(emu.meeting_messages))
    if path == "ics-url":
        feeds = servers.feeds()
        return FeedPath(store, lambda p, data: feeds.set(p, data))
    raise ValueError(f"unknown fidelity path {path!r}; known: {', '.join(PATHS)}")


def run(path: str, store: Any, servers: Servers, files: Sequence[CorpusFile] | None = None,
        work: Path | None = None) -> PathResult:
    """Every corpus file (or ``files``) through ``path``."""
    with tempfile.TemporaryDirectory(prefix=f"fidelity-{path}-", dir=work) as tmp:
        outcomes, messages = collect(runner(path, store, servers), files or corpus(), Path(tmp))
    return PathResult(path, outcomes, messages)


@dataclass(frozen=True)
class Expectation:
    status: str
    why: str


def open_store(folder: Path) -> Any:
    """A fresh SQLite store for the harness. Its file lives in memory-backed /dev/shm when
    there is one: the harness makes thousands of small commits, and what it measures is
    fidelity, not the disk's fsync latency."""
    from cryptography.fernet import Fernet

    from cirahub.store import Store

    shm = Path("/dev/shm")
    db_dir = Path(tempfile.mkdtemp(prefix="cirahub-fidelity-", dir=shm)) if shm.is_dir() else folder
    return Store.open(f"sqlite:///{db_dir}/hub.db", secret_key=Fernet.generate_key(),
                      data_dir=folder), db_dir


def expected() -> dict[str, dict[str, Expectation]]:
    """path → file id → the known non-identical outcome."""
    if not EXPECTED.exists():
        return {}
    data = yaml.safe_load(EXPECTED.read_text(encoding="utf-8")) or {}
    return {path: {fid: Expectation(**entry) for fid, entry in (files or {}).items()}
            for path, files in data.items()}


def write_expected(results: Mapping[str, PathResult]) -> None:
    """Rewrite expected.yaml for the paths in ``results`` (others are kept)."""
    current = {p: {f: {"status": e.status, "why": e.why} for f, e in files.items()}
               for p, files in expected().items()}
    for path, result in results.items():
        current[path] = {fid: {"status": o.status, "why": o.detail}
                         for fid, o in sorted(result.outcomes.items())
                         if o.status not in GOOD}
    header = ("# Known non-identical outcomes per fidelity path (see tests/fidelity/runs.py).\n"
              "# Rewritten by `python bench/fidelity_report.py --write-expected`.\n")
    ordered = {p: current[p] for p in PATHS if p in current}
    EXPECTED.write_text(header + yaml.safe_dump(ordered, sort_keys=False, allow_unicode=True,
                                                width=100), encoding="utf-8")
