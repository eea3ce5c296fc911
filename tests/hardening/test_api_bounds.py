"""Issue 13 items 6, 9 and 11 (API part), through a real ``cirahubctl server`` and the real
CLI: one large value never makes the API unusable, every list is paged, conflicts lists
carry no item bodies, oversize messages get their own exit code, ``apply`` is atomic."""

from __future__ import annotations

import json
from pathlib import Path

import grpc
import pytest
import yaml

from cirahub.control.auth import HEADER
from cirahub.control.errors import ExitCode
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from cirahub.proto.cirahub.control.v1 import control_pb2_grpc as pb_grpc
from tests.control.conftest import Server


def _stub(server: Server) -> tuple[pb_grpc.ControlServiceStub, tuple[tuple[str, str], ...]]:
    token = (server.data_dir / "control.token").read_text().strip()
    channel = grpc.insecure_channel(server.address)
    return pb_grpc.ControlServiceStub(channel), ((HEADER, f"Bearer {token}"),)


def _write(path: Path, spec: object) -> str:
    path.write_text(yaml.safe_dump(spec))
    return str(path)


def test_regression_long_name_is_a_validation_error(server: Server) -> None:
    name = "a" * 10_000
    for args in (("hub", "create", name), ("hub", "show", name), ("status", name),
                 ("runs", name)):
        r = server.ctl(*args)
        assert r.code == ExitCode.BAD_INPUT, (args[:2], r.text[:500])
        assert "too long: 10000 characters, at most 64" in r.err
        assert len(r.err) < 300  # the value is never echoed whole
    r = server.ctl("hub", "create", "a..b")
    assert r.code == ExitCode.BAD_INPUT and "'..'" in r.err


def test_regression_runs_limit_out_of_range(server: Server) -> None:
    r = server.ctl("runs", "--limit", "99999999999")
    assert r.code == ExitCode.BAD_INPUT, r.text
    assert "--limit" in r.err and "10000" in r.err and "unexpected" not in r.err
    stub, meta = _stub(server)
    with pytest.raises(grpc.RpcError) as info:
        stub.ListRuns(pb.ListRunsRequest(limit=2_000_000_000), metadata=meta)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "limit must be between 1 and 10000" in (info.value.details() or "")


def test_regression_many_categories_refused(server: Server, tmp_path: Path) -> None:
    (tmp_path / "cal").mkdir()
    spec = {"hubs": [{"name": "cats", "spokes": [{
        "name": "a", "kind": "vdir", "path": str(tmp_path / "cal"),
        "options": {"categories_include": [f"c{i}" for i in range(60_000)]}}]}]}
    r = server.ctl("apply", "-f", _write(tmp_path / "t.yaml", spec))
    assert r.code == ExitCode.BAD_INPUT, r.text[:500]
    assert "categories_include has too many entries: at most 200" in r.err
    r = server.ctl("spoke", "add", "cats", "b", "--kind", "vdir", "--path",
                   str(tmp_path / "cal"), "--tag-category", "x" * 5000)
    assert r.code in (ExitCode.BAD_INPUT, ExitCode.NOT_FOUND), r.text[:500]
    r = server.ctl("hub", "create", "cats")
    assert r.code == 0, r.text
    r = server.ctl("spoke", "add", "cats", "b", "--kind", "vdir", "--path",
                   "/" + "p" * 5000)
    assert r.code == ExitCode.BAD_INPUT, r.text[:500]
    assert "config.path is too long: 5001 characters, at most 4096" in r.err


def test_regression_lists_are_paged(server: Server, tmp_path: Path) -> None:
    spec = {"hubs": [{"name": f"paged-{i:03d}"} for i in range(130)]}
    r = server.ctl("apply", "-f", _write(tmp_path / "many.yaml", spec))
    assert r.code == 0, r.text[:500]
    stub, meta = _stub(server)
    first = stub.ListHubs(pb.ListHubsRequest(page_size=50), metadata=meta)
    assert len(first.hubs) == 50 and first.next_page_token
    default = stub.ListHubs(pb.ListHubsRequest(), metadata=meta)
    assert len(default.hubs) == 100 and default.next_page_token
    with pytest.raises(grpc.RpcError) as info:
        stub.ListHubs(pb.ListHubsRequest(page_size=100_000), metadata=meta)
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    r = server.ctl("hub", "list", "--json")
    names = [h["name"] for h in json.loads(r.out)]
    assert r.code == 0 and len([n for n in names if n.startswith("paged-")]) == 130
    for request, call in ((pb.ListSpokesRequest(page_size=1), stub.ListSpokes),
                          (pb.GetStatusRequest(page_size=1), stub.GetStatus),
                          (pb.ListRunsRequest(page_size=1), stub.ListRuns),
                          (pb.ListConflictsRequest(page_size=1), stub.ListConflicts),
                          (pb.ListQuarantineRequest(page_size=1), stub.ListQuarantine)):
        assert call(request, metadata=meta).next_page_token is not None


def test_regression_oversize_request_has_its_own_exit_code(server: Server,
                                                            tmp_path: Path) -> None:
    secret = tmp_path / "huge-password"
    secret.write_text("x" * (5 << 20))
    r = server.ctl("spoke", "add", "cats", "big", "--kind", "caldav", "--url",
                   "https://dav.example.com/cal/", "--username", "u", "--password-file",
                   str(secret), "--no-check")
    assert r.code == ExitCode.LIMIT, r.text[:500]
    assert "larger than the gRPC message limit" in r.err
    secret.write_text("x" * 20_000)
    r = server.ctl("spoke", "add", "cats", "big", "--kind", "caldav", "--url",
                   "https://dav.example.com/cal/", "--username", "u", "--password-file",
                   str(secret), "--no-check")
    assert r.code == ExitCode.BAD_INPUT and "secret is too long" in r.err, r.text[:500]


def test_regression_apply_is_atomic(server: Server, tmp_path: Path) -> None:
    (tmp_path / "good").mkdir()
    spec = {"hubs": [{"name": "atomic", "spokes": [
        {"name": "good", "kind": "vdir", "path": str(tmp_path / "good")},
        {"name": "bad name!", "kind": "vdir", "path": str(tmp_path / "good")},
    ]}]}
    path = _write(tmp_path / "half.yaml", spec)
    dry = server.ctl("apply", "-f", path, "--dry-run")
    assert dry.code == ExitCode.BAD_INPUT, dry.text
    assert "spoke must be 1-64 characters" in dry.err and "'bad name!'" in dry.err
    real = server.ctl("apply", "-f", path)
    assert real.code == ExitCode.BAD_INPUT, real.text
    assert real.err == dry.err
    shown = server.ctl("hub", "show", "atomic")
    assert shown.code == ExitCode.NOT_FOUND, shown.text  # nothing was created


def _event(uid: str, description: str, stamp: str) -> str:
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:{stamp}\r\nLAST-MODIFIED:{stamp}\r\n"
            "DTSTART:20300601T100000Z\r\nDTEND:20300601T110000Z\r\nSUMMARY:Budget\r\n"
            f"DESCRIPTION:{description}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_regression_conflict_lists_carry_no_bodies(server: Server, tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "big-1.ics").write_text(_event("big-1", "short", "20300101T000000Z"))
    assert server.ctl("hub", "create", "bodies").code == 0
    for name, folder in (("a", a), ("b", b)):
        r = server.ctl("spoke", "add", "bodies", name, "--kind", "vdir", "--path", str(folder))
        assert r.code == 0, r.text
    assert server.ctl("sync", "bodies").code == 0
    in_b = next(b.glob("*.ics"))
    # both sides change the description before the next sync: one is 5 MB (> gRPC's 4 MB)
    (a / "big-1.ics").write_text(_event("big-1", "edited in a", "20300102T000000Z"))
    in_b.write_text(_event("big-1", "x" * (5 << 20), "20300103T000000Z"))
    server.ctl("sync", "bodies")
    listed = server.ctl("conflicts", "bodies", "--json")
    assert listed.code == 0, listed.text[:500]
    entries = json.loads(listed.out)
    assert entries and len(listed.out) < 100_000
    assert all("losing_item" not in e and "current_item" not in e for e in entries)
    assert any(e["truncated"] for e in entries)
    table = server.ctl("conflicts", "bodies")
    assert table.code == 0 and "description" in table.out.lower(), table.text[:500]
    one = server.ctl("conflict", entries[0]["id"], "--json")
    assert one.code == 0, one.text[:500]
    shown = json.loads(one.out)
    assert shown["truncated"] and shown["current_item"]
    assert len(json.dumps(shown["current_item"])) < (1 << 20) + 100
    missing = server.ctl("conflict", "no-such-conflict")
    assert missing.code == ExitCode.NOT_FOUND, missing.text
