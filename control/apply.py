"""Declarative topology: make the stored hubs and spokes match a specification.

:func:`plan` computes the changes (pure reads; everything is validated first, so a bad
specification changes nothing), :func:`execute` makes them. Applying the same specification
twice yields no change the second time. Secrets are compared with the stored one on the
server and reported only as "secret changed", never shown.

Without ``prune``, hubs and spokes the specification does not name are left alone; with it
they are removed (remote calendars are never touched).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from cirahub.control.spoke_checks import check_spoke_input
from cirahub.core import limits
from cirahub.core.errors import InvalidInput
from cirahub.core.options import ConflictPolicy, SyncOptions
from cirahub.core.sealed import split, unpack
from cirahub.store.topology import NewSpoke

#: most hubs in one specification
MAX_ENTRIES = 5000
#: most spokes of one hub in one specification (a node holds 10,000 idle spokes)
MAX_SPOKES = 20_000


@dataclass(frozen=True)
class SpokeSpec:
    name: str
    kind: str
    config: Mapping[str, Any]
    options: Mapping[str, Any] = field(default_factory=dict)  # unset = defaults
    secret: str | None = None  # None = keep the stored one


@dataclass(frozen=True)
class HubSpec:
    name: str
    policy: str = ""
    spokes: tuple[SpokeSpec, ...] = ()


@dataclass(frozen=True)
class Change:
    """One change. ``details`` name what differs (never a secret's value)."""

    action: str  # create | update | delete
    object: str  # hub | spoke
    hub: str
    spoke: str = ""
    details: tuple[str, ...] = ()
    # what execute() needs; not shown
    payload: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def _policy(value: str) -> ConflictPolicy:
    try:
        return ConflictPolicy(value or "latest")
    except ValueError:
        raise InvalidInput(f"policy must be one of latest, hub, spoke (got {value!r})",
                           field="policy") from None


def _show(value: Any) -> str:
    if value is None:
        return "unbounded"
    if isinstance(value, list | tuple | frozenset | set):
        return ",".join(sorted(map(str, value))) or "(none)"
    return str(value)


def _check_unique(names: Sequence[str], what: str, where: str = "") -> None:
    """Every name valid (the store's rules: :func:`cirahub.core.limits.check_name`) and
    named once."""
    most = MAX_SPOKES if what == "spoke" else MAX_ENTRIES
    if len(names) > most:
        raise InvalidInput(f"too many {what}s{where}: at most {most}", field=what)
    seen: set[str] = set()
    for name in names:
        if not name:
            raise InvalidInput(f"a {what} without a name{where}", field="name")
        try:
            limits.check_name(name, field=what)
        except InvalidInput as exc:
            raise InvalidInput(f"{exc.message}{where}", **exc.fields) from None
        if name in seen:
            raise InvalidInput(f"{what} {name!r} is named twice{where}", field="name", name=name)
        seen.add(name)


def plan(store: Any, hubs: Sequence[HubSpec], *, prune: bool = False) -> list[Change]:
    """The changes that make the store match ``hubs``. Raises InvalidInput (naming the hub
    and spoke) for anything that cannot be applied; nothing is changed by planning."""
    _check_unique([h.name for h in hubs], "hub")
    existing = {h.name: h for h in store.list_hubs()}
    changes: list[Change] = []
    for spec in hubs:
        policy = _policy(spec.policy)
        where = f" in hub {spec.name!r}"
        _check_unique([s.name for s in spec.spokes], "spoke", where)
        hub = existing.get(spec.name)
        if hub is None:
            changes.append(Change("create", "hub", spec.name, details=(f"policy {policy.value}",),
                                  payload={"policy": policy.value}))
            current: dict[str, Any] = {}
        else:
            if hub.policy != policy:
                changes.append(Change("update", "hub", spec.name,
                                      details=(f"policy: {hub.policy.value} -> {policy.value}",),
                                      payload={"policy": policy.value}))
            current = {s.name: s for s in store.list_spokes(hub.id)}
        for sspec in spec.spokes:
            changes += _plan_spoke(store, spec.name, sspec, current.get(sspec.name))
        if prune:
            named = {s.name for s in spec.spokes}
            changes += [Change("delete", "spoke", spec.name, name, payload={"id": s.id})
                        for name, s in sorted(current.items()) if name not in named]
    if prune:
        named_hubs = {h.name for h in hubs}
        changes += [Change("delete", "hub", name) for name in sorted(existing)
                    if name not in named_hubs]
    return changes


def _plan_spoke(store: Any, hub: str, spec: SpokeSpec, current: Any) -> list[Change]:
    try:
        options = SyncOptions.from_dict(spec.options)
        if current is None:
            config = check_spoke_input(spec.kind, spec.config, spec.secret)
        else:
            # an existing spoke may keep its stored secret: only a missing one is an error
            kept = (spec.secret or "(stored)") if current.has_secret else spec.secret
            config = check_spoke_input(spec.kind, spec.config, kept)
    except InvalidInput as exc:
        raise InvalidInput(f"hub {hub!r}, spoke {spec.name!r}: {exc.message}",
                           hub=hub, spoke=spec.name, **exc.fields) from None
    payload = {"kind": spec.kind, "config": config, "options": options, "secret": spec.secret}
    if current is None:
        return [Change("create", "spoke", hub, spec.name, (f"kind {spec.kind}",), payload)]
    if current.kind != spec.kind:
        raise InvalidInput(
            f"hub {hub!r}, spoke {spec.name!r}: the kind cannot change ({current.kind} -> "
            f"{spec.kind}); remove the spoke first", hub=hub, spoke=spec.name, field="kind")
    details: list[str] = []
    public, sealed = split(config)  # sealed values are secrets: compared, never shown
    if dict(current.config) != public:
        keys = sorted(set(current.config) | set(public))
        details += [f"config.{k}: {_show(current.config.get(k))} -> {_show(public.get(k))}"
                    for k in keys if current.config.get(k) != public.get(k)]
    if current.options != options:  # (to_dict is most of a re-plan's CPU: only on a change)
        old, new = current.options.to_dict(), options.to_dict()
        details += [f"options.{k}: {_show(old[k])} -> {_show(new[k])}"
                    for k in old if old[k] != new[k]]
    own, stored_sealed = unpack(store.get_spoke_secret(current.id) if current.has_secret else None)
    if sealed != stored_sealed:
        details.append("sealed config changed (e.g. the feed URL's query)")
    if spec.secret is not None and own != spec.secret:
        details.append("secret changed")
    if not details:
        return []
    return [Change("update", "spoke", hub, spec.name, tuple(details), {**payload, "id": current.id})]


def execute(store: Any, changes: Sequence[Change]) -> None:
    """Makes ``changes`` (from :func:`plan`) in order, hubs before their spokes, in one store
    transaction: all of them, or (any fails) none. Consecutive spoke creates of one hub are
    one bulk insert (``Store.add_spokes``): thousands of spokes are stored in seconds."""
    with store.transaction():
        for group in _runs_of_creates(changes):
            if isinstance(group, list):
                store.add_spokes(group[0].hub, [NewSpoke(
                    c.spoke, c.payload["kind"], c.payload["config"], c.payload["options"],
                    c.payload["secret"]) for c in group])
            else:
                _execute_one(store, group)


def _runs_of_creates(changes: Sequence[Change]) -> Iterator[Change | list[Change]]:
    """The changes in order, consecutive spoke creates of one hub grouped in a list."""
    group: list[Change] = []
    for c in changes:
        if c.object == "spoke" and c.action == "create":
            if group and group[0].hub != c.hub:
                yield group
                group = []
            group.append(c)
            continue
        if group:
            yield group
            group = []
        yield c
    if group:
        yield group


def _execute_one(store: Any, c: Change) -> None:
    p = c.payload
    if c.object == "hub":
        if c.action == "create":
            store.create_hub(c.hub, p["policy"])
        elif c.action == "update":
            store.update_hub(c.hub, policy=p["policy"])
        else:
            store.delete_hub(c.hub)
    elif c.action == "create":
        store.add_spoke(c.hub, c.spoke, p["kind"], p["config"], p["options"], p["secret"])
    elif c.action == "update":
        store.update_spoke(p["id"], options=p["options"], config=p["config"],
                           secret=p["secret"])
    else:
        store.remove_spoke(p["id"])
