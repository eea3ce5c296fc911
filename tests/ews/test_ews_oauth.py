"""EWS spokes signing in with OAuth 2.0 against the emulators' Exchange Online (unmodified
exchangelib and msal), and Exchange Online's refusals as typed errors with advice."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.connectors import oauth
from cirahub.connectors.registry import open_connector, validate_config
from cirahub.core.errors import (
    AuthError,
    ConsentMissing,
    EwsAppNotAllowed,
    EwsDisabled,
    EwsRetired,
    EwsUserDisabled,
    InvalidInput,
    SignInFailed,
)
from cirahub.core.item import Item
from tests.contract import samples

from .online import (
    APP_ID,
    CERT_APP_ID,
    CLIENT_SECRET,
    NO_ROLE_APP_ID,
    PUBLIC_APP_ID,
    SVC,
    TENANT,
    Online,
    exchange_online,
)

KIND = "ews-public-folder"


@pytest.fixture
def online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Online]:
    with exchange_online(tmp_path) as o:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(o.bundle))
        yield o


def _item(uid: str = "oauth-1@test", summary: str = "Standup") -> Item:
    return samples.simple(uid, summary)


def _answered_only_with_tokens(online: Online) -> None:
    answered = [v for v in online.exo.verdicts if v.user is not None]
    assert answered, "nothing was answered"
    assert all(v.auth.startswith("bearer-") for v in answered)
    assert len(online.ews.requests) == len(answered)  # every answered request was admitted


def test_oauth_app_with_secret_reads_and_writes_as_the_service_user(online: Online) -> None:
    conn = open_connector(KIND, online.config(), CLIENT_SECRET)
    try:
        created = conn.create(_item(), "hub-1")
        delta = conn.delta(None, {})
        assert [r.remote_id for r in delta.changed] == [created.remote_id]
    finally:
        conn.close()
    _answered_only_with_tokens(online)
    assert {v.auth for v in online.exo.verdicts if v.user} == {"bearer-app"}
    assert {r.mailbox for r in online.ews.requests} == {SVC}
    assert online.tokens.count("client_credentials") == 1  # one token for the whole run


def test_oauth_app_with_certificate(online: Online) -> None:
    conn = open_connector(KIND, online.config(client_id=CERT_APP_ID, certificate=str(online.cert.pem_file)),
                          None)
    try:
        conn.create(_item(), "hub-1")
        assert len(conn.delta(None, {}).changed) == 1
    finally:
        conn.close()
    _answered_only_with_tokens(online)


def test_token_expiry_mid_run_is_survived(online: Online) -> None:
    conn = open_connector(KIND, online.config(), CLIENT_SECRET)
    try:
        first = conn.create(_item("a@test"), "hub-a")
        online.tokens.advance(3600)  # Exchange's clock: every token issued so far has expired
        second = conn.create(_item("b@test", "Review"), "hub-b")
        listed = {r.remote_id for r in conn.delta(None, {}).changed}
    finally:
        conn.close()
    assert listed == {first.remote_id, second.remote_id}
    refused = [v for v in online.exo.verdicts if v.status == 401]
    assert len(refused) == 1 and online.tokens.count("client_credentials") == 2
    _answered_only_with_tokens(online)


def test_basic_auth_is_refused_online_with_advice(online: Online) -> None:
    conn = open_connector(KIND, online.config(auth="basic"), "password")
    with pytest.raises(AuthError) as err:
        conn.delta(None, {})
    conn.close()
    assert "--auth oauth-app" in str(err.value)
    assert not online.ews.requests  # nothing was answered


def test_wrong_client_secret_is_sign_in_failed(online: Online) -> None:
    conn = open_connector(KIND, online.config(), "wrong-" + CLIENT_SECRET)
    with pytest.raises(SignInFailed) as err:
        conn.delta(None, {})
    conn.close()
    assert err.value.fields["aadsts"] == 7000215 and CLIENT_SECRET not in str(err.value.to_dict())
    assert not online.ews.requests


@pytest.mark.parametrize(
    ("setup", "error", "needle"),
    [
        (lambda o: setattr(o.exo, "ews_enabled", False), EwsDisabled, "Set-OrganizationConfig -EWSEnabled $true"),
        (lambda o: o.exo.allowed_app_ids.discard(APP_ID), EwsAppNotAllowed, f'-EWSAllowedAppIDs "<ids already listed>,{APP_ID}"'),
        (lambda o: o.exo.disabled_mailboxes.add(SVC), EwsUserDisabled, f"Set-CASMailbox -Identity {SVC}"),
        (lambda o: setattr(o.exo, "retired", True), EwsRetired, "graph spoke"),
    ],
    ids=["ews-disabled", "app-not-allowed", "mailbox-ews-disabled", "retired"],
)
def test_ews_retirement_refusals_are_typed_with_advice(online: Online, setup, error, needle) -> None:
    setup(online)
    conn = open_connector(KIND, online.config(), CLIENT_SECRET)
    with pytest.raises(error) as err:
        conn.delta(None, {})
    conn.close()
    assert needle in str(err.value), str(err.value)
    assert err.value.fields["advice"] and "Envelope" not in str(err.value)
    assert not online.ews.requests


def test_app_without_consent_is_consent_missing(online: Online) -> None:
    conn = open_connector(KIND, online.config(client_id=NO_ROLE_APP_ID), CLIENT_SECRET)
    with pytest.raises(ConsentMissing) as err:
        conn.delta(None, {})
    conn.close()
    assert "full_access_as_app" in str(err.value) and NO_ROLE_APP_ID in str(err.value)


def test_oauth_delegated_with_device_code_refresh_token(online: Online) -> None:
    cfg = online.config(auth="oauth-delegated", client_id=PUBLIC_APP_ID)
    settings = oauth.OAuthSettings(TENANT, PUBLIC_APP_ID, oauth.EWS_DELEGATED_SCOPES, delegated=True,
                                   authority=online.tokens.authority, ca_file=online.tokens.ca_file)
    login = oauth.device_code_login(settings, lambda c: online.tokens.approve(c.user_code, SVC))
    conn = open_connector(KIND, cfg, login.refresh_token)
    try:
        conn.create(_item(), "hub-1")
    finally:
        conn.close()
    assert {v.auth for v in online.exo.verdicts if v.user} == {"bearer-delegated"}


def test_config_validation_names_the_key(online: Online) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_config(KIND, online.config(auth="kerberos"))
    assert err.value.fields["key"] == "auth_type"
    with pytest.raises(InvalidInput) as err:
        validate_config(KIND, {**online.config(), "tenant": ""})
    assert err.value.fields["key"] == "tenant"
    with pytest.raises(InvalidInput) as err:
        validate_config(KIND, {**online.config(auth="basic"), "client_id": APP_ID})
    assert err.value.fields["key"] == "client_id"


def test_regression_bearer_token_not_in_library_debug_logs(online: Online, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    conn = open_connector(KIND, online.config(), CLIENT_SECRET)
    try:
        conn.create(_item(), "hub-1")
        online.tokens.advance(3600)
        conn.delta(None, {})
    finally:
        conn.close()
    issued = online.tokens.issued_tokens
    assert len(issued) == 2
    assert "Bearer <redacted>" in caplog.text  # the libraries did log their headers
    for secret in [CLIENT_SECRET, *issued]:
        assert secret not in caplog.text


def test_regression_refused_token_replaced_when_exchangelib_shares_the_protocol(online: Online) -> None:
    """exchangelib keeps one Protocol per endpoint and equal credentials: a second connector
    of the same app used the first one's credentials object, so dropping the refused token
    through its own left the refused one in place (AuthError after the retry)."""
    first = open_connector(KIND, online.config(), CLIENT_SECRET)
    first.create(_item("one@test"), "hub-one")
    first.close()
    online.tokens.advance(3600)
    second = open_connector(KIND, online.config(), CLIENT_SECRET)
    try:
        assert len(second.delta(None, {}).changed) == 1
    finally:
        second.close()


def test_exchange_online_after_the_shutdown_date_is_ews_retired() -> None:
    """Past 2027-04-01 any 401/403 from Exchange Online's own host means the retirement,
    whatever the answer says (the wire text after the shutdown is not known yet)."""
    import datetime as dt

    import requests

    from cirahub.connectors.ews import auth

    answer = requests.Response()
    answer.status_code, answer.url = 403, "https://outlook.office365.com/EWS/Exchange.asmx"
    after = auth.RefusalContext("oauth-app", SVC, APP_ID, today=lambda: dt.date(2027, 4, 2))
    before = auth.RefusalContext("oauth-app", SVC, APP_ID, today=lambda: dt.date(2027, 3, 31))
    assert isinstance(auth.refusal(answer, after), EwsRetired)
    assert not isinstance(auth.refusal(answer, before), EwsRetired)
    answer.url = "https://mail.example.com/EWS/Exchange.asmx"  # Exchange Server keeps EWS
    assert not isinstance(auth.refusal(answer, after), EwsRetired)
