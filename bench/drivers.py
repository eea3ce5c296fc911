"""The contenders of the side-by-side benchmarks, each driven as its user drives it.

- :class:`Vdirsyncer` — vdirsyncer from PyPI in its own venv (``bench/.venv-vdirsyncer``,
  made by ``make bench``), one config file, ``vdirsyncer sync`` as a subprocess. It syncs
  pairs, so N folders are a star of pairs around folder 0; a change in a leaf reaches the
  other leaves only on a later ``sync`` (counted: :attr:`Vdirsyncer.invocations`).
- :class:`CirahubServer` — ``cirahubctl server`` (embedded Ray, SQLite) started once and
  kept running, as a user does; a scenario is ``cirahubctl apply -f`` + ``cirahubctl sync``
  (subprocesses; each pays the CLI's start-up, as a user's does).
- :class:`Engine` — the same sync engine in-process (SyncCycle + LocalMerger on SQLite, no
  Ray, no CLI): rounds of runs of every spoke until every push cursor is at the hub version,
  as ``sync`` does. Shows what the server's fixed costs add.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
VDIRSYNCER = REPO / "bench" / ".venv-vdirsyncer" / "bin" / "vdirsyncer"
CIRAHUBCTL = Path(sys.executable).parent / "cirahubctl"


def _run(cmd: Sequence[str], env: dict[str, str] | None = None, what: str = "") -> None:
    done = subprocess.run(list(cmd), capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{what or cmd[0]} failed ({done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def vdirsyncer_version() -> str:
    out = subprocess.run([str(VDIRSYNCER), "--version"], capture_output=True, text=True,
                         check=True)
    return out.stdout.strip().split()[-1]


# --- storages ---------------------------------------------------------------------------------

def folder_storage(path: Path) -> dict[str, Any]:
    return {"kind": "vdir", "path": str(path)}


def caldav_storage(url: str, username: str, password: str) -> dict[str, Any]:
    return {"kind": "caldav", "url": url, "username": username, "password": password}


def _vds_storage(name: str, s: dict[str, Any]) -> str:
    if s["kind"] == "vdir":
        return f'[storage {name}]\ntype = "filesystem"\npath = "{s["path"]}"\nfileext = ".ics"\n'
    return (f'[storage {name}]\ntype = "caldav"\nurl = "{s["url"]}"\n'
            f'username = "{s["username"]}"\npassword = "{s["password"]}"\n')


class Vdirsyncer:
    """Pairs (storage 0, storage i) for i ≥ 1, all in one config; ``sync`` runs them all."""

    def __init__(self, root: Path, storages: Sequence[dict[str, Any]]) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.config = root / "vdirsyncer.conf"
        parts = [f'[general]\nstatus_path = "{root / "status"}"\n']
        for i, s in enumerate(storages):
            parts.append(_vds_storage(f"s{i}", s))
        for i in range(1, len(storages)):
            parts.append(f'[pair p{i}]\na = "s0"\nb = "s{i}"\ncollections = null\n'
                         'conflict_resolution = "a wins"\n')
        self.config.write_text("\n".join(parts))
        self.invocations = 0

    def discover(self) -> None:
        """Once after writing the config (vdirsyncer refuses to sync before)."""
        _run([str(VDIRSYNCER), "-c", str(self.config), "discover"], what="vdirsyncer discover")

    def sync(self) -> None:
        self.invocations += 1
        _run([str(VDIRSYNCER), "-c", str(self.config), "sync"], what="vdirsyncer sync")


# --- cirahub through its server ---------------------------------------------------------------

def byte_compile_cirahub() -> Path:
    """Byte-compile the cirahub the server and the CLI will import (``PYTHONPATH`` may point
    at another checkout), as pip does when it installs a package: an editable checkout under
    ``PYTHONDONTWRITEBYTECODE`` (set on the project's machine) would otherwise compile every
    module again at every command, while vdirsyncer, installed by pip into its venv, has its
    ``.pyc`` files. Returns the package's folder."""
    import compileall

    where = subprocess.run([sys.executable, "-c", "import cirahub, os; print(os.path.realpath("
                            "os.path.dirname(cirahub.__file__)))"], capture_output=True,
                           text=True, check=True, cwd="/").stdout.strip()
    package = Path(where)
    # the sub-packages are symlinks to the top-level folders, which compileall does not follow
    for folder in {package, *(p.resolve() for p in package.iterdir() if p.is_dir())}:
        compileall.compile_dir(folder, quiet=1, workers=1)
    return package


class CirahubServer:
    """One ``cirahubctl server`` for the whole benchmark (embedded Ray, SQLite)."""

    def __init__(self, root: Path, log_level: str = "WARNING") -> None:
        byte_compile_cirahub()
        self.data = root / "cirahub-data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, "CIRAHUB_DATA_DIR": str(self.data)}
        self.log = open(root / "server.log", "w")  # noqa: SIM115 - closed in stop()
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [str(CIRAHUBCTL), "server", "--listen", "127.0.0.1:0", "--http-listen", "off",
             "--log-level", log_level],
            stdout=self.log, stderr=subprocess.STDOUT, env=self.env)
        while not (self.data / "control.address").exists():
            if self.proc.poll() is not None:
                raise RuntimeError((root / "server.log").read_text()[-3000:])
            if time.monotonic() - started > 300:
                raise RuntimeError("cirahubctl server did not start in 300 s")
            time.sleep(0.2)
        self.startup = time.monotonic() - started
        self.secrets: dict[str, str] = {}

    def ctl(self, *args: str) -> None:
        _run([str(CIRAHUBCTL), *args], env={**self.env, **self.secrets},
             what=f"cirahubctl {args[0]}")

    def attach(self, root: Path, storages: Sequence[dict[str, Any]]) -> str:
        """A new hub with these spokes (``cirahubctl apply``); returns its name."""
        hub = "bench-" + uuid.uuid4().hex[:8]
        spokes = []
        for i, s in enumerate(storages):
            spoke: dict[str, Any] = {"name": f"s{i}", "kind": s["kind"],
                                     "options": {"interval": "24h"}}
            if s["kind"] == "vdir":
                spoke["path"] = s["path"]
            else:
                env = f"BENCH_CALDAV_PASSWORD_{i}"
                self.secrets[env] = s["password"]
                spoke.update(url=s["url"], username=s["username"], password_env=env)
            spokes.append(spoke)
        root.mkdir(parents=True, exist_ok=True)
        topology = root / "topology.yaml"
        topology.write_text(yaml.safe_dump({"hubs": [{"name": hub, "spokes": spokes}]}))
        self.ctl("apply", "-f", str(topology))
        return hub

    def sync(self, hub: str) -> None:
        self.ctl("sync", hub)

    def detach(self, hub: str) -> None:
        self.ctl("hub", "delete", hub, "--yes")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


# --- cirahub's engine in-process --------------------------------------------------------------

class Engine:
    """Every spoke's SyncCycle in this process, on its own SQLite store."""

    def __init__(self, root: Path, storages: Sequence[dict[str, Any]],
                 url: str | None = None) -> None:
        """``url``: the store (default: a SQLite file in ``root``)."""
        from cryptography.fernet import Fernet

        from cirahub.actors.cycle import LocalMerger, SyncCycle
        from cirahub.connectors.registry import open_connector
        from cirahub.core.options import SyncOptions
        from cirahub.store.repository import Store

        root.mkdir(parents=True, exist_ok=True)
        self.store = Store.open(url or f"sqlite:///{root / 'engine.db'}",
                                secret_key=Fernet.generate_key(), data_dir=root)
        hub = self.store.create_hub("bench")
        self.hub_id = hub.id
        merger = LocalMerger(self.store)
        self.cycles = []
        for i, s in enumerate(storages):
            config = {k: v for k, v in s.items() if k not in ("kind", "password")}
            spoke = self.store.add_spoke("bench", f"s{i}", s["kind"], config, SyncOptions(),
                                         secret=s.get("password"))
            connector = open_connector(s["kind"], self.store.get_spoke(spoke.id).config,
                                       s.get("password"))
            self.cycles.append(SyncCycle(self.store, connector, spoke.id, merger))

    def sync(self) -> None:
        """Rounds of runs until every spoke is written up to the hub's version (≤ 5)."""
        for _ in range(5):
            for cycle in self.cycles:
                summary = cycle.run("bench")
                if not summary.ok:
                    raise RuntimeError(f"engine run failed: {summary}")
            version = self.store.hub_version(self.hub_id)
            if all(self.store.get_spoke(c.spoke_id).push_cursor >= version for c in self.cycles):
                return
        raise RuntimeError("engine did not converge in 5 rounds")

    def close(self) -> None:
        for cycle in self.cycles:
            close = getattr(cycle.connector, "close", None)
            if close is not None:
                close()
        self.store.close()
