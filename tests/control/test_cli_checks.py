"""A spoke is checked before it is stored, through the real CLI and server: a vdir path that is
a file, a CalDAV URL nothing answers on, a wrong password are refused with the reason (exit 7)
and store nothing; --no-check stores anyway; `spoke test` checks again later. Exchange user
names in every form Exchange accepts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.caldav.servers import PASSWORD, USER, Radicale, Xandikos

from .conftest import Server
from .test_cli_e2e import js, radicale  # noqa: F401  (the Radicale fixture)

pytestmark = pytest.mark.ray


def _spokes(server: Server, hub: str) -> list[str]:
    return [s["name"] for s in js(server, "spoke", "list", hub)]


def test_regression_vdir_path_that_is_a_file_is_refused(server: Server, tmp_path: Path) -> None:
    """`spoke add` of a vdir path that is a file used to succeed and fail at the first sync."""
    path = tmp_path / "not-a-folder.ics"
    path.write_text("just a file")
    assert server.ctl("hub", "create", "checked").code == 0
    r = server.ctl("spoke", "add", "checked", "f", "--kind", "vdir", "--path", str(path))
    assert r.code == 7, r.text
    assert "not stored" in r.err and "is not a folder" in r.err and "--no-check" in r.err
    assert _spokes(server, "checked") == []
    r = server.ctl("spoke", "add", "checked", "f", "--kind", "vdir", "--path", str(path),
                   "--no-check")
    assert r.code == 0, r.text
    r = server.ctl("spoke", "test", "checked", "f")
    assert r.code == 7 and "is not a folder" in r.out, r.text


def test_regression_caldav_url_nothing_answers_on_is_refused(server: Server) -> None:
    """A CalDAV URL nothing answers on used to be stored and fail only at the first sync."""
    assert server.ctl("hub", "create", "nowhere").code == 0
    r = server.ctl("spoke", "add", "nowhere", "dav", "--kind", "caldav", "--url",
                   "http://127.0.0.1:9/dav/cal/")
    assert r.code == 7, r.text
    assert "not stored" in r.err and "Traceback" not in r.text
    assert _spokes(server, "nowhere") == []


def test_wrong_password_is_refused_and_spoke_test_checks_later(
        server: Server, tmp_path: Path, radicale: Radicale) -> None:  # noqa: F811
    cal = radicale.base + radicale.mkcalendar()
    assert server.ctl("hub", "create", "dav").code == 0
    add = ("spoke", "add", "dav", "nc", "--kind", "caldav", "--url", cal, "--username", USER,
           "--password-env", "PW")
    r = server.ctl(*add, env={"PW": "not-the-password"})
    assert r.code == 7 and "not stored" in r.err, r.text
    assert "not-the-password" not in r.text
    r = server.ctl(*add, env={"PW": PASSWORD})
    assert r.code == 0, r.text
    r = server.ctl("spoke", "test", "dav", "nc")
    assert r.code == 0 and "ok" in r.out, r.text
    # a new password is tried before it replaces the stored one
    wrong = tmp_path / "pw"
    wrong.write_text("still-wrong\n")
    r = server.ctl("spoke", "options", "dav", "nc", "--password-file", str(wrong))
    assert r.code == 7 and "not changed" in r.err, r.text
    assert server.ctl("spoke", "test", "dav", "nc").code == 0  # the good one is still stored


@pytest.mark.parametrize("username", ["CORP\\svc-sync", "svc-sync", "svc-sync@example.com"])
def test_regression_exchange_user_names_in_every_form(server: Server, username: str) -> None:
    """The README's own Exchange example (`--username svc-sync`) was refused: "username must
    be an e-mail style user name". UPN, DOMAIN\\user and plain names are what Exchange takes."""
    hub = "ex" + str(abs(hash(username)) % 10_000)
    assert server.ctl("hub", "create", hub).code == 0
    args = ["spoke", "add", hub, "pf", "--kind", "ews-public-folder", "--server",
            "https://mail.example.com/EWS/Exchange.asmx", "--username", username,
            "--password-env", "PW", "--folder", "/Team/Calendar", "--no-check"]
    if "@" not in username:
        missing = server.ctl(*args, env={"PW": "x"})
        assert missing.code == 2 and "--mailbox" in missing.err, missing.text
        args += ["--mailbox", "svc-sync@example.com"]
    r = server.ctl(*args, env={"PW": "x"})
    assert r.code == 0, r.text
    assert js(server, "spoke", "show", hub, "pf")["config"]["ews_public_folder"][
        "username"] == username


def test_one_vocabulary_for_options(server: Server, tmp_path: Path) -> None:
    """Flags, topology keys and what is shown use the same names and values as a user writes
    them (`interval: 10m`, `days_back: all`); the older spellings are accepted as aliases."""
    folder = tmp_path / "v"
    (tmp_path / "t.yaml").write_text(
        "hubs:\n  - name: words\n    spokes:\n"
        f"      - name: a\n        kind: vdir\n        path: {folder}\n"
        "        options: {interval: 10m, allow_hub: 'create,update', contribute: all,\n"
        "                  days_back: all, days_ahead: 90}\n")
    r = server.ctl("apply", "-f", str(tmp_path / "t.yaml"))
    assert r.code == 0, r.text
    shown = server.ctl("spoke", "options", "words", "a")
    lines = dict(line.split(None, 1) for line in shown.out.splitlines())
    assert (lines["interval"], lines["days_back"], lines["days_ahead"], lines["hub_writes"]) == (
        "10m", "all", "90", "create,update")
    r = server.ctl("spoke", "options", "words", "a", "--hub-writes", "none", "--contributes",
                   "create", "--interval", "1h")
    assert r.code == 0, r.text
    lines = dict(line.split(None, 1) for line in r.out.splitlines())
    assert (lines["hub_writes"], lines["contributes"], lines["interval"]) == (
        "none", "create", "1h")
    (tmp_path / "bad.yaml").write_text(
        "hubs:\n  - name: words\n    spokes:\n"
        f"      - name: a\n        kind: vdir\n        path: {folder}\n"
        "        options: {intervall: 5m}\n")
    bad = server.ctl("apply", "-f", str(tmp_path / "bad.yaml"))
    assert bad.code == 2 and "'intervall'" in bad.err and "interval," in bad.err, bad.text
    assert "interval_seconds" not in bad.err


def test_regression_errors_name_options_as_users_write_them(server: Server,
                                                             tmp_path: Path) -> None:
    """Errors quoted internal names and values (`interval_seconds must be at least 5`, a
    negative days_back silently meaning unbounded): now the names are the flags' and the
    topology file's, and values are said as written."""
    folder = str(tmp_path / "w")
    assert server.ctl("hub", "create", "names").code == 0
    add = ("spoke", "add", "names", "s", "--kind", "vdir", "--path", folder)
    for flags, wanted in ((("--interval", "2s"), "interval must be at least 5s and at most 8784h (got 2s)"),
                          (("--hub-writes", "bogus"), "hub_writes: unknown permission(s) bogus"),
                          (("--contributes", "bogus"), "contributes: unknown permission(s)")):
        r = server.ctl(*add, *flags)
        assert r.code == 2 and wanted in r.err, (flags, r.text)
        assert "interval_seconds" not in r.err and "allow" not in r.err
    assert _spokes(server, "names") == []
    for options, wanted in (("{days_back: -3}", "option 'days_back': a whole number of days "
                                                ">= 0, or all (got -3)"),
                            ("{days_ahead: soon}", "option 'days_ahead': a whole number"),
                            ("{interval: 2}", "interval must be at least 5s and at most 8784h (got 2s)")):
        (tmp_path / "t.yaml").write_text(
            "hubs:\n  - name: names\n    spokes:\n"
            f"      - name: s\n        kind: vdir\n        path: {folder}\n"
            f"        options: {options}\n")
        r = server.ctl("apply", "-f", str(tmp_path / "t.yaml"))
        assert r.code == 2 and wanted in r.err, (options, r.text)
        assert "interval_seconds" not in r.err and "Traceback" not in r.text
    assert _spokes(server, "names") == []


class ReadOnlyRadicale(Radicale):
    """Radicale where the user may only read the calendar ``/alice/readonly/`` (a rights file)
    and write everything else of theirs."""

    name = "radicale-ro"

    def command(self) -> list[str]:
        command = super().command()
        root = self.root
        calendar = root / "storage" / "collection-root" / USER / "readonly"
        calendar.mkdir(parents=True)
        (calendar / ".Radicale.props").write_text(
            json.dumps({"tag": "VCALENDAR", "D:displayname": "Read only"}))
        (root / "rights").write_text(
            "[readonly]\nuser: .+\ncollection: {user}/readonly(/.*)?\npermissions: r\n"
            "[principal]\nuser: .+\ncollection: {user}\npermissions: RW\n"
            "[own]\nuser: .+\ncollection: {user}/[^/]+(/.*)?\npermissions: rw\n")
        config = root / "config"
        config.write_text(config.read_text() + f"[rights]\ntype = from_file\nfile = {root / 'rights'}\n")
        return command


@pytest.fixture(scope="module")
def read_only_radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    srv = ReadOnlyRadicale(tmp_path_factory.mktemp("radicale-ro"))
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def xandikos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Xandikos]:
    srv = Xandikos(tmp_path_factory.mktemp("xandikos"))
    yield srv
    srv.stop()


def test_regression_read_only_caldav_calendar_is_refused_when_the_hub_writes(
        server: Server, read_only_radicale: Radicale) -> None:
    """The check listed a CalDAV calendar but never asked whether the hub may write there: a
    read-only calendar was stored and every write failed at the first sync."""
    dav = read_only_radicale
    readonly = f"{dav.base}/{USER}/readonly/"
    assert server.ctl("hub", "create", "ro").code == 0
    add = ("spoke", "add", "ro", "cal", "--kind", "caldav", "--url", readonly,
           "--username", USER, "--password-env", "PW")
    r = server.ctl(*add, env={"PW": PASSWORD})
    assert r.code == 7, r.text
    assert "not stored" in r.err and "read-only for this user" in r.err, r.text
    assert "hub_writes is create,update,delete" in r.err and "--hub-writes none" in r.err
    assert _spokes(server, "ro") == []
    # a calendar that only feeds the hub is fine read-only
    r = server.ctl(*add, "--hub-writes", "none", env={"PW": PASSWORD})
    assert r.code == 0, r.text
    assert server.ctl("spoke", "test", "ro", "cal").code == 0
    r = server.ctl("spoke", "options", "ro", "cal", "--hub-writes", "all")
    assert r.code == 7 and "not changed" in r.err and "read-only" in r.err, r.text
    # stored anyway, `spoke test` says why it cannot work
    r = server.ctl(*add[:3], "cal2", *add[4:], "--no-check", env={"PW": PASSWORD})
    assert r.code == 0, r.text
    r = server.ctl("spoke", "test", "ro", "cal2")
    assert r.code == 7 and "read-only for this user" in r.out, r.text
    # a calendar of the same user that is writable passes
    writable = dav.base + dav.mkcalendar()
    r = server.ctl("spoke", "add", "ro", "rw", "--kind", "caldav", "--url", writable,
                   "--username", USER, "--password-env", "PW", env={"PW": PASSWORD})
    assert r.code == 0, r.text


def test_writable_xandikos_calendar_passes_the_write_check(server: Server,
                                                          xandikos: Xandikos) -> None:
    """Xandikos reports DAV:all on the user's calendars: the check accepts them."""
    url = xandikos.base + xandikos.mkcalendar()
    assert server.ctl("hub", "create", "xk").code == 0
    r = server.ctl("spoke", "add", "xk", "cal", "--kind", "caldav", "--url", url,
                   "--username", USER, "--password-env", "PW", env={"PW": PASSWORD})
    assert r.code == 0, r.text
    r = server.ctl("spoke", "test", "xk", "cal")
    assert r.code == 0 and "ok" in r.out, r.text
