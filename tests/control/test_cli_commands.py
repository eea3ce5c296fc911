"""``cirahubctl`` commands in-process, with click's CliRunner against a typed fake client.

What a user sees (the output, the exit code) and what reaches the control plane (the RPC and
its request message), without a server: :class:`tests.control.fake_client.FakeControl`
implements the client's protocol strictly. The same commands run against a real server in
test_cli_e2e.py.
"""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from cirahub.control.cli import COMMANDS, cli, main
from cirahub.control.cli_common import Conn
from cirahub.control.errors import ExitCode
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb
from tests.control.fake_client import FakeControl


@pytest.fixture
def fake() -> FakeControl:
    return FakeControl()


def run(fake: FakeControl, *args: str):
    return CliRunner().invoke(cli, list(args), obj=Conn(opener=lambda conn: fake))


def test_every_command_is_registered_by_importing_the_cli():
    # no command depends on main() having run, or on another module having been imported
    assert {c.name for c in COMMANDS} == set(cli.commands)
    assert {"hub", "spoke", "sync", "status", "server", "demo", "confirm", "restore"} <= set(
        cli.commands)
    assert {"create", "list", "show", "delete"} <= set(cli.commands["hub"].commands)  # type: ignore[attr-defined]


def test_hub_create_sends_the_policy_and_says_what_was_made(fake):
    result = run(fake, "hub", "create", "team", "--policy", "hub")
    assert result.exit_code == 0, result.output
    assert "created hub 'team' (policy hub)" in result.output
    assert fake.requests("CreateHub") == [pb.CreateHubRequest(name="team", policy="hub")]
    assert fake.closed == 1  # the client was closed


def test_hub_list_json_lists_every_hub(fake):
    fake.create_hub("team")
    fake.create_hub("board", "spoke")
    result = run(fake, "hub", "list", "--json")
    assert result.exit_code == 0, result.output
    assert [(h["name"], h["policy"]) for h in json.loads(result.output)] == [
        ("team", "latest"), ("board", "spoke")]


def test_hub_show_lists_its_spokes(fake, tmp_path):
    fake.create_hub("team")
    fake.add_spoke("team", "alice", pb.SpokeConfig(vdir=pb.VdirConfig(path=str(tmp_path))))
    result = run(fake, "hub", "show", "team")
    assert result.exit_code == 0, result.output
    assert "alice" in result.output and "vdir" in result.output


def test_spoke_add_sends_an_absolute_folder_and_no_secret(fake, tmp_path, monkeypatch):
    fake.create_hub("team")
    monkeypatch.chdir(tmp_path)
    result = run(fake, "spoke", "add", "team", "alice", "--kind", "vdir", "--path", "cal",
                 "--no-check", "--days-back", "30")
    assert result.exit_code == 0, result.output
    assert "attached spoke 'alice' (vdir) to hub 'team'" in result.output
    (request,) = fake.requests("AddSpoke")
    assert request.config.vdir.path == str(tmp_path / "cal")
    assert request.no_check and request.secret == "" and request.options.days_back == 30


def test_spoke_add_refuses_a_flag_of_another_kind_before_calling(fake):
    fake.create_hub("team")
    result = run(fake, "spoke", "add", "team", "alice", "--kind", "vdir", "--path", "/x",
                 "--url", "https://cloud.example.com/dav/")
    assert result.exit_code == ExitCode.BAD_INPUT
    assert "--url does not apply to --kind vdir" in result.output
    assert fake.requests("AddSpoke") == []


def test_spoke_test_exits_7_with_the_reason_when_the_calendar_cannot_be_used(fake, tmp_path):
    fake.create_hub("team")
    fake.add_spoke("team", "alice", pb.SpokeConfig(vdir=pb.VdirConfig(path=str(tmp_path))))
    fake.checks["team", "alice"] = pb.SpokeCheck(
        hub="team", spoke="alice", ok=False, message="the folder is not writable",
        error_code="config_error")
    result = run(fake, "spoke", "test", "team", "alice")
    assert result.exit_code == ExitCode.PRECONDITION
    assert "team/alice: cannot be used: the folder is not writable" in result.output


def test_main_turns_a_missing_hub_into_one_line_and_exit_3(fake, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["hub", "show", "nope"], conn=Conn(opener=lambda conn: fake))
    assert exited.value.code == ExitCode.NOT_FOUND
    err = capsys.readouterr().err
    assert err.strip().splitlines() == ["error: hub 'nope' not found"]
