"""How an EWS spoke signs in, and what Exchange's refusals mean.

Auth modes (config ``auth_type``, flag ``--auth``): ``basic`` / ``ntlm`` for Exchange Server
on-premises (the spoke secret is the password); ``oauth-app`` (client credentials; the secret
is the client secret, or the certificate key's passphrase with ``certificate``) and
``oauth-delegated`` (the secret is the refresh token ``cirahubctl login`` stored) for Exchange
Online. App-only access acts on ``username``'s behalf (ExchangeImpersonation) as Exchange
Online requires.

exchangelib gets its bearer tokens from :class:`BearerCredentials`, fed by a
:class:`~cirahub.connectors.oauth.TokenProvider`: the token it hands out is marked expired a
little before it really is, so exchangelib renews its session with a fresh token in time.

:class:`ExchangePolicy` reads every 401/403 before exchangelib does and raises the project's
error with advice instead: a refused bearer token (:class:`TokenRefused`, the caller
invalidates it and retries once), basic auth refused by Exchange Online, missing consent, EWS
disabled for the organization or the mailbox, the app missing from ``EWSAllowedAppIDs``, EWS
retired (Exchange Online, from 2027-04-01).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from exchangelib import Credentials, FailFast
from exchangelib.credentials import BaseCredentials, OAuth2Credentials
from exchangelib.transport import BASIC, NOAUTH, NTLM, OAUTH2
from oauthlib.oauth2 import OAuth2Token

from cirahub.connectors import oauth
from cirahub.core.errors import (
    AdminActionRequired,
    AuthError,
    ConsentMissing,
    EwsAppNotAllowed,
    EwsDisabled,
    EwsRetired,
    EwsUserDisabled,
)

#: Exchange Online stops serving EWS for good on this day
EWS_SHUTDOWN = dt.date(2027, 4, 1)
#: config ``auth_type`` values; ``noauth`` is for tests only
AUTH_TYPES = ("basic", "ntlm", "oauth-app", "oauth-delegated", "noauth")
_LEGACY = {"basic": BASIC, "ntlm": NTLM, "noauth": NOAUTH}
#: hand a token to exchangelib as expired this long before it is
_EARLY = 120.0


class TokenRefused(AuthError):
    """Exchange answered 401 to a bearer token (expired early, revoked): get a fresh one and
    retry once."""

    code = "auth_failed"


class BearerCredentials(OAuth2Credentials):
    """exchangelib OAuth2 credentials whose token always comes from ``provider``.

    exchangelib reads ``access_token`` when it opens a session, and resets it when it
    closes one; both go to the provider, which caches and renews. ``client_secret`` stays
    None so exchangelib never tries to fetch or refresh a token itself."""

    def __init__(self, provider: oauth.TokenProvider, client_id: str, tenant_id: str) -> None:
        self._provider = provider
        self.current: oauth.AccessToken | None = None
        super().__init__(client_id=client_id, client_secret=None, tenant_id=tenant_id)

    @property  # type: ignore[override]
    def access_token(self) -> OAuth2Token:
        token = self._provider.token()
        self.current = token
        return OAuth2Token({"access_token": token.value, "token_type": "Bearer",
                            "expires_at": token.expires_at - min(_EARLY, token.lifetime / 4)})

    @access_token.setter
    def access_token(self, value: Any) -> None:
        return None  # the provider owns the tokens

    def invalidate(self) -> None:
        if self.current is not None:
            self._provider.invalidate(self.current)
            self.current = None

    def __repr__(self) -> str:
        return f"BearerCredentials({self.client_id!r}, <token hidden>)"

    # exchangelib keeps one Protocol (session pool) per endpoint and credentials: spokes
    # signing in with the same app and secret share one, as they share its token
    def _identity(self) -> tuple[Any, ...]:
        return (self.client_id, self.tenant_id, getattr(self._provider, "cache_key", id(self._provider)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, BearerCredentials) and self._identity() == other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())


@dataclass(frozen=True)
class SignIn:
    """What :func:`sign_in` decided: exchangelib credentials, auth type, whether app-only
    access impersonates, and the bearer credentials (None for basic/NTLM)."""

    credentials: BaseCredentials | None
    auth_type: str
    impersonate: bool
    bearer: BearerCredentials | None = None


def mode(config: Mapping[str, Any]) -> str:
    return str(config.get("auth_type") or "basic").lower()


def validate(config: Mapping[str, Any]) -> None:
    """InvalidInput naming the bad key (auth_type and, for OAuth, the sign-in keys)."""
    from cirahub.core.errors import InvalidInput

    auth = mode(config)
    if auth not in AUTH_TYPES:
        raise InvalidInput(f"auth must be one of {', '.join(AUTH_TYPES[:4])}", key="auth_type")
    oauth_keys = ("tenant", "client_id", "certificate", "authority", "authority_ca_file")
    if auth.startswith("oauth-"):
        oauth.validate_settings(_oauth_view(config), delegated=auth == "oauth-delegated")
        if str(config.get("service_endpoint") or "").startswith("http:"):
            raise InvalidInput("OAuth sign-in needs an https service_endpoint (a bearer token must "
                               "not travel in clear)", key="service_endpoint")
    else:
        extra = [k for k in oauth_keys if config.get(k)]
        if extra:
            raise InvalidInput(f"{extra[0]} needs --auth oauth-app or oauth-delegated", key=extra[0])


def _oauth_view(config: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: config.get(k) for k in ("tenant", "client_id", "certificate", "authority")}
    out["ca_file"] = config.get("authority_ca_file")
    return {k: v for k, v in out.items() if v is not None}


def oauth_settings(config: Mapping[str, Any]) -> oauth.OAuthSettings:
    delegated = mode(config) == "oauth-delegated"
    scopes = oauth.EWS_DELEGATED_SCOPES if delegated else oauth.EWS_APP_SCOPES
    return oauth.settings_from_config(_oauth_view(config), scopes, delegated=delegated)


def sign_in(config: Mapping[str, Any], username: str, secret: str | None,
            provider_factory: Callable[[oauth.OAuthSettings, str | None], oauth.TokenProvider]
            = oauth.MsalTokenProvider,
            on_refresh_token: Callable[[str], None] | None = None) -> SignIn:
    """The credentials for a validated EWS config (no request is sent). ``on_refresh_token``
    receives a rotated refresh token (delegated sign-in) so it can be stored."""
    auth = mode(config)
    if not auth.startswith("oauth-"):
        return SignIn(Credentials(username, secret or ""), _LEGACY[auth], impersonate=False)
    settings = oauth_settings(config)
    provider = (oauth.MsalTokenProvider(settings, secret, on_refresh_token=on_refresh_token)
                if provider_factory is oauth.MsalTokenProvider else provider_factory(settings, secret))
    bearer = BearerCredentials(provider, settings.client_id, settings.tenant)
    return SignIn(bearer, OAUTH2, impersonate=auth == "oauth-app", bearer=bearer)


# --- Exchange's refusals --------------------------------------------------------------------


@dataclass(frozen=True)
class RefusalContext:
    """What the advice needs: which app, which mailbox, which mode."""

    auth_type: str
    username: str
    client_id: str | None
    today: Callable[[], dt.date] = lambda: dt.datetime.now(dt.UTC).date()


_REASON = re.compile(r'reason="([^"]*)"')


def _diagnostics(response: Any) -> str:
    raw = response.headers.get("x-ms-diagnostics", "")
    match = _REASON.search(raw)
    return (match.group(1) if match else raw)[:300]


def _is_exchange_online(url: str) -> bool:
    host = (urlparse(url).hostname or "").lower()
    return host.endswith(("office365.com", "outlook.com", "office.com"))


def refusal(response: Any, ctx: RefusalContext) -> AuthError | None:
    """The error for a 401/403 answer, or None for any other status."""
    status = response.status_code
    if status not in (401, 403):
        return None
    reason = _diagnostics(response)
    low = reason.lower()
    app = ctx.client_id or "(the app)"
    fields = {"status": status, "reason": reason, "mailbox": ctx.username}
    if "retired" in low or (_is_exchange_online(str(response.url)) and ctx.today() >= EWS_SHUTDOWN):
        return EwsRetired(
            "Exchange Online no longer serves EWS (shut down on 2027-04-01); move this calendar to a "
            "shared-mailbox or Microsoft 365 group calendar and attach it as a graph spoke",
            advice="migrate to a graph spoke (see docs/exchange-online.md)", **fields)
    if status == 401:
        return _unauthorized(response, ctx, low, fields)
    if "ewsallowedappids" in low or "allow list" in low:
        return EwsAppNotAllowed(
            f"Exchange Online refuses EWS for app {app}: it is not in the organization's EWS allow "
            f"list; an Exchange admin must add it, keeping the ids already there: "
            f"Set-OrganizationConfig -EWSAllowedAppIDs \"<ids already listed>,{app}\" (takes up "
            "to 24 hours)", client_id=app,
            advice=f"add {app} to EWSAllowedAppIDs", **fields)
    if "mailbox" in low or "user" in low:
        return EwsUserDisabled(
            f"EWS is turned off for the mailbox {ctx.username}; an Exchange admin must run "
            f"Set-CASMailbox -Identity {ctx.username} -EWSEnabled $true (EWS needs both the "
            "organization and the mailbox to allow it)",
            advice=f"Set-CASMailbox -Identity {ctx.username} -EWSEnabled $true", **fields)
    if "organization" in low or "tenant" in low:
        return EwsDisabled(
            "EWS is turned off for the whole organization; an Exchange admin must run "
            f"Set-OrganizationConfig -EWSEnabled $true and allow-list app {app} in EWSAllowedAppIDs "
            "(takes about an hour)", advice="Set-OrganizationConfig -EWSEnabled $true", **fields)
    return AdminActionRequired(
        f"Exchange refused EWS access (HTTP 403{': ' + reason if reason else ''}); check "
        f"EWSEnabled for the organization (Get-OrganizationConfig) and for {ctx.username} "
        f"(Get-CASMailbox), and that app {app} is in EWSAllowedAppIDs",
        advice="check EWSEnabled and EWSAllowedAppIDs", **fields)


def _unauthorized(response: Any, ctx: RefusalContext, low: str, fields: dict[str, Any]) -> AuthError:
    challenge = response.headers.get("WWW-Authenticate", "")
    bearer_only = "bearer" in challenge.lower() and not re.search(r"\b(basic|ntlm|negotiate)\b",
                                                                    challenge.lower())
    app = ctx.client_id or "(the app)"
    if not ctx.auth_type.startswith("oauth-"):
        if bearer_only:
            return AuthError("this Exchange accepts only OAuth 2.0 (Exchange Online turned basic "
                             "auth off): attach the spoke with --auth oauth-app (or oauth-delegated) "
                             "and an app registration", advice="use --auth oauth-app", **fields)
        return AuthError("Exchange rejected the user name or password", advice="check the password",
                         **fields)
    if "no permissions" in low or "not enough scope" in low:
        wanted = ("full_access_as_app (application permission of Office 365 Exchange Online)"
                  if ctx.auth_type == "oauth-app" else "EWS.AccessAsUser.All (delegated)")
        return ConsentMissing(
            f"Exchange Online accepted the token of app {app} but it carries no EWS permission: an "
            f"admin must grant {wanted} and admin consent to the app", client_id=app,
            advice=f"grant {wanted} and admin consent", **fields)
    return TokenRefused("Exchange refused the access token", **fields)


class ExchangePolicy(FailFast):
    """exchangelib's FailFast, except that 401/403 answers raise :func:`refusal`'s error."""

    def __init__(self, ctx: RefusalContext) -> None:
        self.ctx = ctx

    def raise_response_errors(self, response: Any) -> Any:
        err = refusal(response, self.ctx)
        if err is not None:
            raise err
        return super().raise_response_errors(response)
