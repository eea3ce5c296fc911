"""A bulk ``apply`` of a fleet: one write transaction and one bulk insert for all the spokes of
a hub, all or nothing (a bad spoke anywhere stores nothing and the error names it)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import event

from cirahub.control import apply as topology
from cirahub.core.errors import AlreadyExists, InvalidInput

N = 300


def _spec(n: int = N, bad: int | None = None, hub: str = "fleet") -> list[topology.HubSpec]:
    spokes = tuple(topology.SpokeSpec(
        name=f"m{i:04d}", kind="memory",
        config={"calendar": f"c{i}"} if i != bad else {"calendar": f"c{i}", "colour": "red"},
        options={"interval_seconds": 60}) for i in range(n))
    return [topology.HubSpec(name=hub, spokes=spokes)]


class Statements:
    """Counts write transactions and INSERTs into spokes on an engine."""

    def __init__(self, engine: Any) -> None:
        self.begins = 0
        self.spoke_inserts = 0
        event.listen(engine, "begin", self._begin)
        event.listen(engine, "before_cursor_execute", self._execute)

    def _begin(self, conn: Any) -> None:
        self.begins += 1

    def _execute(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO SPOKES"):
            self.spoke_inserts += 1


def test_regression_bulk_apply_is_one_transaction_and_one_insert(store: Any) -> None:
    changes = topology.plan(store, _spec())
    assert len(changes) == N + 1
    seen = Statements(store.engine)
    topology.execute(store, changes)
    assert seen.begins == 1  # one transaction for the hub and all its spokes
    assert seen.spoke_inserts == 1  # one executemany, not one round trip per spoke
    spokes = store.list_spokes("fleet")
    assert [s.name for s in spokes] == [f"m{i:04d}" for i in range(N)]
    assert {s.options.interval_seconds for s in spokes} == {60}
    assert spokes[7].config == {"calendar": "c7", "incremental": False, "read_only": False,
                                "unsupported_fields": []}
    assert topology.plan(store, _spec()) == []  # applied: the same file changes nothing


def test_a_bad_spoke_anywhere_stores_nothing_and_is_named(store: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        topology.plan(store, _spec(bad=217))
    assert "m0217" in caught.value.message and "colour" in caught.value.message
    assert store.list_hubs() == []


def test_a_spoke_taken_between_plan_and_execute_rolls_everything_back(store: Any) -> None:
    changes = topology.plan(store, _spec())
    store.create_hub("fleet")  # someone else, meanwhile
    store.add_spoke("fleet", "m0123", "memory", {"calendar": "theirs"})
    with pytest.raises(AlreadyExists) as caught:
        topology.execute(store, [c for c in changes if c.object == "spoke"])
    assert "m0123" in caught.value.message
    assert [s.name for s in store.list_spokes("fleet")] == ["m0123"]


def test_the_store_refuses_a_bad_spoke_in_a_bulk_add_and_names_it(store: Any) -> None:
    from cirahub.store.topology import NewSpoke

    store.create_hub("fleet")
    batch = [NewSpoke(f"s{i}", "memory", {"calendar": "c"}) for i in range(5)]
    batch[3] = NewSpoke("bad name!", "memory", {"calendar": "c"})
    with pytest.raises(InvalidInput, match="bad name!"):
        store.add_spokes("fleet", batch)
    batch[3] = NewSpoke("s1", "memory", {"calendar": "c"})  # named twice
    with pytest.raises(AlreadyExists, match="s1"):
        store.add_spokes("fleet", batch)
    assert store.list_spokes("fleet") == []


def test_ten_thousand_spokes_fit_one_hub_of_a_specification(store: Any) -> None:
    names = [f"s{i}" for i in range(10_000)]
    topology._check_unique(names, "spoke")
    with pytest.raises(InvalidInput, match="at most 20000"):
        topology._check_unique([*names, *(f"t{i}" for i in range(10_001))], "spoke")
