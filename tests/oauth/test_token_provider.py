"""connectors/oauth.py against the token emulator, through unmodified msal over HTTPS."""

from __future__ import annotations

import logging
import threading

import jwt
import pytest

from cirahub.connectors import oauth
from cirahub.core.errors import AuthError, ConsentMissing, SignInFailed
from tests.oauth_emulator import make_app_certificate

from .conftest import APP_ID, CERT_APP_ID, EXO, PUBLIC_APP_ID, SECRET, Identity, settings


def _claims(token: oauth.AccessToken) -> dict[str, object]:
    return jwt.decode(token.value, options={"verify_signature": False})


def test_app_secret_token_has_audience_roles_and_is_cached(identity: Identity) -> None:
    provider = oauth.MsalTokenProvider(settings(identity), SECRET)
    first = provider.token()
    claims = identity.emu.verify(first.value, EXO)
    assert claims["roles"] == ["full_access_as_app"] and claims["appid"] == APP_ID
    assert claims["tid"] == identity.tenant_id
    # msal found the endpoints itself, from the OpenID configuration of our login host
    paths = [r.path for r in identity.emu.requests]
    assert paths[0] == f"/{identity.domain}/v2.0/.well-known/openid-configuration"
    # a second provider for the same app (another spoke) shares the process cache
    again = oauth.MsalTokenProvider(settings(identity), SECRET).token()
    assert again == first and identity.emu.count("client_credentials") == 1


def test_wrong_secret_is_sign_in_failed_with_aadsts_and_advice(identity: Identity) -> None:
    wrong = "not-the-secret-" + SECRET
    with pytest.raises(SignInFailed) as err:
        oauth.MsalTokenProvider(settings(identity), wrong).token()
    e = err.value
    assert e.fields["aadsts"] == 7000215 and e.fields["error"] == "invalid_client"
    assert "Certificates & secrets" in e.fields["advice"] and APP_ID in e.fields["advice"]
    assert wrong not in str(e) and wrong not in repr(e.to_dict())
    # the right secret still works afterwards (the wrong one's failure is not cached for it)
    assert oauth.MsalTokenProvider(settings(identity), SECRET).token().value


def test_unknown_tenant_and_unknown_app(identity: Identity) -> None:
    with pytest.raises(SignInFailed) as err:
        oauth.MsalTokenProvider(settings(identity, tenant="nope.onmicrosoft.com"), SECRET).token()
    assert err.value.fields["aadsts"] == 90002
    with pytest.raises(SignInFailed) as err:
        oauth.MsalTokenProvider(settings(identity, client_id="99999999-0000-0000-0000-000000000000"),
                                SECRET).token()
    assert err.value.fields["aadsts"] == 700016


def test_certificate_assertion_is_verified(identity: Identity, tmp_path) -> None:
    path = str(identity.cert.pem_file)
    token = oauth.MsalTokenProvider(settings(identity, CERT_APP_ID, certificate_file=path), None).token()
    assert identity.emu.verify(token.value, EXO)["appid"] == CERT_APP_ID
    other = make_app_certificate(tmp_path, "unregistered")
    with pytest.raises(SignInFailed) as err:
        oauth.MsalTokenProvider(settings(identity, CERT_APP_ID, certificate_file=str(other.pem_file)),
                                None).token()
    assert err.value.fields["aadsts"] == 700027
    assert "PRIVATE KEY" not in str(err.value.to_dict())


def test_certificate_with_passphrase(identity: Identity, tmp_path) -> None:
    cert = make_app_certificate(tmp_path, "locked", passphrase="pass-phrase-1")
    identity.emu.directory.tenants[identity.tenant_id].apps[CERT_APP_ID].certificates.append(cert.certificate)
    token = oauth.MsalTokenProvider(settings(identity, CERT_APP_ID, certificate_file=str(cert.pem_file)),
                                    "pass-phrase-1").token()
    assert identity.emu.verify(token.value, EXO)


def test_token_renewed_before_expiry(identity: Identity) -> None:
    now = [1_000_000.0]
    provider = oauth.MsalTokenProvider(settings(identity), SECRET, clock=lambda: now[0])
    first = provider.token()
    now[0] += 3600 - 301  # more than 5 minutes left: the cached token
    assert provider.token() == first and identity.emu.count("client_credentials") == 1
    now[0] += 2  # less than 5 minutes left: a new token before the old one expires
    second = provider.token()
    assert second != first and identity.emu.count("client_credentials") == 2


def test_invalidate_then_new_token_and_call_with_token_retries_once(identity: Identity) -> None:
    provider = oauth.MsalTokenProvider(settings(identity), SECRET)
    seen: list[str] = []

    def call(token: oauth.AccessToken) -> str:
        seen.append(token.value)
        if len(seen) == 1:
            raise oauth.TokenRefused()
        return "ok"

    assert oauth.call_with_token(provider, call) == "ok"
    assert len(seen) == 2 and seen[0] != seen[1]
    assert identity.emu.count("client_credentials") == 2

    def always(token: oauth.AccessToken) -> str:
        raise oauth.TokenRefused()

    with pytest.raises(AuthError):
        oauth.call_with_token(provider, always)


def test_device_code_login_then_refresh_token(identity: Identity) -> None:
    shown: list[oauth.DeviceCode] = []

    def on_code(code: oauth.DeviceCode) -> None:
        shown.append(code)
        identity.emu.approve(code.user_code, "admin@contoso.onmicrosoft.com")

    s = settings(identity, PUBLIC_APP_ID, scopes=oauth.EWS_DELEGATED_SCOPES, delegated=True)
    login = oauth.device_code_login(s, on_code)
    assert shown and shown[0].verification_uri.endswith("/devicelogin") and shown[0].user_code in shown[0].message
    assert login.username == "admin@contoso.onmicrosoft.com" and login.refresh_token not in repr(login)
    rotated: list[str] = []
    provider = oauth.MsalTokenProvider(s, login.refresh_token, on_refresh_token=rotated.append)
    claims = identity.emu.verify(provider.token().value, EXO)
    assert claims["scp"] == "EWS.AccessAsUser.All" and claims["upn"] == "admin@contoso.onmicrosoft.com"
    assert rotated and rotated[0] != login.refresh_token  # the endpoint rotates refresh tokens
    identity.emu.directory.revoke_refresh_tokens()
    oauth.forget_cached_tokens()
    with pytest.raises(SignInFailed) as err:
        oauth.MsalTokenProvider(s, login.refresh_token).token()
    assert err.value.fields["aadsts"] == 70000 and "cirahubctl login" in err.value.fields["advice"]


def test_device_code_declined_and_missing_consent(identity: Identity) -> None:
    s = settings(identity, PUBLIC_APP_ID, scopes=oauth.EWS_DELEGATED_SCOPES, delegated=True)
    with pytest.raises(SignInFailed) as err:
        oauth.device_code_login(s, lambda c: identity.emu.approve(c.user_code, "a@b.c", decline=True))
    assert err.value.fields["error"] == "authorization_declined"
    no_consent = settings(identity, APP_ID, scopes=oauth.EWS_DELEGATED_SCOPES, delegated=True)
    with pytest.raises(ConsentMissing) as err2:
        oauth.device_code_login(no_consent, lambda c: identity.emu.approve(c.user_code, "a@b.c"))
    assert err2.value.fields["aadsts"] == 65001 and APP_ID in str(err2.value)


def test_delegated_without_refresh_token_says_login() -> None:
    s = oauth.OAuthSettings("t", "c", oauth.EWS_DELEGATED_SCOPES, delegated=True)
    with pytest.raises(SignInFailed, match="cirahubctl login"):
        oauth.MsalTokenProvider(s, None)


def test_no_secret_or_token_in_logs(identity: Identity, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    provider = oauth.MsalTokenProvider(settings(identity), SECRET)
    token = provider.token()
    provider.invalidate(token)
    threads = [threading.Thread(target=provider.token) for _ in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    text = caplog.text
    assert SECRET not in text and token.value not in text
    assert SECRET not in repr(provider) and token.value not in repr(token)


def test_settings_validation_names_the_key() -> None:
    from cirahub.core.errors import InvalidInput

    with pytest.raises(InvalidInput) as err:
        oauth.validate_settings({"tenant": "x", "client_id": "y", "authority": "http://a"}, delegated=False)
    assert err.value.fields["key"] == "authority"
    with pytest.raises(InvalidInput) as err:
        oauth.validate_settings({"client_id": "y"}, delegated=False)
    assert err.value.fields["key"] == "tenant"
    with pytest.raises(InvalidInput) as err:
        oauth.validate_settings({"tenant": "x", "client_id": "y", "certificate": "rel.pem"}, delegated=False)
    assert err.value.fields["key"] == "certificate"


def test_regression_authority_ca_file_beats_requests_ca_bundle(identity: Identity,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """requests lets $REQUESTS_CA_BUNDLE override a session's ``verify``: with the system
    bundle in the environment, msal refused the login host's private CA (SSLError)."""
    import certifi

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
    assert oauth.MsalTokenProvider(settings(identity), SECRET).token().value


def test_regression_refused_sign_in_asks_no_other_host(identity: Identity) -> None:
    """After a refusal msal looked up the authority's aliases at login.microsoftonline.com
    (instance discovery), which failed offline as a TransientError instead of the AADSTS
    refusal; instance discovery is off for non-Microsoft login hosts."""
    with pytest.raises(SignInFailed):
        oauth.MsalTokenProvider(settings(identity), "wrong").token()
    assert all(r.path != "/common/discovery/instance" for r in identity.emu.requests)
