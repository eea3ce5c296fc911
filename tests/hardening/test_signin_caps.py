"""Issue 13 item 5: sign-in answers are capped too — the OAuth token endpoint's answers (msal's
HTTP client) and 401 challenges, which auth handlers such as requests_ntlm read themselves
before our code sees the answer. A loopback server sends bodies that never end; the bytes
read are counted (the bounded reader's meter), not timed."""

from __future__ import annotations

import pytest
import requests
from exchangelib.protocol import BaseProtocol
from requests_ntlm import HttpNtlmAuth

from cirahub.connectors import oauth
from cirahub.connectors.bounded import CHUNK, METER, SMALL_ANSWER_BYTES
from cirahub.connectors.ews.client import install_bounded
from cirahub.core.errors import ResponseTooLarge

from .servers import HostileServer


def test_regression_oauth_login_answers_are_capped(hostile: HostileServer) -> None:
    session = oauth._LoginSession(None, 10.0)  # the HTTP client msal signs in with
    with pytest.raises(ResponseTooLarge) as err:
        session.post(f"{hostile.base}/endless/oauth2/v2.0/token?secret=x", data={"a": "b"})
    assert METER.last <= SMALL_ANSWER_BYTES + CHUNK
    assert str(SMALL_ANSWER_BYTES) in err.value.message and "secret" not in err.value.message


def test_regression_ntlm_challenge_body_is_capped(hostile: HostileServer) -> None:
    install_bounded()  # what every EWS connector installs into exchangelib
    session = requests.Session()
    session.mount("http://", BaseProtocol.HTTP_ADAPTER_CLS())
    session.auth = HttpNtlmAuth("alice@example.org", "pw")
    with pytest.raises(ResponseTooLarge):
        session.get(f"{hostile.base}/challenge/EWS/Exchange.asmx", timeout=30)
    assert METER.last <= SMALL_ANSWER_BYTES + CHUNK
    assert hostile.sent < 64 * 1024 * 1024  # the server was cut off, not read to the end
