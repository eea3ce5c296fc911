"""Helpers for the Ray runtime tests: .ics folders, convergence checks, reaching into actors."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import ray

from cirahub.actors.runtime import Runtime
from cirahub.core.ical import parse_item


def ics(uid: str, summary: str, day: int = 3, hour: int = 9) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//cirahub tests//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261101T080000Z\r\n"
        f"DTSTART:202612{day:02d}T{hour:02d}0000Z\r\nDTEND:202612{day:02d}T{hour + 1:02d}0000Z\r\n"
        f"SUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def write_event(folder: Path, uid: str, summary: str, day: int = 3) -> None:
    (folder / f"{uid}.ics").write_text(ics(uid, summary, day))


def folder_uids(folder: Path) -> Counter[str]:
    """UID → number of files carrying it (a count above 1 is a duplicate)."""
    return Counter(parse_item(f.read_text()).uid for f in folder.glob("*.ics"))


def folder_summaries(folder: Path) -> dict[str, str]:
    out = {}
    for f in folder.glob("*.ics"):
        item = parse_item(f.read_text())
        out[item.uid] = item.fields.get("summary")
    return out


def actor_of(rt: Runtime, spoke_id: str) -> Any:
    """The handle of the spoke actor hosting ``spoke_id`` (None when unhosted)."""
    for st in rt.status():
        if st.spoke_id == spoke_id and st.actor:
            return ray.get_actor(st.actor, namespace=rt.settings.namespace)
    return None


def in_actor(rt: Runtime, spoke_id: str, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(actor_instance)`` inside the process hosting ``spoke_id`` (memory calendars
    live there)."""
    handle = actor_of(rt, spoke_id)
    assert handle is not None, f"spoke {spoke_id} is not hosted"
    return ray.get(handle.__ray_call__.remote(fn), timeout=60)


def memory_uids(rt: Runtime, spoke_id: str, calendar: str) -> Counter[str]:
    def read(_self: Any) -> list[str]:
        from cirahub.connectors.memory import MemoryCalendar

        return [i.uid for i in MemoryCalendar.named(calendar).items().values()]

    return Counter(in_actor(rt, spoke_id, read))


def sync_round(rt: Runtime, hub: str, spoke: str | None = None) -> dict[str, dict[str, Any]]:
    """One sync now; spoke id → summary dict."""
    return {e.spoke_id: dict(e.summary or {}) for e in rt.sync_now(hub, spoke) if e.final}


def converge(rt: Runtime, hub: str, done: Callable[[], bool], rounds: int = 6) -> None:
    """Sync-now rounds until ``done()`` (bounded)."""
    for _ in range(rounds):
        sync_round(rt, hub)
        if done():
            return
    raise AssertionError(f"hub {hub} did not converge in {rounds} sync rounds")


def wait_for(check: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    """Bounded polling for things that happen on their own (periodic polls, re-assignment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")



def wait_for_running_run(store: Any, spoke_id: str, timeout: float = 120.0) -> str:
    """The id of a run of ``spoke_id`` that the store shows as running, once there is one
    (bounded: AssertionError after ``timeout`` seconds)."""
    running: list[str] = []

    def started() -> bool:
        running[:] = [r.id for r in store.list_runs(spoke_id=spoke_id, limit=5)
                      if r.status == "running"]
        return bool(running)

    wait_for(started, timeout=timeout, what="a running run")
    return running[0]

def crash_after_commits(hub_actor: Any, commits: int) -> None:
    """Fault injection (a test double, not product code): make the hub actor's process exit
    right after ``commits`` more merge transactions committed, i.e. between two transactions
    of one batched merge. The store's per-transaction step is wrapped inside the actor."""

    def install(actor: Any) -> None:
        import os

        store = actor._store
        apply_batch = store._apply_batch
        left = [commits]

        def counted(*args: Any, **kwargs: Any) -> Any:
            if left[0] <= 0:  # the transactions before this one are committed
                os._exit(1)
            left[0] -= 1
            return apply_batch(*args, **kwargs)

        store._apply_batch = counted

    ray.get(hub_actor.__ray_call__.remote(install), timeout=60)
