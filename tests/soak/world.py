"""The soak's world: one hub on a PostgreSQL of its own, under a three-node Ray cluster
(``ray.cluster_utils.Cluster``), with six spokes and their users:

- ``folder-a``, ``folder-b`` — vdir folders;
- ``radicale``, ``xandikos`` — CalDAV collections on real servers, reached through a
  :class:`~tests.caldav.servers.FaultProxy` each (the users talk to the servers directly);
- ``exchange`` — a public folder on the EWS emulator (its users edit it "in Outlook");
- ``memory`` — a mirror (``contributes`` none): its calendar lives in the spoke actor's
  process and dies with it, and the hub fills it again.

Every user edit goes through :meth:`World.edit`, which keeps the model the checker compares
against: per UID, its owner (the spoke whose user made it; only the owner edits it) and what
its user last left (summary, excluded occurrences, or deleted).
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil
import ray
from ray.cluster_utils import Cluster

from cirahub.actors.runtime import Runtime
from cirahub.cluster.settings import Settings
from cirahub.connectors.registry import validate_config
from cirahub.core.options import SyncOptions
from tests.caldav.servers import PASSWORD as DAV_PASSWORD
from tests.caldav.servers import USER as DAV_USER
from tests.caldav.servers import CalendarUser, FaultProxy, Radicale, Xandikos
from tests.ews_emulator import EwsEmulator
from tests.soak.calendars import (
    SERIES_COUNT,
    CalendarUserLike,
    DavUser,
    ExchangeUser,
    FolderUser,
    Seen,
)
from tests.soak.postgres import OwnPostgres

HUB = "soak"
EWS_USER, EWS_PASSWORD = "svc@example.com", "secret"
NODE_ARGS: dict[str, Any] = {"num_cpus": 1, "object_store_memory": 80 * 1024 * 1024}
#: detect a removed node within a few seconds instead of the default ~30 s
HEAD_CONFIG = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500,
               "health_check_failure_threshold": 4}
#: the most items one user keeps at once (bounds the run's size)
MAX_OWNED = 6


@dataclass
class Expected:
    """What the owner's user last left of one UID."""

    owner: str
    summary: str
    series: bool
    excluded: set[int] = field(default_factory=set)
    deleted: bool = False
    #: (wall-clock time, what the user did) of every edit, for the report of a lost one
    log: list[tuple[float, str]] = field(default_factory=list)


def retry(fn: Callable[[], Any], timeout: float = 120.0) -> Any:
    """``fn()``, retried while the store or the runtime is briefly away (a restarted database,
    a restarting hub actor)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


class World:
    """See the module doc. Build with :meth:`start`, end with :meth:`close`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.cleanups: list[Callable[[], None]] = []
        self.users: dict[str, CalendarUserLike] = {}
        self.proxies: dict[str, FaultProxy] = {}
        self.model: dict[str, Expected] = {}
        self.edits: dict[str, int] = {}
        self._n = 0

    # --- set-up ---------------------------------------------------------------------------

    def start(self) -> World:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self) -> None:
        self.pg = OwnPostgres(self.root / "pg")
        self.cleanups.append(lambda: self.pg.stop("immediate"))
        assert not ray.is_initialized(), "another test left Ray running"
        self.cluster = Cluster(initialize_head=True,
                               head_node_args={**NODE_ARGS, "_system_config": HEAD_CONFIG})
        self.cleanups.append(self.cluster.shutdown)
        for _ in range(2):
            self.add_worker()
        self.rt = Runtime.start(Settings(data_dir=self.root / "data", db_url=self.pg.url(),
                                         ray_address=self.cluster.address,
                                         reconcile_seconds=1.0, ping_timeout=5.0))
        self.cleanups.append(lambda: self.rt.shutdown(stop_actors=True))
        self.emu = EwsEmulator({EWS_USER: EWS_PASSWORD}).start()
        self.cleanups.append(self.emu.stop)
        self.rt.store.create_hub(HUB)
        for name in ("folder-a", "folder-b"):
            self.users[name] = FolderUser(self.root / name)
            self._attach(name, "vdir", {"path": str(self.root / name)})
        for name, server_class in (("radicale", Radicale), ("xandikos", Xandikos)):
            self._attach_dav(name, server_class)
        folder_id = self.emu.add_public_folder("/Soak/Calendar")
        self.users["exchange"] = ExchangeUser(self.emu, folder_id)
        self._attach("exchange", "ews-public-folder", {
            "service_endpoint": self.emu.url, "username": EWS_USER, "version": "exchange2016",
            "auth_type": "basic", "timezone": "UTC", "max_retry_seconds": 5.0,
            # public folders report no deletions: a full id scan finds them, hourly by
            # default; the soak's checker waits minutes, not hours
            "full_scan_seconds": 10.0, "folder": "/Soak/Calendar"}, secret=EWS_PASSWORD)
        self._attach("memory", "memory", {"calendar": "soak-mirror"},
                     options={"contributes": "none"})
        self.rt.reconcile()

    def add_worker(self, attempts: int = 4) -> None:
        """A new worker node. Ray allows a raylet 30 s to register, too short on a loaded
        machine: a start that gives up is cleaned up (the processes it left, by pid) and
        tried again, as a service manager would."""
        me = psutil.Process()
        for attempt in range(attempts):
            before = {p.pid for p in me.children(recursive=True)}
            try:
                self.cluster.add_node(**NODE_ARGS)
                break
            except Exception:
                if attempt == attempts - 1:
                    raise
                left = [p for p in me.children(recursive=True) if p.pid not in before]
                for p in left:
                    with contextlib.suppress(psutil.Error):
                        p.kill()
                psutil.wait_procs(left, timeout=30)
        self.cluster.wait_for_nodes()

    def _attach_dav(self, name: str, server_class: type[Radicale] | type[Xandikos]) -> None:
        folder = self.root / name
        folder.mkdir()
        server = server_class(folder)
        self.cleanups.append(server.stop)
        proxy = FaultProxy(server.port)
        self.cleanups.append(proxy.stop)
        self.proxies[name] = proxy
        path = server.mkcalendar("soak")
        self.users[name] = DavUser(CalendarUser(server, path), name)
        self._attach(name, "caldav", {"url": proxy.base + path, "username": DAV_USER},
                     secret=DAV_PASSWORD)

    def _attach(self, name: str, kind: str, config: dict[str, Any], secret: str | None = None,
                options: dict[str, Any] | None = None) -> None:
        opts = SyncOptions.from_dict({"interval_seconds": 5, **(options or {})})
        self.rt.store.add_spoke(HUB, name, kind, validate_config(kind, config), opts,
                                secret=secret)

    def close(self) -> None:
        for cleanup in reversed(self.cleanups):
            with contextlib.suppress(Exception):
                cleanup()
        self.cleanups.clear()

    # --- the workload ---------------------------------------------------------------------

    @property
    def editable(self) -> list[str]:
        return sorted(self.users)

    def user_edit(self, rng: random.Random) -> None:
        """One random edit by a random user on its own calendar."""
        owner = rng.choice(self.editable)
        mine = [u for u, e in self.model.items() if e.owner == owner and not e.deleted]
        if len(mine) < 2 or (len(mine) < MAX_OWNED and rng.random() < 0.35):
            self.edit(owner, "create", None, rng)
            return
        uid = rng.choice(sorted(mine))
        series = self.model[uid].series
        choices = ["rename", "rename", "delete"] + (["exclude", "exclude"] if series else [])
        self.edit(owner, rng.choice(choices), uid, rng)

    def edit(self, owner: str, action: str, uid: str | None, rng: random.Random) -> None:
        user = self.users[owner]
        self._n += 1
        summary = f"{owner} edit {self._n}"
        if action == "create":
            uid = f"soak-{self._n}-{rng.getrandbits(24):06x}@{owner}"
            series = rng.random() < 0.4
            user.create(uid, summary, series)
            self.model[uid] = Expected(owner, summary, series)
            action = "create series" if series else "create"
        elif action == "rename":
            assert uid is not None
            user.rename(uid, summary)
            self.model[uid].summary = summary
            action = "rename series" if self.model[uid].series else "rename"
        elif action == "exclude":
            assert uid is not None
            left = sorted(set(range(1, SERIES_COUNT)) - self.model[uid].excluded)
            if not left:
                return self.edit(owner, "rename", uid, rng)
            k = rng.choice(left)
            user.exclude(uid, k)
            self.model[uid].excluded.add(k)
            action = "exclude occurrence"
        else:
            assert uid is not None
            user.delete(uid)
            self.model[uid].deleted = True
            action = "delete series" if self.model[uid].series else "delete"
        self.edits[action] = self.edits.get(action, 0) + 1
        self.model[uid].log.append((time.time(), f"{action}: {summary}"))

    def foreign_item_in_exchange(self, rng: random.Random) -> tuple[str, str] | None:
        """(UID, owner) of an item another user made that the hub wrote into Exchange."""
        there = set(self.users["exchange"].uids())  # type: ignore[attr-defined]
        foreign = sorted(u for u, e in self.model.items()
                         if e.owner != "exchange" and not e.deleted and u in there)
        if not foreign:
            return None
        uid = rng.choice(foreign)
        return uid, self.model[uid].owner

    # --- reading ----------------------------------------------------------------------------

    def views(self) -> dict[str, list[Seen]]:
        """What every spoke's calendar holds, read as its users see it."""
        out = {name: user.contents() for name, user in self.users.items()}
        out["memory"] = self._memory_contents()
        return out

    def _memory_contents(self) -> list[Seen]:
        actor = None
        for st in self.rt.status(HUB):
            if st.name == "memory" and st.actor:
                actor = ray.get_actor(st.actor, namespace=self.rt.settings.namespace)
        assert actor is not None, "the memory spoke is not hosted"

        def read(_self: Any) -> list[tuple[str, str, int]]:
            from cirahub.connectors.memory import MemoryCalendar

            return [(i.uid, str(i.fields.get("summary")), len(i.fields.get("exdates") or ()))
                    for i in MemoryCalendar.named("soak-mirror").items().values()]

        return [Seen(*row) for row in ray.get(actor.__ray_call__.remote(read), timeout=60)]
