"""End to end through the real ``cirahubctl`` and a real server process (embedded Ray, SQLite):
the operator's workflow on vdir and Radicale spokes, and bad inputs that must change nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.caldav.servers import PASSWORD, USER, CalendarUser, Radicale

from .conftest import Server

pytestmark = pytest.mark.ray


def event(uid: str, summary: str, start: str = "20300601T100000Z",
          end: str = "20300601T110000Z", stamp: str = "20300101T000000Z") -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:{stamp}\r\nLAST-MODIFIED:{stamp}\r\nDTSTART:{start}\r\n"
        f"DTEND:{end}\r\nSUMMARY:{summary}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )


def summaries(folder: Path) -> dict[str, str]:
    """UID → SUMMARY of every .ics file in a vdir."""
    out = {}
    for path in folder.glob("*.ics"):
        lines = path.read_text().splitlines()
        uid = next(x.split(":", 1)[1] for x in lines if x.startswith("UID:"))
        out[uid] = next(x.split(":", 1)[1] for x in lines if x.startswith("SUMMARY"))
    return out


def file_of(folder: Path, uid: str) -> Path:
    return next(p for p in folder.glob("*.ics") if f"UID:{uid}" in p.read_text())


def js(server: Server, *args: str) -> object:
    r = server.ctl(*args, "--json")
    assert r.code == 0, r.text
    return json.loads(r.out)


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    srv = Radicale(tmp_path_factory.mktemp("radicale"))
    yield srv
    srv.stop()


def test_operator_workflow(server: Server, tmp_path: Path, radicale: Radicale,
                           monkeypatch: pytest.MonkeyPatch) -> None:
    a, b, c = (tmp_path / n for n in ("a", "b", "c"))
    a.mkdir()
    (a / "kickoff.ics").write_text(event("kickoff@test", "Kickoff"))
    assert server.ctl("hub create team").code != 0  # one argument, not a shell line
    r = server.ctl("hub", "create", "team")
    assert r.code == 0, r.text
    for name, folder in (("a", a), ("b", b), ("c", c)):
        r = server.ctl("spoke", "add", "team", name, "--kind", "vdir", "--path", str(folder))
        assert r.code == 0, r.text
    cal_path = radicale.mkcalendar()
    user = CalendarUser(radicale, cal_path)
    r = server.ctl("spoke", "add", "team", "dav", "--kind", "caldav", "--url",
                   radicale.base + cal_path, "--username", USER, "--password-env", "DAV_PW",
                   env={"DAV_PW": PASSWORD})
    assert r.code == 0, r.text

    # sync now: the kickoff reaches every spoke; the command waits and exits 0
    r = server.ctl("sync", "team")
    assert r.code == 0, r.text
    assert "RESULT" in r.out and "dav" in r.out
    assert summaries(b) == summaries(c) == {"kickoff@test": "Kickoff"}
    assert len(user.hrefs()) == 1

    # an edit in one folder arrives in the others (and in Radicale)
    path = file_of(b, "kickoff@test")
    path.write_text(event("kickoff@test", "Kickoff (moved)", stamp="20300102T000000Z"))
    r = server.ctl("sync", "team")
    assert r.code == 0, r.text
    assert summaries(a)["kickoff@test"] == summaries(c)["kickoff@test"] == "Kickoff (moved)"
    dav_text = radicale.session.get(radicale.base + user.hrefs()[0]).text
    assert "SUMMARY:Kickoff (moved)" in dav_text

    status = js(server, "status", "team")
    assert {s["spoke"]: (s["state"], s["item_count"]) for s in status} == {
        n: ("ok", 1) for n in ("a", "b", "c", "dav")}
    assert all(s["last_run"]["status"] == "ok" for s in status)
    human = server.ctl("status", "team")
    assert human.code == 0 and "ITEMS" in human.out

    # disable c: it keeps its copy but no longer receives changes
    assert server.ctl("spoke", "disable", "team", "c").code == 0
    (a / "late.ics").write_text(event("late@test", "Late addition", start="20300701T100000Z",
                                      end="20300701T110000Z"))
    r = server.ctl("sync", "team")
    assert r.code == 0, r.text
    assert "late@test" in summaries(b)
    assert "late@test" not in summaries(c)
    states = {s["spoke"]: s for s in js(server, "status", "team")}
    assert states["c"]["state"] == "disabled" and not states["c"]["enabled"]
    assert server.ctl("sync", "team", "--spoke", "c").code == 2  # disabled: bad input

    # options change: one-way into b, a window; shown back exactly
    r = server.ctl("spoke", "options", "team", "b", "--contribute", "none", "--days-back", "30",
                   "--interval", "10m", "--private", "busy")
    assert r.code == 0, r.text
    shown = js(server, "spoke", "show", "team", "b")["options"]
    assert (shown["contributes"], shown["days_back"], shown["interval_seconds"],
            shown["private"], shown["hub_writes"]) == ("none", 30, 600, "busy",
                                                         "create,update,delete")
    # b no longer contributes: a local edit there stays local
    file_of(b, "late@test").write_text(event("late@test", "Edited in b", start="20300701T100000Z",
                                             end="20300701T110000Z", stamp="20300103T000000Z"))
    assert server.ctl("sync", "team").code == 0
    assert summaries(a)["late@test"] == "Late addition"

    # remove: the spoke is gone, its folder stays as it is
    r = server.ctl("spoke", "remove", "team", "c")
    assert r.code == 0, r.text
    assert [s["name"] for s in js(server, "spoke", "list", "team")] == ["a", "b", "dav"]
    assert summaries(c) == {"kickoff@test": "Kickoff (moved)"}
    runs = js(server, "runs", "team", "--limit", "5")
    assert runs and all(r["hub"] == "team" for r in runs)


def _snapshot(server: Server) -> object:
    return (js(server, "hub", "list"), js(server, "spoke", "list"))


@pytest.mark.parametrize(
    ("args", "env", "code", "message"),
    [
        (["spoke", "add", "nohub", "x", "--kind", "vdir", "--path", "/tmp/x"], {}, 3,
         "hub 'nohub'"),
        (["spoke", "add", "bad", "x", "--kind", "exchange2003", "--path", "/tmp/x"], {}, 2,
         "exchange2003"),
        (["spoke", "add", "bad", "x", "--kind", "caldav", "--url", "https://dav.example.com/c/",
          "--username", "bob"], {}, 2, "needs a password"),
        (["spoke", "add", "bad", "x", "--kind", "caldav", "--url", "ftp://dav.example.com/c/"],
         {}, 2, "'url' must be an absolute"),
        (["spoke", "add", "bad", "x", "--kind", "caldav", "--url", "https://h/c/",
          "--username", "u", "--password-env", "NOT_SET_ANYWHERE"], {}, 2, "NOT_SET_ANYWHERE"),
        (["spoke", "add", "bad", "x", "--kind", "vdir", "--url", "https://h/"], {}, 2,
         "--url does not apply"),
        (["spoke", "add", "bad", "x", "--kind", "vdir", "--path", "/tmp/x", "--allow-hub",
          "create,destroy"], {}, 2, "destroy"),
        (["spoke", "options", "bad", "ghost", "--days-back", "3"], {}, 3, "no spoke 'ghost'"),
        (["hub", "create", "bad"], {}, 6, "already exists"),
        (["hub", "create", "other", "--token", "wrong"], {}, 5, "wrong control token"),
        (["hub", "create", "other"], {"CIRAHUB_TOKEN": "wrong"}, 5, "authentication failed"),
        (["hub", "create", "other", "--address", "127.0.0.1:9"], {}, 4, "cannot reach"),
        (["spoke", "add", "bad", "x", "--kind", "graph", "--tenant", "contoso.com",
          "--mailbox", "team@contoso.com"], {}, 2, "--kind graph needs --client-id"),
        (["spoke", "add", "bad", "x", "--kind", "graph", "--tenant", "contoso.com",
          "--client-id", "0f3c1a2b-1111-4c4c-9d9d-123456789abc", "--mailbox", "team@contoso.com"],
         {}, 2, "needs a client secret"),
        (["spoke", "add", "bad", "x", "--kind", "graph", "--tenant", "contoso.com",
          "--client-id", "0f3c1a2b-1111-4c4c-9d9d-123456789abc", "--mailbox", "team@contoso.com",
          "--group", "g1", "--password-env", "GRAPH_SECRET"], {"GRAPH_SECRET": "s"}, 2,
         "exactly one of 'mailbox'"),
    ],
    ids=["unknown-hub", "bad-kind", "missing-secret", "bad-url", "unset-password-env",
         "flag-of-other-kind", "bad-permission", "unknown-spoke", "exists", "wrong-token",
         "wrong-token-env", "unreachable", "graph-missing-flag", "graph-missing-secret",
         "graph-mailbox-and-group"],
)
def test_bad_input_changes_nothing(server: Server, args: list[str], env: dict[str, str],
                                   code: int, message: str) -> None:
    if server.ctl("hub", "show", "bad").code == 3:
        assert server.ctl("hub", "create", "bad").code == 0
    before = _snapshot(server)
    r = server.ctl(*args, env=env)
    assert r.code == code, r.text
    assert message in r.err, r.err
    assert "Traceback" not in r.text
    assert _snapshot(server) == before


def test_secrets_never_leave_the_server(server: Server, tmp_path: Path) -> None:
    password = "Pa55-word-that-must-not-leak"
    assert server.ctl("hub", "create", "secretive").code == 0
    r = server.ctl("spoke", "add", "secretive", "dav", "--kind", "caldav", "--url",
                   "http://127.0.0.1:9/dav/cal/", "--username", "carol", "--password-env",
                   "PW", "--no-check", env={"PW": password})
    assert r.code == 0, r.text
    # the server cannot be reached: the run fails (exit 1), with an error, not a secret
    synced = server.ctl("sync", "secretive", "--json")
    assert synced.code == 1, synced.text
    assert json.loads(synced.out.splitlines()[-1])["summary"]["ok"] is False
    new_pw = tmp_path / "pw"
    new_pw.write_text("Second-secret-value\n")
    updated = server.ctl("spoke", "options", "secretive", "dav", "--password-file", str(new_pw),
                         "--no-check")
    assert updated.code == 0, updated.text
    outputs = [r, synced, updated] + [
        server.ctl(*cmd) for cmd in (
            ("spoke", "show", "secretive", "dav", "--json"), ("spoke", "list", "--json"),
            ("status", "--json"), ("runs", "--json"), ("hub", "show", "secretive", "--json"),
            ("status", "secretive"), ("spoke", "show", "secretive", "dav"))]
    shown = js(server, "spoke", "show", "secretive", "dav")
    assert shown["has_secret"] is True
    for text in [o.text for o in outputs] + [server.log_text()]:
        assert password not in text
        assert "Second-secret-value" not in text
    db = (server.data_dir / "cirahub.db").read_bytes()
    assert password.encode() not in db and b"Second-secret-value" not in db


def test_mass_delete_halts_until_the_operator_confirms(server: Server, tmp_path: Path) -> None:
    """Someone wipes 11 of 12 events from one folder: `sync` exits 1 and deletes nothing,
    `status` says why, `confirm` lets the next sync apply the deletions everywhere."""
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(12):
        (src / f"e{i}.ics").write_text(event(f"e{i}@test", f"Event {i}",
                                             start=f"203006{i + 1:02d}T100000Z",
                                             end=f"203006{i + 1:02d}T110000Z"))
    assert server.ctl("hub", "create", "halting").code == 0
    for name, folder in (("src", src), ("dst", dst)):
        r = server.ctl("spoke", "add", "halting", name, "--kind", "vdir", "--path", str(folder))
        assert r.code == 0, r.text
    assert server.ctl("sync", "halting").code == 0
    assert len(summaries(dst)) == 12
    for i in range(11):
        (src / f"e{i}.ics").unlink()

    r = server.ctl("sync", "halting")
    assert r.code == 1, r.text
    assert len(summaries(dst)) == 12  # nothing deleted while halted
    status = {s["spoke"]: s for s in js(server, "status", "halting")}
    assert status["src"]["halted"] and "11" in status["src"]["halted_reason"]

    r = server.ctl("confirm", "halting", "src")
    assert r.code == 0, r.text
    r = server.ctl("sync", "halting")
    assert r.code == 0, r.text
    assert list(summaries(dst)) == ["e11@test"]
    status = {s["spoke"]: s for s in js(server, "status", "halting")}
    assert not status["src"]["halted"] and status["src"]["state"] == "ok"
