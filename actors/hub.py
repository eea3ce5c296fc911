"""The hub actor: the single writer of the hubs of its shard.

Decision: hubs are sharded over ``Settings.hub_actors`` named detached actors
(``cirahub-hub-<shard>``, shard = stable CRC32 of the hub id modulo the count; one actor by
default). One process per hub would cost tens of MB per hub; one actor per shard serializes
merges per hub with an asyncio lock per hub while distinct hubs merge in parallel on its thread
pool.

Guarantees:

- the constructor recovers everything from the store (nothing is cached that the store does
  not hold) and acquires the writer epoch of every hub of its shard; hubs created later are
  acquired on their first merge. Acquiring an epoch fences any older writer of that hub (a
  restarted or duplicated actor), so two writers can never interleave commits;
- ``merge`` applies ops in transactions of ``merge_batch_size`` ops; every op is idempotent, so
  Ray re-running a call after a restart (``max_task_retries``), or the spoke re-pulling after a
  crash between two transactions, changes nothing twice;
- a writer that was fenced (WriterFenced from the store) stops writing that hub: further merges
  of it raise WriterFenced, the fence is visible in :meth:`HubActor.status`, and only
  :meth:`HubActor.recover` (an operator's or the supervisor's decision) takes the hub back.
"""

from __future__ import annotations

import asyncio
import logging
import os
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from typing import Any

from cirahub.cluster.settings import Settings
from cirahub.core.errors import CirahubError, StoreError, WriterFenced
from cirahub.core.ops import HubOp

log = logging.getLogger(__name__)

HUB_ACTOR_PREFIX = "cirahub-hub-"


def hub_shard(hub_id: str, shards: int) -> int:
    """The shard (hub actor index) owning ``hub_id``; stable across processes and restarts."""
    return zlib.crc32(hub_id.encode("utf-8")) % max(1, shards)


def hub_actor_name(shard: int) -> str:
    return f"{HUB_ACTOR_PREFIX}{shard}"


def combine_results(results: Sequence[Any]) -> Any:
    """One MergeResult from the results of consecutive batches (counts summed, ``created``
    merged, ``stale`` concatenated, ``version`` the last)."""
    if not results:
        return None
    first = results[0]
    if len(results) == 1:
        return first
    changes: dict[str, Any] = {}
    for f in fields(first):
        values = [getattr(r, f.name) for r in results]
        if f.name == "created":
            merged: dict[str, str] = {}
            for v in values:
                merged.update(v)
            changes[f.name] = merged
        elif f.name == "stale":
            changes[f.name] = tuple(x for v in values for x in v)
        elif f.name == "version":
            changes[f.name] = max(values)
        elif isinstance(values[0], int):
            changes[f.name] = sum(values)
    return replace(first, **changes)


def open_store(settings: Settings) -> Any:
    """Open the store the way every cirahub process does (data dir + secret key)."""
    from cirahub.store.repository import Store
    from cirahub.store.secrets import load_or_create_key

    key = load_or_create_key(settings.data_dir)
    return Store.open(settings.database_url, data_dir=settings.data_dir, secret_key=key)


class HubActor:
    """Wrapped with ``ray.remote`` by :func:`hub_actor_class`; usable as a plain object too."""

    def __init__(self, settings: dict[str, Any], shard: int = 0) -> None:
        self._settings = Settings.from_dict(settings)
        self._shard = shard
        self._store = open_store(self._settings)
        self._epochs: dict[str, int] = {}
        self._fenced: dict[str, dict[str, Any]] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hub-merge")
        self._merges = 0
        #: fault injection for tests: exit the process after this many committed batches
        self._crash_after_batches: int | None = None
        for hub in self._store.list_hubs():
            if self._owns(hub.id):
                self._acquire(hub.id)

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

    async def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> Any:
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
            return await loop.run_in_executor(self._pool, self._merge_blocking, hub_id, spoke_id,
                                              list(ops))

    def _merge_blocking(self, hub_id: str, spoke_id: str, ops: list[HubOp]) -> Any:
        epoch = self._epochs.get(hub_id)
        if epoch is None:
            epoch = self._acquire(hub_id)
        size = self._settings.merge_batch_size
        results = []
        try:
            for start in range(0, len(ops), size):
                results.append(self._store.apply_hub_ops(
                    hub_id, spoke_id, epoch, ops[start:start + size], batch_size=size))
                self._after_batch()
        except WriterFenced as exc:
            self._fenced[hub_id] = {"epoch": epoch, "error": exc.to_dict()}
            self._epochs.pop(hub_id, None)
            log.error("hub actor %s was fenced from hub %s: %s", self._shard, hub_id, exc)
            raise
        self._merges += 1
        return combine_results(results)

    def _after_batch(self) -> None:
        if self._crash_after_batches is None:
            return
        self._crash_after_batches -= 1
        if self._crash_after_batches <= 0:
            log.warning("hub actor %s: injected crash between merge transactions", self._shard)
            os._exit(1)

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

    async def inject_crash_after_batches(self, batches: int | None) -> None:
        """Fault injection (tests): the process exits right after ``batches`` more committed
        merge transactions, i.e. between two transactions of a batched merge."""
        self._crash_after_batches = batches


def hub_actor_class() -> Any:
    """The Ray actor class (created lazily so importing this module does not import Ray)."""
    import ray

    return ray.remote(HubActor)


class RayMerger:
    """The :class:`~cirahub.actors.cycle.Merger` on Ray: merges go to the hub's actor.

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
            try:
                handle = ray.get_actor(hub_actor_name(shard), namespace=self._settings.namespace)
            except ValueError:
                raise StoreError("the hub actor is not running", shard=shard) from None
            self._handles[shard] = handle
        return handle

    def merge(self, hub_id: str, spoke_id: str, ops: Sequence[HubOp]) -> Any:
        import ray
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayTaskError

        shard = hub_shard(hub_id, self._settings.hub_actors)
        for attempt in range(2):
            try:
                return ray.get(self._handle(shard).merge.remote(hub_id, spoke_id, list(ops)))
            except RayTaskError as exc:
                cause = exc.cause if isinstance(exc.cause, CirahubError) else None
                if cause is not None:
                    raise cause from None
                raise
            except (ActorDiedError, ActorUnavailableError):
                self._handles.pop(shard, None)
                if attempt:
                    raise StoreError("the hub actor died during a merge", shard=shard) from None
        raise AssertionError("unreachable")
