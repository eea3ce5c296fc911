"""Health probe for cirahub containers (Docker HEALTHCHECK, compose, Kubernetes exec probes).

    python /opt/cirahub/healthcheck.py control [HOST:PORT]   # gRPC health of the control plane
    python /opt/cirahub/healthcheck.py raylet [PORT]         # this node's raylet (dashboard agent)

Exit 0 when healthy, 1 otherwise, with one line on stderr saying why. ``control`` calls the
standard ``grpc.health.v1.Health/Check`` (served without a token, so the probe needs no secret)
in plaintext: it is meant to run inside the server's own container on loopback.
"""

from __future__ import annotations

import sys
import urllib.request

CONTROL_SERVICE = "cirahub.control.v1.ControlService"
TIMEOUT_SECONDS = 3.0


def control(address: str) -> int:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(address) as channel:
        try:
            reply = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service=CONTROL_SERVICE), timeout=TIMEOUT_SECONDS)
        except grpc.RpcError as exc:
            print(f"control plane at {address}: {exc.code().name}", file=sys.stderr)
            return 1
    if reply.status != health_pb2.HealthCheckResponse.SERVING:
        print(f"control plane at {address}: {health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)}",
              file=sys.stderr)
        return 1
    return 0


def raylet(port: str) -> int:
    url = f"http://127.0.0.1:{int(port)}/api/local_raylet_healthz"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT_SECONDS) as response:
            body = response.read(1024)
    except OSError as exc:
        print(f"raylet health at {url}: {exc}", file=sys.stderr)
        return 1
    if b"success" not in body:
        print(f"raylet health at {url}: not healthy", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if argv[:1] == ["control"] and len(argv) <= 2:
        return control(argv[1] if len(argv) == 2 else "127.0.0.1:7443")
    if argv[:1] == ["raylet"] and len(argv) <= 2:
        return raylet(argv[1] if len(argv) == 2 else "52365")
    print("usage: healthcheck.py control [HOST:PORT] | raylet [PORT]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
