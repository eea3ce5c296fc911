"""Issue 13 item 5: every HTTP answer (feed, CalDAV, Graph, EWS) is streamed and capped.

A loopback server sends a body that never ends; each client must stop within the cap plus one
chunk (counted in bytes read, never timed) and raise ResponseTooLarge naming the redacted URL
and the limit."""

from __future__ import annotations

import time

import pytest
import requests
from exchangelib.protocol import BaseProtocol

from cirahub.connectors import bounded
from cirahub.connectors.caldav.http import HttpClient, RetryPolicy
from cirahub.connectors.ews.client import install_bounded
from cirahub.connectors.graph.http import GraphHttp, Request
from cirahub.connectors.icsurl import IcsUrlConnector, parse_config
from cirahub.connectors.oauth import AccessToken
from cirahub.core.errors import ResponseTooLarge

from .servers import HostileServer

CAP = 1024 * 1024
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_back_off=0.1)


@pytest.fixture(autouse=True)
def small_cap(monkeypatch):
    monkeypatch.setenv("CIRAHUB_MAX_RESPONSE_BYTES", str(CAP))


def _check(err: ResponseTooLarge, url_shown: str) -> None:
    read = err.fields["bytes_read"]
    assert CAP < read <= CAP + bounded.CHUNK
    assert err.fields["limit"] == CAP
    assert url_shown in err.message and str(CAP) in err.message
    assert "secret-token" not in err.message and "secret-token" not in str(err.fields)


def test_regression_feed_body_is_capped(hostile: HostileServer):
    url = f"{hostile.base}/endless.ics?token=secret-token"
    conn = IcsUrlConnector(parse_config({"url": url}), None, retry=FAST)
    before = bounded.METER.total
    with pytest.raises(ResponseTooLarge) as err:
        # links known: a failing feed must raise, never return a delta that deletes them
        conn.delta(None, {"a@feed": "v1", "b@feed": "v2"})
    conn.close()
    _check(err.value, f"{hostile.base}/endless.ics?…")
    # one attempt only: a too-large answer is not retried
    assert CAP < bounded.METER.total - before <= CAP + bounded.CHUNK
    assert conn.http.request_count == 1


def test_regression_caldav_answer_is_capped(hostile: HostileServer):
    client = HttpClient(username="u", password="pw", retry=FAST)
    with pytest.raises(ResponseTooLarge) as err:
        client.request("PROPFIND", f"{hostile.base}/endless/cal/", data="<x/>", what="PROPFIND")
    client.close()
    _check(err.value, f"{hostile.base}/endless/cal/")


def test_cap_given_per_client_wins_over_the_default(hostile: HostileServer):
    client = HttpClient(username=None, password=None, retry=FAST, max_response_bytes=200_000)
    with pytest.raises(ResponseTooLarge) as err:
        client.request("GET", f"{hostile.base}/endless")
    client.close()
    assert 200_000 < err.value.fields["bytes_read"] <= 200_000 + bounded.CHUNK
    hostile.body = b"small"
    ok = HttpClient(username=None, password=None, retry=FAST)
    assert ok.request("GET", f"{hostile.base}/small").content == b"small"
    ok.close()


class _Tokens:
    def token(self) -> AccessToken:
        return AccessToken("tok", time.time() + 3600)

    def invalidate(self, token: AccessToken) -> None:
        pass


def test_regression_graph_answer_is_capped(hostile: HostileServer):
    hostile.content_type = "application/json"
    http = GraphHttp(hostile.base, _Tokens(), "cap@example.org", max_retry_seconds=0.5,
                     sleep=lambda s: None)
    with pytest.raises(ResponseTooLarge) as err:
        http.send(Request("GET", "/endless/me/events"))
    http.close()
    _check(err.value, f"{hostile.base}/endless/me/events")


def test_regression_ews_answer_is_capped(hostile: HostileServer):
    """exchangelib's sessions are built with ``BaseProtocol.HTTP_ADAPTER_CLS``; after
    install_bounded that adapter reads every answer within the cap."""
    install_bounded()
    session = requests.Session()
    session.mount("http://", BaseProtocol.HTTP_ADAPTER_CLS())
    with pytest.raises(ResponseTooLarge) as err:
        session.post(f"{hostile.base}/endless/EWS/Exchange.asmx", data=b"<soap/>")
    session.close()
    _check(err.value, f"{hostile.base}/endless/EWS/Exchange.asmx")
