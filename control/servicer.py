"""The gRPC servicer (asyncio): parse the request, call a handler, build the response, map
errors. Blocking handler calls run in a bounded pool, streams on the loop (see
:mod:`cirahub.control.streams`): an open stream holds no thread.

Every method is wrapped so that a :class:`CirahubError` becomes its status code (see
:mod:`cirahub.control.errors`) with a message naming what was wrong, and any other exception
becomes INTERNAL with a generic message (the details go to the server log, which never sees
request secrets: they are not logged, and errors are built without them).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from cirahub.control import apply as topology
from cirahub.control import convert as cv
from cirahub.control import convert_items as cvi
from cirahub.control.handlers import Handlers, Names, RuntimeLike
from cirahub.control.paging import Page
from cirahub.control.runlog import config_change
from cirahub.control.streams import EventFanout, StreamGate, iterate_in, streaming, unary
from cirahub.control.syncing import HubOutcome
from cirahub.core.errors import InvalidInput
from cirahub.core.limits import MAX_STREAMS
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc

log = logging.getLogger(__name__)

#: threads for blocking handler calls (unary bodies)
MAX_WORKERS = 16
#: threads stepping SyncNow streams (each step waits for the runs' next progress)
STREAM_WORKERS = 32


class ControlServicer(pb_grpc.ControlServiceServicer):
    """cirahub.control.v1.ControlService on one runtime."""

    def __init__(self, runtime: RuntimeLike, *, max_streams: int = MAX_STREAMS,
                 max_workers: int = MAX_WORKERS) -> None:
        self.h = Handlers(runtime)
        self.pool = ThreadPoolExecutor(max_workers, thread_name_prefix="cirahub-rpc")
        self.stream_pool = ThreadPoolExecutor(STREAM_WORKERS, thread_name_prefix="cirahub-sync")
        self.gate = StreamGate(max_streams)
        self.fanout = EventFanout(self.h.events, self.h.last_seq,
                                  ThreadPoolExecutor(1, thread_name_prefix="cirahub-events"))
        self._names: Names | None = None

    def close(self) -> None:
        """Stop the pools (calls still running in them finish first)."""
        for pool in (self.pool, self.stream_pool):
            pool.shutdown(wait=False, cancel_futures=True)

    # --- hubs ----------------------------------------------------------------------------------

    @unary
    def CreateHub(self, request: pb.CreateHubRequest, context: Any) -> pb.Hub:
        return cv.hub_to_pb(self.h.create_hub(request.name, request.policy, request.object_type))

    @unary
    def GetHub(self, request: pb.GetHubRequest, context: Any) -> pb.Hub:
        hub = self.h.get_hub(request.name)
        return cv.hub_to_pb(hub, self.h.spoke_count(hub.id))

    @unary
    def ListHubs(self, request: pb.ListHubsRequest, context: Any) -> pb.ListHubsResponse:
        page = Page.of(request.page_size, request.page_token).cut(self.h.list_hubs())
        return pb.ListHubsResponse(hubs=[cv.hub_to_pb(h, self.h.spoke_count(h.id))
                                         for h in page.entries],
                                   next_page_token=page.next_token)

    @unary
    def DeleteHub(self, request: pb.DeleteHubRequest, context: Any) -> pb.DeleteHubResponse:
        self.h.delete_hub(request.name)
        return pb.DeleteHubResponse(name=request.name)

    # --- spokes --------------------------------------------------------------------------------

    def _spoke(self, spoke: Any) -> pb.Spoke:
        return cv.spoke_to_pb(spoke, self.h.store.get_hub(spoke.hub_id).name)

    @unary
    def AddSpoke(self, request: pb.AddSpokeRequest, context: Any) -> pb.Spoke:
        kind, config = cv.config_from_pb(request.config)
        options = cv.options_patch(request.options if request.HasField("options") else None)
        spoke = self.h.add_spoke(request.hub, request.name, kind, config, options,
                                 request.secret or None, check=not request.no_check)
        return self._spoke(spoke)

    @unary
    def DiscoverCalendars(self, request: pb.DiscoverCalendarsRequest,
                          context: Any) -> pb.DiscoverCalendarsResponse:
        kind, config = cv.config_from_pb(request.config)
        page = self.h.discover(kind, config, request.secret or None, request.under,
                               request.page_size, request.page_token, tuple(request.mailboxes))
        return cv.discovery_to_pb(kind, page)

    @unary
    def GetSpoke(self, request: pb.SpokeRef, context: Any) -> pb.Spoke:
        return self._spoke(self.h.get_spoke(request.hub, request.spoke))

    @unary
    def ListSpokes(self, request: pb.ListSpokesRequest, context: Any) -> pb.ListSpokesResponse:
        page = Page.of(request.page_size, request.page_token).cut(
            self.h.list_spokes(request.hub))
        names = self.h.names()
        return pb.ListSpokesResponse(spokes=[cv.spoke_to_pb(s, names.hub(s.hub_id))
                                             for s in page.entries],
                                     next_page_token=page.next_token)

    @unary
    def UpdateSpoke(self, request: pb.UpdateSpokeRequest, context: Any) -> pb.Spoke:
        changes = cv.options_patch(request.options if request.HasField("options") else None)
        secret = request.secret if request.HasField("secret") else None
        return self._spoke(self.h.update_spoke(request.hub, request.spoke, changes, secret,
                                               check=not request.no_check))

    @unary
    def TestSpoke(self, request: pb.SpokeRef, context: Any) -> pb.SpokeCheck:
        check = self.h.test_spoke(request.hub, request.spoke)
        return pb.SpokeCheck(hub=request.hub, spoke=request.spoke, ok=check.ok,
                             message=check.message, error_code=check.error_code,
                             calendars=[c.value for c in check.choices if c.key == "calendar"])

    @unary
    def RemoveSpoke(self, request: pb.SpokeRef, context: Any) -> pb.RemoveSpokeResponse:
        self.h.remove_spoke(request.hub, request.spoke)
        return pb.RemoveSpokeResponse(hub=request.hub, spoke=request.spoke)

    @unary
    def EnableSpoke(self, request: pb.SpokeRef, context: Any) -> pb.Spoke:
        return self._spoke(self.h.set_enabled(request.hub, request.spoke, True))

    @unary
    def DisableSpoke(self, request: pb.SpokeRef, context: Any) -> pb.Spoke:
        return self._spoke(self.h.set_enabled(request.hub, request.spoke, False))

    @unary
    def ConfirmDeletes(self, request: pb.HaltRequest, context: Any) -> pb.HaltAnswer:
        spoke, halt = self.h.confirm_deletes(request.hub, request.spoke, request.halt_id,
                                             request.dry_run)
        return pb.HaltAnswer(spoke=self._spoke(spoke), halt=cv.halt_to_pb(halt),
                             dry_run=request.dry_run)

    @unary
    def RestoreSpoke(self, request: pb.HaltRequest, context: Any) -> pb.HaltAnswer:
        spoke, halt, recreated = self.h.restore(request.hub, request.spoke, request.halt_id,
                                                request.dry_run)
        return pb.HaltAnswer(spoke=self._spoke(spoke), halt=cv.halt_to_pb(halt),
                             dry_run=request.dry_run, recreated=recreated)

    # --- sync ----------------------------------------------------------------------------------

    @streaming
    async def SyncNow(self, request: pb.SyncNowRequest,
                      context: Any) -> AsyncIterator[pb.SyncProgress]:
        async for message in iterate_in(self.stream_pool, self._sync_now(request)):
            yield message

    def _sync_now(self, request: pb.SyncNowRequest) -> Iterator[pb.SyncProgress]:
        names = self.h.names(request.hub or None)  # a sync of one hub names its spokes only
        results: dict[tuple[str, str], pb.SpokeResult] = {}
        outcomes: list[HubOutcome] = []
        for event in self.h.sync_now(request.hub, request.spoke):
            if isinstance(event, HubOutcome):
                outcomes.append(event)
                continue
            progress = cv.progress_to_pb(event, names.hub(event.hub_id),
                                         names.spoke(event.spoke_id))
            if event.final:
                key = (progress.hub, progress.spoke)
                results[key] = cv.add_results(results.get(key), cv.result_from_progress(progress))
            yield pb.SyncProgress(progress=progress)
        quarantined = {(o.hub, names.spoke(s)): n for o in outcomes
                       for s, n in o.quarantined.items()}
        for key, result in results.items():
            result.quarantined = quarantined.get(key, 0)
        yield pb.SyncProgress(summary=cv.summary((results[k] for k in sorted(results)),
                                                 outcomes))

    @unary
    def GetStatus(self, request: pb.GetStatusRequest, context: Any) -> pb.GetStatusResponse:
        page = Page.of(request.page_size, request.page_token).cut(self.h.status(request.hub))
        return pb.GetStatusResponse(spokes=[cv.status_to_pb(s) for s in page.entries],
                                    next_page_token=page.next_token)

    @unary
    def ListRuns(self, request: pb.ListRunsRequest, context: Any) -> pb.ListRunsResponse:
        page = Page.of(request.page_size, request.page_token)
        runs = self.h.runs_page(request.hub, request.spoke, request.limit, page)
        names = self.h.names()
        return pb.ListRunsResponse(runs=[cv.run_to_pb(r, names.hub(r.hub_id),
                                                      names.spoke(r.spoke_id))
                                         for r in runs.entries],
                                   next_page_token=runs.next_token)

    @unary
    def ListConflicts(self, request: pb.ListConflictsRequest, context: Any) -> pb.ListConflictsResponse:
        page = Page.of(request.page_size, request.page_token)
        found = self.h.conflicts_page(request.hub, request.spoke, request.limit, page)
        names = self.h.names()
        return pb.ListConflictsResponse(conflicts=[
            cv.conflict_to_pb(c, names.hub(c.hub_id), names.spoke(c.spoke_id), None,
                              bodies=False) for c in found.entries],
            next_page_token=found.next_token)

    @unary
    def GetConflict(self, request: pb.GetConflictRequest, context: Any) -> pb.Conflict:
        entry, current = self.h.get_conflict(request.id)
        item = current.item.to_json() if current is not None and current.item else None
        names = self.h.names()
        return cv.conflict_to_pb(entry, names.hub(entry.hub_id), names.spoke(entry.spoke_id),
                                 item)

    @unary
    def ListQuarantine(self, request: pb.ListQuarantineRequest, context: Any) -> pb.ListQuarantineResponse:
        page = Page.of(request.page_size, request.page_token).cut(
            self.h.quarantine(request.hub, request.spoke))
        names = self.h.names()
        spoke_hub = {s.id: s.hub_id for s in self.h.store.list_spokes()}
        return pb.ListQuarantineResponse(entries=[
            cv.quarantine_to_pb(q, names.hub(spoke_hub.get(q.spoke_id)), names.spoke(q.spoke_id))
            for q in page.entries
        ], next_page_token=page.next_token)

    # --- hub items -----------------------------------------------------------------------------

    @unary
    def ListItems(self, request: pb.ListItemsRequest, context: Any) -> pb.ListItemsResponse:
        return cvi.item_page_to_pb(self.h.items(request.hub, request.spoke, request.search,
                                               request.page_size, request.page_token))

    @unary
    def GetItem(self, request: pb.GetItemRequest, context: Any) -> pb.ItemDetail:
        return cvi.item_detail_to_pb(self.h.item(request.hub, request.uid, request.history_limit))

    # --- apply ---------------------------------------------------------------------------------

    @unary
    def Apply(self, request: pb.ApplyRequest, context: Any) -> pb.ApplyResponse:
        hubs = []
        for h in request.topology.hubs:
            spokes = []
            for s in h.spokes:
                kind, config = cv.config_from_pb(s.config)
                spokes.append(topology.SpokeSpec(
                    name=s.name, kind=kind, config=config,
                    options=cv.options_patch(s.options if s.HasField("options") else None),
                    secret=s.secret if s.HasField("secret") else None,
                ))
            hubs.append(topology.HubSpec(name=h.name, policy=h.policy, spokes=tuple(spokes)))
        changes = topology.plan(self.h.store, hubs, prune=request.prune)
        if not request.dry_run and changes:
            topology.execute(self.h.store, changes)
            for c in changes:
                config_change(f"apply: {c.object} {c.action}", hub=c.hub, spoke=c.spoke or "-",
                              details="; ".join(c.details) or "-")
            self.h._changed()
        return pb.ApplyResponse(dry_run=request.dry_run, changes=[
            pb.Change(action=c.action, object=c.object, hub=c.hub, spoke=c.spoke,
                      details=list(c.details)) for c in changes
        ])

    # --- operations ----------------------------------------------------------------------------

    @unary
    def Backup(self, request: pb.BackupRequest, context: Any) -> pb.BackupResponse:
        path, size, note = self.h.backup(request.path)
        return pb.BackupResponse(path=path, bytes=size, note=note)

    # --- events --------------------------------------------------------------------------------

    @streaming
    async def WatchEvents(self, request: pb.WatchEventsRequest,
                          context: Any) -> AsyncIterator[pb.Event]:
        """Events from now on (``since`` 0), or after ``since`` (< 0: every event kept) and
        then on (with ``once``: only those kept now). Costs no thread while waiting: every stream reads the one
        :class:`EventFanout`."""
        loop = asyncio.get_running_loop()
        queue = self.fanout.subscribe()  # first: nothing polled from here on is missed
        try:
            last = 0
            if request.since != 0:
                last = max(0, request.since)
                while True:
                    batch = await loop.run_in_executor(self.pool, self.h.events, last, 0.0)
                    if not batch:
                        break
                    for event in batch:
                        last = max(last, int(event.seq))
                        message = await self._event_message(event, request.hub)
                        if message is not None:
                            yield message
            if request.once:
                return  # replay only (`events --no-follow`)
            while True:
                event = await queue.get()
                if event is None:
                    raise InvalidInput("this client read events too slowly and was cut off; "
                                       "follow again with --since", field="since")
                if int(event.seq) <= last:
                    continue  # replayed already
                last = int(event.seq)
                message = await self._event_message(event, request.hub)
                if message is not None:
                    yield message
        finally:
            self.fanout.unsubscribe(queue)

    async def _event_message(self, event: Any, hub_filter: str) -> pb.Event | None:
        names = self._names
        if names is None or event.hub_id not in names.hubs or (
                event.spoke_id and event.spoke_id not in names.spokes):
            # a hub or spoke added since (or none known yet); a hub's ``polls`` event has none
            names = await asyncio.get_running_loop().run_in_executor(self.pool, self.h.names)
            self._names = names
        hub = names.hub(event.hub_id)
        if hub_filter and hub != hub_filter:
            return None
        return cv.event_to_pb(event, hub, names.spoke(event.spoke_id))
