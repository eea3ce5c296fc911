"""The soak's fault kinds: each is a function of the running :class:`~tests.soak.world.World`
and the schedule's random generator, returning what it did (for the tally).

Kinds (``KINDS``): the runtime's processes (a spoke actor, the hub actor, a whole Ray node),
the database (connections terminated, the server restarted), the network between the spokes
and their servers (connections dropped before or after the server applied a write, answers
delayed), and the servers' own refusals (412 / stale ChangeKey conflicts, throttling).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

import ray

from cirahub.cluster.names import SPOKE_ACTOR_PREFIX, hub_actor_name, named_actors
from tests.caldav.servers import Fault

if TYPE_CHECKING:
    from tests.soak.world import World


def kill_spoke_actor(w: World, rng: random.Random) -> str:
    ns = w.rt.settings.namespace
    names = sorted(n for n in named_actors(ns) if n.startswith(SPOKE_ACTOR_PREFIX))
    if not names:
        return "no spoke actor alive"
    name = rng.choice(names)
    ray.kill(ray.get_actor(name, namespace=ns), no_restart=True)
    return name


def kill_hub_actor(w: World, rng: random.Random) -> str:
    ns = w.rt.settings.namespace
    ray.kill(ray.get_actor(hub_actor_name(0), namespace=ns), no_restart=False)  # restarts
    return hub_actor_name(0)


def kill_node(w: World, rng: random.Random) -> str:
    """A whole worker node goes away (its raylet and every actor on it); a new one joins."""
    victim = rng.choice(sorted(w.cluster.worker_nodes, key=lambda n: n.node_id))
    w.cluster.remove_node(victim)
    w.add_worker()
    return victim.node_id[:8]


def terminate_connections(w: World, rng: random.Random) -> str:
    return f"{w.pg.terminate_backends()} connections"


def restart_postgres(w: World, rng: random.Random) -> str:
    mode = rng.choice(["fast", "immediate"])  # immediate: as after a crash (recovery on start)
    w.pg.restart(mode)
    return mode


def _proxy(w: World, rng: random.Random) -> tuple[str, object]:
    name = rng.choice(sorted(w.proxies))
    return name, w.proxies[name]


def drop_connections(w: World, rng: random.Random) -> str:
    name, proxy = _proxy(w, rng)
    proxy.add(Fault("drop", count=rng.randint(1, 3)))  # type: ignore[attr-defined]
    if rng.random() < 0.5:
        w.emu.drop(count=1)
        name += "+ews"
    return name


def lose_answers(w: World, rng: random.Random) -> str:
    """The server applies a write, the client never hears (a retried create must not make a
    second copy)."""
    name, proxy = _proxy(w, rng)
    proxy.add(Fault("drop-after", count=1, method="PUT"))  # type: ignore[attr-defined]
    w.emu.drop(count=1, ops={"CreateItem", "UpdateItem"}, applied=True)
    return name + "+ews"


def delay_answers(w: World, rng: random.Random) -> str:
    name, proxy = _proxy(w, rng)
    proxy.add(Fault("slow", count=3, delay=1.5))  # type: ignore[attr-defined]
    w.emu.slow(1.5, count=2)
    return name + "+ews"


def precondition_failed(w: World, rng: random.Random) -> str:
    """CalDAV answers 412 to the next PUT; Exchange's next write to an item the hub wrote
    there meets a ChangeKey changed behind its back (its owner then edits it, so the hub does
    write it)."""
    name, proxy = _proxy(w, rng)
    proxy.add(Fault("status", count=1, method="PUT", status=412))  # type: ignore[attr-defined]
    target = w.foreign_item_in_exchange(rng)
    if target is None:
        return name
    uid, owner = target
    w.users["exchange"].touch(uid)  # type: ignore[attr-defined]
    w.edit(owner, "rename", uid, rng)
    return f"{name}+ews:{uid.split('@')[0]}"


def throttle(w: World, rng: random.Random) -> str:
    name, proxy = _proxy(w, rng)
    proxy.add(Fault("status", count=2, status=503, retry_after="1"))  # type: ignore[attr-defined]
    w.emu.busy(count=2, back_off_ms=1000)
    return name + "+ews"


KINDS: dict[str, Callable[[World, random.Random], str]] = {
    "kill spoke actor": kill_spoke_actor,
    "kill hub actor": kill_hub_actor,
    "kill node": kill_node,
    "terminate db connections": terminate_connections,
    "restart postgresql": restart_postgres,
    "drop connections": drop_connections,
    "lose answers": lose_answers,
    "delay answers": delay_answers,
    "412 / ChangeKey conflict": precondition_failed,
    "throttle": throttle,
}

#: relative weights; nodes and database restarts are the slow ones
WEIGHTS = {"kill spoke actor": 3, "kill hub actor": 2, "kill node": 1,
           "terminate db connections": 3, "restart postgresql": 1, "drop connections": 3,
           "lose answers": 2, "delay answers": 2, "412 / ChangeKey conflict": 3, "throttle": 2}


def schedule(rng: random.Random, total: int, max_node_kills: int,
             max_pg_restarts: int) -> list[str]:
    """``total`` fault kinds in order: every kind at least once (when ``total`` allows),
    then weighted draws, with the slow kinds capped."""
    kinds = list(KINDS)
    caps = {"kill node": max_node_kills, "restart postgresql": max_pg_restarts}
    kinds = [k for k in kinds if caps.get(k, total) > 0]
    out = kinds[:total]
    while len(out) < total:
        kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
        if out.count(kind) < caps.get(kind, total):
            out.append(kind)
    rng.shuffle(out)
    return out
