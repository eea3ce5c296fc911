"""Issue 13 item 7, through a real ``cirahubctl server``: open event and sync-progress streams
hold no server thread each. With 100 streams open, a health check, a unary call and the CLI
still answer; one stream beyond ``--max-streams`` gets RESOURCE_EXHAUSTED (CLI exit 10)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from cirahub.control.auth import HEADER
from cirahub.control.errors import ExitCode
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc
from tests.control.conftest import Server
from tests.hardening.conftest import MAX_STREAMS
from tests.hardening.servers import SilentServer

LIMIT = MAX_STREAMS  # the package's server (conftest.py)
OPEN = 100
#: seconds a call may take before the server counts as blocked (generous: a loaded machine)
DEADLINE = 30.0


def _open(stub: pb_grpc.ControlServiceStub, meta: Any, request: Any) -> Any:
    method = stub.SyncNow if isinstance(request, pb.SyncNowRequest) else stub.WatchEvents
    return method(request, metadata=meta)


def test_regression_open_streams_do_not_block_the_api(server: Server,
                                                      silent: SilentServer) -> None:
    assert server.ctl("hub", "create", "slow").code == 0
    r = server.ctl("spoke", "add", "slow", "feed", "--kind", "ics-url", "--url",
                   f"http://127.0.0.1:{silent.port}/cal.ics", "--no-check")
    assert r.code == 0, r.text
    token = (server.data_dir / "control.token").read_text().strip()
    meta = ((HEADER, f"Bearer {token}"),)
    channels = [grpc.insecure_channel(server.address) for _ in range(10)]
    stubs = [pb_grpc.ControlServiceStub(c) for c in channels]
    # 90 event streams and 10 sync-progress streams (their runs hang on the silent feed)
    requests: list[Any] = [pb.WatchEventsRequest()] * (OPEN - 10) + [
        pb.SyncNowRequest(hub="slow")] * 10
    calls = [_open(stubs[i % 10], meta, req) for i, req in enumerate(requests)]
    pool = ThreadPoolExecutor(16)
    try:
        # initial metadata comes once the server opened (and counted) the stream
        opened = [pool.submit(c.initial_metadata) for c in calls]
        _, pending = wait(opened, timeout=120)
        assert not pending, f"{len(pending)} of {OPEN} streams not opened: the server is blocked"
        health = health_pb2_grpc.HealthStub(channels[0])
        answer = health.Check(health_pb2.HealthCheckRequest(), timeout=DEADLINE)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        hubs = stubs[1].ListHubs(pb.ListHubsRequest(), metadata=meta, timeout=DEADLINE)
        assert hubs.hubs  # answered in time (the package server holds other tests' hubs too)
        listed = server.ctl("hub", "list")
        assert listed.code == 0 and "slow" in listed.out, listed.text
        more = [_open(stubs[2], meta, pb.WatchEventsRequest()) for _ in range(LIMIT - OPEN)]
        calls += more
        for c in more:
            c.initial_metadata()
        refused = server.ctl("events")
        assert refused.code == ExitCode.LIMIT, refused.text
        assert f"too many open streams: this server allows {LIMIT}" in refused.err
        assert "--max-streams" in refused.err
    finally:
        for c in calls:
            c.cancel()
        pool.shutdown(wait=False)
        for c in channels:
            c.close()
