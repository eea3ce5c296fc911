"""The hub actor: the single writer of the hubs of its shard.

Decision: hubs are sharded over ``Settings.hub_actors`` named detached actors
(``cirahub-hub-<shard>``, shard = stable CRC32 of the hub id modulo the count; one actor by
default). One process per hub would cost tens of MB per hub; one actor per shard serializes
merges per hub with an asyncio lock per hub while distinct hubs merge in parallel on its thread
pool. An embedded server (``Settings.hubs_in_supervisor``) keeps these objects in the
supervisor's process instead, one process less; the guarantees below hold the same.

Guarantees:

- the constructor recovers everything from the store (nothing is cached that the store does
  not hold) and acquires the writer epoch of every hub of its shard; hubs created later are
  acquired on their first merge. Acquiring an epoch fences any older writer of that hub (a
  restarted or duplicated actor), so two writers can never interleave commits;
- ``merge`` applies ops in transactions of ``merge_batch_size`` ops; every op is idempotent, so
  Ray re-running a call after a restart (``max_task_retries``), or the spoke re-pulling after a
  crash between two transactions, changes nothing twice;
- a merge that changed the hub tells the supervisor (fire-and-forget) the hub version it
  committed, which gives every other enabled spoke of the hub a push run (DESIGN, fan-out;
  coalesced by :mod:`cirahub.core.fanout`); a lost notice only delays the spread to the
  spokes' next polls;
- a writer that was fenced (WriterFenced from the store) stops writing that hub: further merges
  of it raise WriterFenced, the fence is visible in :meth:`HubActor.status`, and only
  :meth:`HubActor.recover` (an operator's or the supervisor's decision) takes the hub back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from cirahub.cluster.bootstrap import get_unwrapped, open_store
from cirahub.cluster.heap import settle
from cirahub.cluster.names import SUPERVISOR_NAME, hub_actor_name, hub_shard
from cirahub.cluster.settings import Settings
from cirahub.core.errors import StoreError, WriterFenced
from cirahub.core.ops import HubOp
from cirahub.store.records import MergeResult

log = logging.getLogger(__name__)


#: how long a starting hub actor waits for an unreachable store before it gives up
STORE_WAIT_SECONDS = 120.0


class HubActor:
    """Wrapped with ``ray.remote`` by :func:`hub_actor_class`; usable as a plain object too."""

    def __init__(self, settings: dict[str, Any], shard: int = 0,
                 settle_heap: bool = False) -> None:
        """``settle_heap``: this is the process's actor (:func:`cirahub.cluster.heap.settle`)."""
        self._settings = Settings.from_dict(settings)
        self._shard = shard
        self._epochs: dict[str, int] = {}
        self._fenced: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hub-merge")
        self._merges = 0
        self._supervisor: Any = None
        # Ray never retries a creation task that raised, and nothing else re-creates a hub
        # actor: one restarted while the database is briefly away (a restart, a fail-over)
        # waits for it instead of dying for good (found by the chaos soak).
        deadline = time.monotonic() + STORE_WAIT_SECONDS
        while True:
            try:
                self._store = open_store(self._settings, migrate=False)  # the server migrated
                for hub in self._store.list_hubs():
                    if self._owns(hub.id):
                        self._acquire(hub.id)
                break
            except (StoreError, SQLAlchemyError) as exc:
                if time.monotonic() >= deadline:
                    raise
                log.warning("hub actor %s waits for the store: %s", shard, type(exc).__name__)
                time.sleep(1.0)
        if settle_heap:  # the process's own actor: its start-up heap out of the collector's way
            settle()

    def _owns(self, hub_id: str) -> bool:
        return hub_shard(hub_id, self._settings.hub_actors) == self._shard

    def _acquire(self, hub_id: str) -> int:
        epoch = self._store.acquire_writer(hub_id)
        self._epochs[hub_id] = epoch
        self._fenced.pop(hub_id, None)
        log.info("hub actor %s is the writer of hub %s (epoch %s)", self._shard, hub_id, epoch)
        return epoch

    # --- API ------------------------------------------------------------------------------

    async def ping(self) -> dict[str, Any]:
        return {"shard": self._shard, "pid": os.getpid(), "hubs": len(self._epochs)}

    async def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult:
        """Apply ``ops`` (pull ops of one spoke run) to ``hub_id``; returns the MergeResult.

        Raises WriterFenced when this actor lost the hub, StoreError when the store fails
        (nothing of the failed transaction is committed; earlier batches are, and re-applying
        them is a no-op)."""
        fence = self._fenced.get(hub_id)
        if fence is not None:
            raise WriterFenced("this hub actor was fenced by a newer writer", hub_id=hub_id,
                               epoch=fence.get("epoch"))
        lock = self._locks.setdefault(hub_id, asyncio.Lock())
        async with lock:
            loop = asyncio.get_running_loop()
            result = await loop.run_in_executor(self._pool, self._merge_blocking, hub_id,
                                                spoke_id, list(ops))
        if result.changed:
            self._hub_changed(hub_id, spoke_id, result.version)
        return result

    def _merge_blocking(self, hub_id: str, spoke_id: str, ops: list[HubOp]) -> MergeResult:
        epoch = self._epochs.get(hub_id)
        if epoch is None:
            epoch = self._acquire(hub_id)
        try:
            result = self._store.apply_hub_ops(hub_id, spoke_id, epoch, ops,
                                               batch_size=self._settings.merge_batch_size)
        except WriterFenced as exc:
            self._fenced[hub_id] = {"epoch": epoch, "error": exc.to_dict()}
            self._epochs.pop(hub_id, None)
            log.error("hub actor %s was fenced from hub %s: %s", self._shard, hub_id, exc)
            raise
        self._merges += 1
        return result

    def _hub_changed(self, hub_id: str, source_spoke_id: str, version: int) -> None:
        """Fan-out notice to the supervisor (never blocks the merge, never fails it)."""
        try:
            if self._supervisor is None:
                import ray

                self._supervisor = ray.get_actor(SUPERVISOR_NAME,
                                                 namespace=self._settings.namespace)
            self._supervisor.hub_changed.remote(hub_id, source_spoke_id, version)
        except Exception:  # supervisor restarting: the spokes' own polls catch up
            self._supervisor = None
            log.debug("hub change notice for hub %s not sent", hub_id, exc_info=True)

    async def recover(self, hub_id: str) -> int:
        """Take (back) the writer role of ``hub_id``: a new epoch, fencing any other writer."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._acquire, hub_id)

    async def status(self) -> dict[str, Any]:
        return {
            "shard": self._shard,
            "pid": os.getpid(),
            "epochs": dict(self._epochs),
            "fenced": dict(self._fenced),
            "merges": self._merges,
        }


def hub_actor_class() -> Any:
    """The Ray actor class (created lazily so importing this module does not import Ray)."""
    import ray

    return ray.remote(HubActor)


class RayMerger:
    """The :class:`~cirahub.actors.merger.Merger` on Ray: merges go to the hub's actor.

    Called from a worker thread (never from an event loop). A hub actor that is restarting is
    waited for (Ray retries the call: the actors run with ``max_task_retries=-1``); a hub actor
    that is gone for good surfaces as a retryable StoreError so the run is retried later.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._handles: dict[int, Any] = {}

    def _handle(self, shard: int) -> Any:
        import ray

        handle = self._handles.get(shard)
        if handle is None:
            # hubs_in_supervisor: the supervisor hosts every shard's writer (same methods)
            name = (SUPERVISOR_NAME if self._settings.hubs_in_supervisor
                    else hub_actor_name(shard))
            try:
                handle = ray.get_actor(name, namespace=self._settings.namespace)
            except ValueError:
                raise StoreError("the hub actor is not running", shard=shard) from None
            self._handles[shard] = handle
        return handle

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> MergeResult:
        from ray.exceptions import ActorDiedError, ActorUnavailableError

        shard = hub_shard(hub_id, self._settings.hub_actors)
        for attempt in range(2):
            try:
                result: MergeResult = get_unwrapped(
                    self._handle(shard).merge.remote(hub_id, spoke_id, list(ops)))
                return result
            except (ActorDiedError, ActorUnavailableError):
                self._handles.pop(shard, None)
                if attempt:
                    raise StoreError("the hub actor died during a merge", shard=shard) from None
        raise AssertionError("unreachable")
