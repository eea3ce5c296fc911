"""Issue 13 item 2: credentials inside URLs.

Userinfo (``user:pw@``) is refused in every URL field of every kind, naming the field; a
feed's query string (often its token) is never repeated in errors (and so in runs, status and
events, which record the errors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cirahub.connectors.caldav.http import RetryPolicy
from cirahub.connectors.icsurl import IcsUrlConnector, parse_config
from cirahub.connectors.registry import discover, open_connector, validate_config
from cirahub.core.errors import CirahubError, InvalidInput
from tests.control.conftest import Server

from .servers import HostileServer

SECRET = "pw-s3cr3t"
EWS = {"username": "alice@example.org", "folder": "/Team", "auth_type": "basic"}
CASES = [
    ("ews-public-folder", {**EWS, "service_endpoint":
                           f"https://alice:{SECRET}@mail.example.org/EWS/Exchange.asmx"},
     "service_endpoint", "server"),
    ("ews-public-folder", {**EWS, "service_endpoint": f"alice:{SECRET}@mail.example.org"},
     "service_endpoint", "server"),
    ("ews-public-folder", {**EWS, "service_endpoint": "https://mail.example.org/EWS/Exchange.asmx",
                           "autodiscover_url": f"https://a:{SECRET}@ad.example.org/x.svc"},
     "autodiscover_url", "autodiscover_url"),
    ("ews-public-folder", {**EWS, "service_endpoint": "https://mail.example.org/EWS/Exchange.asmx",
                           "authority": f"https://a:{SECRET}@login.example.org"},
     "authority", "authority"),
    ("ews-mailbox", {"username": "alice@example.org", "service_endpoint":
                     f"https://alice:{SECRET}@mail.example.org/EWS/Exchange.asmx"},
     "service_endpoint", "server"),
    ("graph", {"tenant": "t.example.org", "client_id": "c", "mailbox": "a@example.org",
               "graph_url": f"https://u:{SECRET}@graph.example.org/v1.0"}, "graph_url",
     "graph_url"),
    ("graph", {"tenant": "t.example.org", "client_id": "c", "mailbox": "a@example.org",
               "authority": f"https://u:{SECRET}@login.example.org"}, "authority", "authority"),
    ("caldav", {"url": f"https://u:{SECRET}@dav.example.org/cal/"}, "url", "url"),
    ("ics-url", {"url": f"https://u:{SECRET}@feeds.example.org/a.ics"}, "url", "url"),
]


@pytest.mark.parametrize(("kind", "config", "key", "name"), CASES,
                         ids=[f"{c[0]}-{c[2]}-{i}" for i, c in enumerate(CASES)])
def test_regression_userinfo_refused_in_every_url_field(kind, config, key, name):
    for call in (lambda: validate_config(kind, config), lambda: open_connector(kind, config, "s")):
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.fields["key"] == key and err.value.fields["field"] == name
        assert repr(name) in err.value.message and "credentials" in err.value.message
        assert SECRET not in err.value.message and SECRET not in str(err.value.fields)
    if kind != "ics-url":
        with pytest.raises(InvalidInput):
            discover(kind, config, "s")


def test_an_e_mail_address_is_not_userinfo():
    out = validate_config("ews-mailbox", {"username": "alice@example.org",
                                          "service_endpoint": "https://mail.example.org/EWS/Exchange.asmx"})
    assert out["username"] == "alice@example.org"


def _error(conn: IcsUrlConnector) -> CirahubError:
    with pytest.raises(CirahubError) as err:
        conn.delta(None, {"a@feed": "v"})
    return err.value


def test_regression_feed_query_token_not_in_errors(feed: HostileServer):
    url = f"{feed.base}/team.ics?token=tok-{SECRET}"
    conn = IcsUrlConnector(parse_config({"url": url}), None,
                           retry=RetryPolicy(attempts=1, base_delay=0.0))
    for status, body in [(404, b""), (403, b""), (500, b""), (200, b"not a calendar")]:
        feed.status, feed.body = status, body
        err = _error(conn)
        shown = str(err.to_dict())
        assert SECRET not in shown and "token" not in shown, shown
        assert f"{feed.base}/team.ics?…" in shown or status == 500
    conn.close()


def test_regression_ews_server_with_credentials_refused_by_the_cli(server: Server,
                                                                   tmp_path: Path):
    assert server.ctl("hub", "create", "creds").code == 0
    r = server.ctl("spoke", "add", "creds", "pf", "--kind", "ews-public-folder", "--server",
                   f"https://alice:{SECRET}@mail.example.org/EWS/Exchange.asmx",
                   "--username", "alice@example.org", "--folder", "/Team", "--password-env",
                   "PW", env={"PW": "x"})
    assert r.code == 2, r.text
    assert "'server'" in r.err and "credentials" in r.err
    assert SECRET not in r.text and SECRET not in server.log_text()
    listed = server.ctl("spoke", "list", "creds", "--json")
    assert listed.code == 0 and "pf" not in listed.out and SECRET not in listed.out


def test_regression_feed_query_redacted_in_spoke_show(server: Server, feed: HostileServer):
    from cirahub.core.ical import serialize_calendar
    from tests.sync.harness import event

    feed.status, feed.body = 200, serialize_calendar([event("q@feed", "Q")]).encode()
    assert server.ctl("hub", "create", "tokens").code == 0
    url = f"{feed.base}/team.ics?token=tok-{SECRET}"
    added = server.ctl("spoke", "add", "tokens", "feed", "--kind", "ics-url", "--url", url)
    assert added.code == 0, added.text
    shown = server.ctl("spoke", "show", "tokens", "feed", "--json")
    assert shown.code == 0, shown.text
    assert f"{feed.base}/team.ics?…" in str(json.loads(shown.out)), shown.out
    listed = server.ctl("spoke", "list", "tokens", "--json")
    for text in (added.text, shown.text, listed.text, server.log_text()):
        assert SECRET not in text
    assert any(p.endswith(f"?token=tok-{SECRET}") for p in feed.paths)  # the feed got it (check)
