"""Runtime settings: where the data lives, which database and which Ray cluster to use.

Embedded mode (the default) needs nothing installed beyond the package: SQLite under the
user's data folder and a local Ray started in-process. Cluster mode: ``ray_address`` of an
existing Ray cluster plus a PostgreSQL ``db_url`` (every node must reach the database, and all
nodes must share the secret key: set ``CIRAHUB_SECRET_KEY`` on every node or share the data
folder).

Environment variables (read by :meth:`Settings.from_env`): ``CIRAHUB_DATA_DIR``,
``CIRAHUB_DB``, ``CIRAHUB_RAY_ADDRESS``, ``CIRAHUB_LISTEN``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from cirahub.core.errors import InvalidInput
from cirahub.store.paths import DATA_DIR_ENV, default_data_dir

NAMESPACE = "cirahub"


@dataclass(frozen=True)
class Settings:
    """Everything the runtime needs to start. Values, no secrets (the secret key is read from
    ``CIRAHUB_SECRET_KEY`` or ``<data_dir>/secret.key`` by each process that opens the store).
    """

    data_dir: Path = field(default_factory=default_data_dir)
    #: SQLAlchemy URL; None → SQLite file ``<data_dir>/cirahub.db``
    db_url: str | None = None
    #: address of an existing Ray cluster ("auto", "ray://host:10001", "host:6379");
    #: None → start an embedded local Ray in this process
    ray_address: str | None = None
    namespace: str = NAMESPACE
    #: spoke actors created on every alive node
    spoke_actors_per_node: int = 1
    #: a spoke actor never hosts more spokes than this (more actors are created instead):
    #: an idle spoke costs an actor ~15 KiB and its polls are probed in batches, so a node
    #: of 10,000 needs two actors, not ten processes of ~90 MiB
    max_spokes_per_actor: int = 5000
    #: threads per spoke actor for blocking connector work (bounds concurrent runs per actor:
    #: a poll of a kind over a network holds one for its requests)
    spoke_threads: int = 16
    #: threads per spoke actor for push runs (the fan-out), apart from the polls' threads:
    #: at most this many push runs at once per spoke actor (their spoke writes wait mostly
    #: on I/O: a vdir write's durable barrier, a server's answer; an Exchange service account
    #: allows about 27 concurrent EWS calls, so a hub of many EWS spokes under one account
    #: may want fewer)
    push_threads: int = 64
    #: push runs at once over all spoke actors (each gets an equal share, at least one)
    push_runs_global: int = 64
    #: hub actors; hubs are sharded over them by a stable hash of the hub id
    hub_actors: int = 1
    #: ops per merge transaction in the hub actor
    merge_batch_size: int = 500
    #: seconds between two supervisor control loops (reconcile + liveness checks)
    reconcile_seconds: float = 5.0
    #: seconds an actor has to answer a liveness ping before it is treated as dead
    ping_timeout: float = 10.0
    #: upper bound of the back-off after repeated failures of one spoke
    max_backoff_seconds: float = 1800.0
    #: CPUs an embedded Ray advertises (None: none, as cirahub's actors reserve no CPU; a
    #: node keeps up to this many idle worker processes)
    num_cpus: int | None = None
    #: an embedded Ray with its dashboard (on 127.0.0.1:8265) and the helper processes Ray
    #: starts beside it; off by default (``cirahubctl server --dashboard``)
    dashboard: bool = False
    #: the hub writers run inside the supervisor's process instead of as their own actors
    #: (one process less; ``cirahubctl server`` does this with an embedded Ray, where both
    #: live and die with the server anyway). A cluster keeps them apart.
    hubs_in_supervisor: bool = False
    #: the supervisor's node's first spoke actor runs inside the supervisor's process (one
    #: process less, see actors/local.py; ``cirahubctl server`` with an embedded Ray); more
    #: spoke actors, for more spokes than ``max_spokes_per_actor``, are processes of their own
    spokes_in_supervisor: bool = False
    #: gRPC control plane listen address (loopback by default)
    listen: str = "127.0.0.1:7443"
    #: the runtime epoch the actors were started under (see store/lease.py); 0 = no lease
    lease_epoch: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", Path(self.data_dir).expanduser())
        for name in ("spoke_actors_per_node", "max_spokes_per_actor", "spoke_threads",
                     "push_threads", "push_runs_global", "hub_actors", "merge_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidInput(f"{name} must be a whole number >= 1", setting=name)
        for name in ("reconcile_seconds", "ping_timeout", "max_backoff_seconds"):
            if getattr(self, name) <= 0:
                raise InvalidInput(f"{name} must be > 0", setting=name)

    @property
    def database_url(self) -> str:
        """The effective database URL (the SQLite default resolved)."""
        return self.db_url or f"sqlite:///{self.data_dir / 'cirahub.db'}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Settings from ``CIRAHUB_*`` environment variables; ``overrides`` (not None) win."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if env.get(DATA_DIR_ENV):
            values["data_dir"] = default_data_dir(env)
        if env.get("CIRAHUB_DB"):
            values["db_url"] = env["CIRAHUB_DB"]
        if env.get("CIRAHUB_RAY_ADDRESS"):
            values["ray_address"] = env["CIRAHUB_RAY_ADDRESS"]
        if env.get("CIRAHUB_LISTEN"):
            values["listen"] = env["CIRAHUB_LISTEN"]
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_changes(self, **changes: Any) -> Settings:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """Plain form handed to actors (contains no secret)."""
        out = asdict(self)
        out["data_dir"] = str(self.data_dir)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Settings:
        return cls(**dict(data))
