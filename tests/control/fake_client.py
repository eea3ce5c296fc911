"""A typed fake of the control-plane client, for testing ``cirahubctl`` commands in-process.

:class:`FakeControl` implements :class:`cirahub.control.client.ControlClient` (paging and the conveniences come
from :class:`~cirahub.control.client.CallsByName`, as for the real client) over a small
in-memory topology (hubs and spokes). It is strict, not a mock that accepts anything: every
call must name an RPC of ``cirahub.control.v1.ControlService`` and pass that RPC's request
message, every answer is that RPC's response message, and an RPC the fake does not model
fails the test (NotImplementedError) instead of answering something made up. Unknown hubs and
spokes raise the ClientError (NOT_FOUND) the real client would.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from google.protobuf.message import Message

from cirahub.control.client import CallsByName, ControlClient
from cirahub.control.errors import ClientError, ExitCode
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

_SERVICE = pb.DESCRIPTOR.services_by_name["ControlService"]


class FakeControl(CallsByName):
    """An in-memory control plane behind the ControlClient protocol (see module doc)."""

    def __init__(self) -> None:
        self.hubs: dict[str, pb.Hub] = {}
        self.spokes: dict[tuple[str, str], pb.Spoke] = {}
        #: what ``TestSpoke`` answers per (hub, spoke); default: usable
        self.checks: dict[tuple[str, str], pb.SpokeCheck] = {}
        #: every call made, in order: (RPC name, request)
        self.calls: list[tuple[str, Message]] = []
        self.closed = 0

    # --- ControlClient --------------------------------------------------------------------

    def __enter__(self) -> FakeControl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.closed += 1

    def call(self, method: str, request: Any, timeout: float | None = None) -> Any:
        rpc = _SERVICE.methods_by_name.get(method)
        assert rpc is not None, f"ControlService has no RPC {method!r}"
        assert request.DESCRIPTOR.full_name == rpc.input_type.full_name, (
            f"{method} takes {rpc.input_type.full_name}, got {request.DESCRIPTOR.full_name}")
        self.calls.append((method, request))
        handler: Callable[[Any], Message] | None = getattr(self, "_" + _snake(method), None)
        if handler is None:
            raise NotImplementedError(f"the fake control plane does not answer {method}")
        answer = handler(request)
        assert answer.DESCRIPTOR.full_name == rpc.output_type.full_name
        return answer

    def stream(self, method: str, request: Any) -> Iterator[Any]:
        raise NotImplementedError(f"the fake control plane does not stream {method}")

    def requests(self, method: str) -> list[Any]:
        """The requests of every call of ``method`` so far."""
        return [request for name, request in self.calls if name == method]

    # --- the RPCs modelled ----------------------------------------------------------------

    def _create_hub(self, r: pb.CreateHubRequest) -> pb.Hub:
        if r.name in self.hubs:
            raise ClientError(f"hub {r.name!r} already exists", ExitCode.EXISTS, "already_exists")
        hub = pb.Hub(id=f"hub-{len(self.hubs) + 1}", name=r.name, policy=r.policy or "latest",
                     object_type=r.object_type or "calendar")
        self.hubs[r.name] = hub
        return hub

    def _get_hub(self, r: pb.GetHubRequest) -> pb.Hub:
        return self._hub(r.name)

    def _list_hubs(self, r: pb.ListHubsRequest) -> pb.ListHubsResponse:
        return pb.ListHubsResponse(hubs=list(self.hubs.values()))

    def _delete_hub(self, r: pb.DeleteHubRequest) -> pb.DeleteHubResponse:
        self._hub(r.name)
        del self.hubs[r.name]
        self.spokes = {k: v for k, v in self.spokes.items() if k[0] != r.name}
        return pb.DeleteHubResponse(name=r.name)

    def _add_spoke(self, r: pb.AddSpokeRequest) -> pb.Spoke:
        hub = self._hub(r.hub)
        if (r.hub, r.name) in self.spokes:
            raise ClientError(f"spoke {r.name!r} already exists", ExitCode.EXISTS,
                              "already_exists")
        kind = r.config.WhichOneof("kind") or ""
        spoke = pb.Spoke(id=f"spoke-{len(self.spokes) + 1}", hub=r.hub, name=r.name,
                         kind=kind.replace("_", "-"), config=r.config, options=r.options,
                         has_secret=bool(r.secret), state="idle", enabled=True)
        self.spokes[r.hub, r.name] = spoke
        hub.spoke_count += 1
        return spoke

    def _get_spoke(self, r: pb.SpokeRef) -> pb.Spoke:
        return self._spoke(r.hub, r.spoke)

    def _list_spokes(self, r: pb.ListSpokesRequest) -> pb.ListSpokesResponse:
        if r.hub:
            self._hub(r.hub)
        return pb.ListSpokesResponse(
            spokes=[s for (hub, _), s in self.spokes.items() if not r.hub or hub == r.hub])

    def _test_spoke(self, r: pb.SpokeRef) -> pb.SpokeCheck:
        self._spoke(r.hub, r.spoke)
        return self.checks.get((r.hub, r.spoke),
                               pb.SpokeCheck(hub=r.hub, spoke=r.spoke, ok=True, message="ok"))

    def _hub(self, name: str) -> pb.Hub:
        if name not in self.hubs:
            raise ClientError(f"hub {name!r} not found", ExitCode.NOT_FOUND, "not_found")
        return self.hubs[name]

    def _spoke(self, hub: str, name: str) -> pb.Spoke:
        self._hub(hub)
        if (hub, name) not in self.spokes:
            raise ClientError(f"spoke {name!r} of hub {hub!r} not found", ExitCode.NOT_FOUND,
                              "not_found")
        return self.spokes[hub, name]


def _snake(method: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", method).lower()


def _conforms(fake: FakeControl) -> ControlClient:
    return fake  # the type checker proves the fake implements the protocol
