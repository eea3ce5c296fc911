"""Exchange Online end to end: the real `cirahubctl` and server process, the token emulator
and the EWS emulator in online mode (bearer tokens only), unmodified exchangelib and msal.

A public folder is discovered with `discover`, attached with `--auth oauth-app`, synced both
ways with a vdir spoke across a token expiry; each EWS retirement refusal shows in `status`
with its advice; `login` signs a delegated spoke in by device code; no secret, token or
refresh token is in the logs, the API answers or the database.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.control.test_cli_e2e import event, summaries
from tests.ews.online import (
    APP_ID,
    CLIENT_SECRET,
    FOLDER,
    NO_ROLE_APP_ID,
    PUBLIC_APP_ID,
    SVC,
    TENANT,
    Online,
    exchange_online,
)

from .conftest import CTL, Server, start_server, stop_server

pytestmark = pytest.mark.ray


@pytest.fixture(scope="module")
def online(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Online]:
    with exchange_online(tmp_path_factory.mktemp("exo")) as o:
        yield o


@pytest.fixture(scope="module")
def exo_server(online: Online, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # exchangelib verifies TLS with requests' defaults: the server process must trust the
    # emulators' certificate through REQUESTS_CA_BUNDLE (as an admin would for a private CA)
    old = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(online.bundle)
    try:
        srv = start_server(tmp_path_factory.mktemp("exo-server"))
    finally:
        if old is None:
            os.environ.pop("REQUESTS_CA_BUNDLE")
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = old
    yield srv
    stop_server(srv.proc)


def _oauth_flags(online: Online, client_id: str = APP_ID, auth: str = "oauth-app") -> list[str]:
    flags = ["--server", online.ews.url, "--username", SVC, "--auth", auth, "--tenant", TENANT,
             "--client-id", client_id, "--authority", online.tokens.authority,
             "--authority-ca-file", online.tokens.ca_file]
    return flags + (["--client-secret-env", "EXO_SECRET"] if auth == "oauth-app" else [])


ENV = {"EXO_SECRET": CLIENT_SECRET}


def _assert_only_bearer_answered(online: Online) -> None:
    answered = [v for v in online.exo.verdicts if v.user is not None]
    assert answered and all(v.auth.startswith("bearer-") for v in answered)
    assert len(online.ews.requests) == len(answered)


def test_discover_attach_sync_both_ways_across_token_expiry(exo_server: Server, online: Online,
                                                            tmp_path: Path) -> None:
    online.ews.add_public_folder("/Calendars/Events")
    online.ews.user.create(online.folder_id, subject="Budget review",
                           start=datetime(2030, 6, 3, 9, tzinfo=UTC), end=datetime(2030, 6, 3, 10, tzinfo=UTC))
    top = exo_server.ctl("discover", "--kind", "ews-public-folder", *_oauth_flags(online), env=ENV)
    assert top.code == 0, top.text
    assert "/Calendars" in top.out and "folder" in top.out
    level = exo_server.ctl("discover", "--kind", "ews-public-folder", *_oauth_flags(online),
                           "--under", "/Calendars", "--json", env=ENV)
    assert level.code == 0, level.text
    found = {c["path"]: c for c in json.loads(level.out)["calendars"]}
    assert found[FOLDER]["is_calendar"] and found[FOLDER]["item_count"] == 1
    assert "/Calendars/Events" in found

    local = tmp_path / "local"
    local.mkdir()
    (local / "offsite.ics").write_text(event("offsite@test", "Offsite"))
    assert exo_server.ctl("hub", "create", "exo").code == 0
    r = exo_server.ctl("spoke", "add", "exo", "pf", "--kind", "ews-public-folder", *_oauth_flags(online),
                       "--folder", FOLDER, env=ENV)
    assert r.code == 0, r.text
    assert exo_server.ctl("spoke", "add", "exo", "local", "--kind", "vdir", "--path", str(local)).code == 0
    # one spoke after the other: each run sees what the previous one merged (a parallel
    # round would leave it to the fan-out push, which `sync` does not wait for)
    for spoke in ("pf", "local", "pf"):
        r = exo_server.ctl("sync", "exo", "--spoke", spoke)
        assert r.code == 0, r.text
    assert "Budget review" in summaries(local).values(), r.text
    assert [i["subject"] for i in online.ews.user.find(online.folder_id, "Offsite")] == ["Offsite"]

    tokens_before = online.tokens.count("client_credentials")
    online.tokens.advance(3600)  # every token the server holds has expired for Exchange
    (local / "later.ics").write_text(event("later@test", "Later", start="20300605T100000Z",
                                           end="20300605T110000Z"))
    for spoke in ("local", "pf"):
        r = exo_server.ctl("sync", "exo", "--spoke", spoke)
        assert r.code == 0, r.text
    assert [i["subject"] for i in online.ews.user.find(online.folder_id, "Later")] == ["Later"]
    # the expired token was refused and replaced (once per refusal: a fan-out push may meet it too)
    assert tokens_before < online.tokens.count("client_credentials") <= tokens_before + 2
    assert any(v.status == 401 for v in online.exo.verdicts)
    assert online.ews.meeting_messages == []
    _assert_only_bearer_answered(online)


@pytest.mark.parametrize(
    ("setup", "code", "needle"),
    [
        (lambda o: setattr(o.exo, "ews_enabled", False), "ews_disabled", "Set-OrganizationConfig -EWSEnabled $true"),
        (lambda o: o.exo.allowed_app_ids.discard(APP_ID), "ews_app_not_allowed", "EWSAllowedAppIDs"),
        (lambda o: o.exo.disabled_mailboxes.add(SVC), "ews_user_disabled", f"Set-CASMailbox -Identity {SVC}"),
        (lambda o: setattr(o.exo, "retired", True), "ews_retired", "graph spoke"),
    ],
    ids=["ews-disabled", "app-not-allowed", "mailbox-ews-disabled", "retired"],
)
def test_status_explains_each_refusal(exo_server: Server, online: Online, setup, code, needle) -> None:
    hub = f"r-{code.replace('_', '-')}"
    assert exo_server.ctl("hub", "create", hub).code == 0
    r = exo_server.ctl("spoke", "add", hub, "pf", "--kind", "ews-public-folder", *_oauth_flags(online),
                       "--folder", FOLDER, "--disabled", "--no-check", env=ENV)
    assert r.code == 0, r.text
    saved = (online.exo.ews_enabled, set(online.exo.allowed_app_ids or ()), set(online.exo.disabled_mailboxes),
             online.exo.retired)
    setup(online)
    try:
        assert exo_server.ctl("spoke", "enable", hub, "pf").code == 0
        r = exo_server.ctl("sync", hub)
        assert r.code == 1, r.text
    finally:
        online.exo.ews_enabled, allowed, online.exo.disabled_mailboxes, online.exo.retired = saved
        online.exo.allowed_app_ids = allowed
    status = exo_server.ctl("status", hub)
    assert status.code == 0, status.text
    assert "action_required" in status.out and code in status.out, status.out
    assert "needs an administrator" in status.out and needle in status.out
    assert "Envelope" not in status.out and "Traceback" not in status.out
    data = json.loads(exo_server.ctl("status", hub, "--json").out)
    assert data[0]["last_error"]["code"] == code and data[0]["last_error"]["fields"]["advice"]
    exo_server.ctl("spoke", "disable", hub, "pf")


def test_login_stores_the_refresh_token_encrypted(exo_server: Server, online: Online) -> None:
    assert exo_server.ctl("hub", "create", "delegated").code == 0
    r = exo_server.ctl("spoke", "add", "delegated", "pf", "--kind", "ews-public-folder",
                       *_oauth_flags(online, PUBLIC_APP_ID, "oauth-delegated"), "--folder", FOLDER,
                       "--disabled")
    assert r.code == 0, r.text
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRAHUB_")}
    env["CIRAHUB_DATA_DIR"] = str(exo_server.data_dir)
    proc = subprocess.Popen([CTL, "login", "delegated", "pf"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    assert "devicelogin" in first and "enter the code" in first, first
    online.tokens.approve(first.rsplit(" ", 1)[1].strip(), SVC)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, first + out
    assert f"signed in as {SVC}" in out
    shown = exo_server.ctl("spoke", "show", "delegated", "pf")
    assert "secret" in shown.out and "stored" in shown.out
    stored_at_login = _stored_secret(exo_server, "delegated", "pf")
    assert stored_at_login in online.tokens.directory.refresh  # the token login received
    assert exo_server.ctl("spoke", "enable", "delegated", "pf").code == 0
    r = exo_server.ctl("sync", "delegated")
    assert r.code == 0, r.text
    assert any(v.auth == "bearer-delegated" for v in online.exo.verdicts)
    # the identity platform rotated the refresh token when the spoke used it: the new one is
    # stored (encrypted), so the sign-in outlives the one login received
    rotated = _stored_secret(exo_server, "delegated", "pf")
    assert rotated != stored_at_login and rotated in online.tokens.directory.refresh


def _stored_secret(server: Server, hub: str, spoke: str) -> str:
    """The spoke's secret as the database holds it, decrypted with the server's key."""
    import sqlite3

    from cryptography.fernet import Fernet

    key = (server.data_dir / "secret.key").read_bytes().strip()
    with sqlite3.connect(server.data_dir / "cirahub.db") as db:
        (blob,) = db.execute("SELECT s.secret FROM spokes s JOIN hubs h ON h.id = s.hub_id "
                             "WHERE h.name = ? AND s.name = ?", (hub, spoke)).fetchone()
    return Fernet(key).decrypt(blob).decode()


def test_no_secret_token_or_refresh_token_in_logs_answers_or_database(exo_server: Server,
                                                                     online: Online) -> None:
    refresh = list(online.tokens.directory.refresh)
    secrets = [CLIENT_SECRET, *online.tokens.issued_tokens, *refresh]
    assert len(secrets) > 3
    answers = "".join(exo_server.ctl(*args).text for args in (
        ("status", "--json"), ("spoke", "list", "--json"), ("spoke", "show", "exo", "pf", "--json"),
        ("spoke", "show", "delegated", "pf", "--json"), ("runs", "--json")))
    stored = b"".join(p.read_bytes() for p in exo_server.data_dir.rglob("*") if p.is_file())
    log = exo_server.log_text()
    assert "DEBUG" in log  # the server logged verbosely
    for secret in secrets:
        assert secret not in log
        assert secret not in answers
        assert secret.encode() not in stored


def test_spoke_add_pick_walks_the_public_folder_tree(exo_server: Server, online: Online) -> None:
    assert exo_server.ctl("hub", "create", "picked").code == 0
    r = exo_server.ctl("spoke", "add", "picked", "pf", "--kind", "ews-public-folder", *_oauth_flags(online),
                       "--pick", "--disabled", env=ENV, stdin="1\n1\n")
    assert r.code == 0, r.text
    assert "/Calendars" in r.out and "pick (" in r.out
    shown = json.loads(exo_server.ctl("spoke", "show", "picked", "pf", "--json").out)
    assert shown["config"]["ews_public_folder"]["folder"] == FOLDER
    r = exo_server.ctl("spoke", "add", "picked", "none", "--kind", "ews-public-folder", *_oauth_flags(online),
                       "--pick", env=ENV, stdin="q\n")
    assert r.code != 0 and "nothing picked" in r.text


@pytest.mark.parametrize(
    ("client_id", "secret", "code", "needle"),
    [(NO_ROLE_APP_ID, CLIENT_SECRET, "consent_missing", "full_access_as_app"),
     (APP_ID, "wrong-secret-value-0", "sign_in_failed", "AADSTS7000215")],
    ids=["consent-missing", "wrong-secret"],
)
def test_status_explains_sign_in_refusals(exo_server: Server, online: Online, client_id: str,
                                          secret: str, code: str, needle: str) -> None:
    hub = f"s-{code.replace('_', '-')}"
    assert exo_server.ctl("hub", "create", hub).code == 0
    add = ("spoke", "add", hub, "pf", "--kind", "ews-public-folder", *_oauth_flags(online, client_id),
           "--folder", FOLDER)
    r = exo_server.ctl(*add, env={"EXO_SECRET": secret})
    assert r.code != 0 and needle in r.text and secret not in r.text  # refused at once, with advice
    r = exo_server.ctl(*add, "--no-check", env={"EXO_SECRET": secret})
    assert r.code == 0, r.text
    assert exo_server.ctl("sync", hub).code == 1
    status = exo_server.ctl("status", hub)
    assert "action_required" in status.out and code in status.out and needle in status.out, status.out
    assert secret not in status.out and secret not in exo_server.log_text()
    exo_server.ctl("spoke", "disable", hub, "pf")


def test_public_folder_vdir_and_graph_spoke_converge_through_the_cli(
        exo_server: Server, online: Online, tmp_path: Path) -> None:
    """Issue 11's acceptance through the real CLI and server: a public folder attached with
    ``--auth oauth-app``, a vdir folder and a Graph shared-mailbox calendar (attached with
    ``apply -f``: its Graph endpoint is a topology key) converge both ways; nobody is invited
    and no request without a valid bearer token is answered, across a token expiry."""
    from tests.graph_emulator import GraphEmulator

    tenant = online.tokens.directory.find_tenant(TENANT)
    assert tenant is not None
    tenant.apps[APP_ID].roles["https://graph.microsoft.com"] = {"Calendars.ReadWrite"}
    shared = "moving-team@contoso.onmicrosoft.com"
    folder_id = online.ews.add_public_folder("/Calendars/Moving")
    online.ews.user.create(folder_id, subject="Board meeting",
                           start=datetime(2027, 3, 1, 9, tzinfo=UTC),
                           end=datetime(2027, 3, 1, 10, tzinfo=UTC),
                           required=["bob@contoso.example"])
    # inside the graph spoke's read window (365 days back, 730 ahead of today)
    local = tmp_path / "local"
    local.mkdir()
    (local / "retreat.ics").write_text(event("retreat@test", "Retreat", start="20270302T080000Z",
                                             end="20270302T170000Z"))
    with GraphEmulator(online.tokens) as graph:
        graph.add_mailbox(shared)
        assert exo_server.ctl("hub", "create", "moving").code == 0
        r = exo_server.ctl("spoke", "add", "moving", "pf", "--kind", "ews-public-folder",
                           *_oauth_flags(online), "--folder", "/Calendars/Moving", env=ENV)
        assert r.code == 0, r.text
        topology = tmp_path / "topology.yaml"
        topology.write_text(
            "hubs:\n"
            "  - name: moving\n"
            "    spokes:\n"
            f"      - {{name: local, kind: vdir, path: {local}}}\n"
            "      - name: shared\n"
            "        kind: graph\n"
            f"        tenant: {TENANT}\n"
            f"        client_id: {APP_ID}\n"
            f"        mailbox: {shared}\n"
            f"        authority: {online.tokens.authority}\n"
            f"        authority_ca_file: {online.tokens.ca_file}\n"
            f"        graph_url: {graph.url}\n"
            "        client_secret_env: EXO_SECRET\n")
        r = exo_server.ctl("apply", "-f", str(topology), env=ENV)
        assert r.code == 0, r.text
        r = exo_server.ctl("sync", "moving")
        assert r.code == 0, r.text

        def graph_subjects() -> list[str]:
            with graph.store.lock:
                return sorted(e.data.get("subject", "") for e in graph.store.events.values())

        assert graph_subjects() == ["Board meeting", "Retreat"]
        assert sorted(summaries(local).values()) == ["Board meeting", "Retreat"]
        assert [i["subject"] for i in online.ews.user.find(folder_id, "Retreat")] == ["Retreat"]

        # an edit in the shared mailbox, after every token expired, reaches the other two
        online.tokens.advance(3600)
        with graph.store.lock:
            [board] = [e for e in graph.store.events.values()
                       if e.data.get("subject") == "Board meeting"]
            graph.store.update(board, None, {"subject": "Board meeting (moved)"})
        r = exo_server.ctl("sync", "moving")
        assert r.code == 0, r.text
        assert sorted(summaries(local).values()) == ["Board meeting (moved)", "Retreat"], (
            r.text + exo_server.ctl("runs", "moving").text)
        assert len(online.ews.user.find(folder_id, "Board meeting (moved)")) == 1
        assert graph_subjects() == ["Board meeting (moved)", "Retreat"]
        assert graph.attendee_writes == 0
        # the expired token was refused (401, nothing answered) and replaced: once per
        # run that met it (the sync's own, a fan-out push, a scheduled poll)
        assert 1 <= graph.unauthorized <= 3
    assert online.ews.meeting_messages == []
    _assert_only_bearer_answered(online)
