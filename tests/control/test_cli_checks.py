"""A spoke is checked before it is stored, through the real CLI and server: a vdir path that is
a file, a CalDAV URL nothing answers on, a wrong password are refused with the reason (exit 7)
and store nothing; --no-check stores anyway; `spoke test` checks again later. Exchange user
names in every form Exchange accepts."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.caldav.servers import PASSWORD, USER, Radicale

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
