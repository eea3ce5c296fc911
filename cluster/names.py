"""Names of cirahub's Ray actors, and the listing of the named actors of a namespace.

Every process finds the others by these names (detached named actors in the ``cirahub``
namespace), so they are defined once, below the actors that use them.
"""

from __future__ import annotations

import zlib
from typing import cast

SUPERVISOR_NAME = "cirahub-supervisor"
SPOKE_ACTOR_PREFIX = "cirahub-spokes-"
HUB_ACTOR_PREFIX = "cirahub-hub-"


def hub_shard(hub_id: str, shards: int) -> int:
    """The shard (hub actor index) owning ``hub_id``; stable across processes and restarts."""
    return zlib.crc32(hub_id.encode("utf-8")) % max(1, shards)


def hub_actor_name(shard: int) -> str:
    return f"{HUB_ACTOR_PREFIX}{shard}"


def named_actors(namespace: str) -> list[str]:
    """Names of the live named actors in ``namespace`` (needs a connected Ray)."""
    from ray.util import list_named_actors

    entries = cast("list[dict[str, str]]", list_named_actors(all_namespaces=True))
    return [e["name"] for e in entries if e["namespace"] == namespace]
