"""Named Ray actors of one namespace (Ray's own listing is typed loosely)."""

from __future__ import annotations

from typing import cast


def named_actors(namespace: str) -> list[str]:
    """Names of the live named actors in ``namespace`` (needs a connected Ray)."""
    from ray.util import list_named_actors

    entries = cast("list[dict[str, str]]", list_named_actors(all_namespaces=True))
    return [e["name"] for e in entries if e["namespace"] == namespace]
