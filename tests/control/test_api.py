"""The API from outside: a client built only from server reflection (no cirahub code, as
grpcurl would), health without a token, TLS required, and declarative apply."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from cirahub.control.server import TlsConfig, create_server
from cirahub.store import Store

from .conftest import CTL, Server

# Runs in a fresh interpreter that never imports cirahub: descriptors come from reflection.
REFLECTION_CLIENT = textwrap.dedent('''
    import json, sys
    import grpc
    from google.protobuf import descriptor_pool, json_format, message_factory
    from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
        ProtoReflectionDescriptorDatabase)

    address, token = sys.argv[1], sys.argv[2]
    channel = grpc.insecure_channel(address)
    auth = (("authorization", "Bearer " + token),)
    class Details(grpc.ClientCallDetails):
        def __init__(self, d):
            self.method, self.timeout, self.credentials = d.method, d.timeout, d.credentials
            self.metadata, self.wait_for_ready, self.compression = auth, d.wait_for_ready, d.compression

    class AuthAll(grpc.StreamStreamClientInterceptor):
        def intercept_stream_stream(self, continuation, details, requests):
            return continuation(Details(details), requests)

    reflected = grpc.intercept_channel(channel, AuthAll())
    pool = descriptor_pool.DescriptorPool(ProtoReflectionDescriptorDatabase(reflected))
    service = pool.FindServiceByName("cirahub.control.v1.ControlService")

    def call(method, body, metadata=auth):
        m = service.FindMethodByName(method)
        req = message_factory.GetMessageClass(m.input_type)
        resp = message_factory.GetMessageClass(m.output_type)
        fn = channel.unary_unary(f"/{service.full_name}/{method}",
                                 request_serializer=req.SerializeToString,
                                 response_deserializer=resp.FromString)
        try:
            out = fn(json_format.ParseDict(body, req()), metadata=metadata, timeout=60)
            return {"ok": json_format.MessageToDict(out, preserving_proto_field_name=True)}
        except grpc.RpcError as e:
            return {"code": e.code().name, "details": e.details(),
                    "trailer": dict(e.trailing_metadata() or ())}

    print(json.dumps({
        "create": call("CreateHub", {"name": "reflected"}),
        "spoke": call("AddSpoke", {"hub": "reflected", "name": "m",
                                   "config": {"memory": {"calendar": "refl"}},
                                   "options": {"days_back": 7, "hub_writes": "none"}}),
        "list": call("ListSpokes", {"hub": "reflected"}),
        "missing": call("GetHub", {"name": "nope"}),
        "bad": call("AddSpoke", {"hub": "reflected", "name": "v", "config": {"vdir": {}}}),
        "no_token": call("ListHubs", {}, metadata=()),
    }))
''')


def test_reflection_only_client_drives_the_api(server: Server) -> None:
    token = (server.data_dir / "control.token").read_text().strip()
    done = subprocess.run([sys.executable, "-c", REFLECTION_CLIENT, server.address, token],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["create"]["ok"]["name"] == "reflected"
    spoke = out["spoke"]["ok"]
    assert spoke["kind"] == "memory" and spoke["options"]["days_back"] == 7
    assert spoke["options"]["hub_writes"] == "none"
    assert [s["name"] for s in out["list"]["ok"]["spokes"]] == ["m"]
    assert out["missing"]["code"] == "NOT_FOUND" and "'nope'" in out["missing"]["details"]
    assert out["missing"]["trailer"]["cirahub-error-code"] == "not_found"
    assert out["bad"]["code"] == "INVALID_ARGUMENT" and "path" in out["bad"]["details"]
    assert out["no_token"]["code"] == "UNAUTHENTICATED"


def test_health_is_open_and_reflection_needs_the_token(server: Server) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

    with grpc.insecure_channel(server.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(
            service="cirahub.control.v1.ControlService"), timeout=30)
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        with pytest.raises(grpc.RpcError) as err:
            list(stub.ServerReflectionInfo(iter([request]), timeout=30))
        assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_token_file_is_private(server: Server) -> None:
    mode = (server.data_dir / "control.token").stat().st_mode & 0o777
    assert mode == 0o600


def _self_signed(tmp: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([
                x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp / "cert.pem", tmp / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_tls_required(tmp_path: Path) -> None:
    """A TLS server (real Store, servicer and CLI; no Ray needed for hub calls) refuses a
    plaintext client with a clear exit code and accepts one that trusts its certificate."""
    cert, key = _self_signed(tmp_path)
    store = Store.open(data_dir=tmp_path / "data")
    runtime = SimpleNamespace(store=store, reconcile=lambda: None, reconcile_soon=lambda: None)
    server, port = create_server(runtime, "127.0.0.1:0", "tls-token",
                                 TlsConfig.from_files(cert, key))
    try:
        base = [CTL, "--address", f"127.0.0.1:{port}", "--token", "tls-token"]
        plain = subprocess.run([*base, "hub", "create", "x"], capture_output=True, text=True,
                               timeout=60)
        assert plain.returncode == 4, plain.stderr
        assert "cannot reach" in plain.stderr and "Traceback" not in plain.stderr
        assert store.list_hubs() == []
        secure = subprocess.run([*base, "--ca-cert", str(cert), "hub", "create", "x"],
                                capture_output=True, text=True, timeout=60)
        assert secure.returncode == 0, secure.stderr
        assert [h.name for h in store.list_hubs()] == ["x"]
    finally:
        server.stop(grace=None)
        store.close()


def test_apply_is_idempotent_and_dry_run_changes_nothing(server: Server, tmp_path: Path) -> None:
    topo = tmp_path / "topology.yaml"
    topo.write_text(textwrap.dedent(f"""
        hubs:
          - name: declared
            policy: hub
            spokes:
              - name: one
                kind: vdir
                path: {tmp_path / 'one'}
                options: {{days_back: 14, private: skip}}
              - name: dav
                kind: caldav
                url: https://dav.example.com/cal/
                username: dave
                password_env: APPLY_PW
    """))
    env = {"APPLY_PW": "apply-secret-1"}
    dry = server.ctl("apply", "-f", str(topo), "--dry-run", "--json", env=env)
    assert dry.code == 0, dry.text
    assert len(json.loads(dry.out)["changes"]) == 3
    assert server.ctl("hub", "show", "declared").code == 3
    first = server.ctl("apply", "-f", str(topo), env=env)
    assert first.code == 0 and "3 change(s)" in first.out, first.text
    assert "apply-secret-1" not in first.text
    again = server.ctl("apply", "-f", str(topo), env=env)
    assert again.code == 0 and "no changes" in again.out, again.text
    changed = server.ctl("apply", "-f", str(topo), "--json", env={"APPLY_PW": "apply-secret-2"})
    details = json.loads(changed.out)["changes"]
    assert [(c["spoke"], c["details"]) for c in details] == [("dav", ["secret changed"])]
    topo.write_text(topo.read_text().replace("days_back: 14", "days_back: 30"))
    changed = json.loads(server.ctl("apply", "-f", str(topo), "--json", env=env).out)["changes"]
    assert changed[0]["details"] == ["options.days_back: 14 -> 30"]
    bad = server.ctl("apply", "-f", str(topo), env={})
    assert bad.code == 2 and "APPLY_PW" in bad.err


def test_demo_runs(tmp_path: Path) -> None:
    done = subprocess.run([CTL, "demo", "--data-dir", str(tmp_path / "demo")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "after sync, alice's copy says: Harbour Conference Centre" in done.stdout
    assert "--kind ews-public-folder" in done.stdout and "--kind caldav" in done.stdout
