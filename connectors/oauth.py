"""OAuth 2.0 access tokens from the Microsoft identity platform (msal), for EWS and Graph.

Two ways to sign in:

- **app-only** (``oauth-app``): client credentials with a client secret or a certificate
  (a PEM file holding the private key and the certificate; its key is read when a token is
  needed and never logged or stored);
- **delegated** (``oauth-delegated``): an administrator signs in once by device code
  (:func:`device_code_login`, which hands the code and URL to a callback); the refresh token it
  returns is the spoke's secret (stored encrypted by the store like every secret) and buys
  the access tokens from then on.

Guarantees of :class:`MsalTokenProvider`:

- tokens are cached per (authority, tenant, app, scopes, credential) in the process, so
  spokes sharing an app share its token, and a token is renewed before it expires (at the
  latest ``min(5 min, half its lifetime)`` before);
- :meth:`~MsalTokenProvider.invalidate` drops a token a resource refused (401): the next
  :meth:`~MsalTokenProvider.token` asks the identity platform again. Callers retry a refused
  request once (:func:`call_with_token`);
- a refusal of the identity platform is a :class:`~cirahub.core.errors.SignInFailed` or
  :class:`~cirahub.core.errors.ConsentMissing` naming the AADSTS number and what to do;
  network trouble is a :class:`~cirahub.core.errors.TransientError`. No secret, token or key
  appears in an error, a repr or a log line.

The authority (login host) is configurable, so tests point it at ``tests/oauth_emulator``;
``ca_file`` trusts a private TLS certificate authority for it.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import msal
import msal.authority
import requests

from cirahub.connectors import aadsts
from cirahub.connectors.bounded import read_response, small_cap
from cirahub.connectors.oauth_redact import LEAKY_LOGGERS, RedactTokens, redact
from cirahub.connectors.oauth_settings import (
    DEFAULT_AUTHORITY,
    EWS_APP_SCOPES,
    EWS_DELEGATED_SCOPES,
    GRAPH_APP_SCOPES,
    GRAPH_DELEGATED_SCOPES,
    RENEW_BEFORE_SECONDS,
    AccessToken,
    AuthMode,
    OAuthSettings,
    TokenProvider,
    settings_from_config,
    validate_settings,
)
from cirahub.core.errors import AuthError, ConfigError, InvalidInput, SignInFailed, TransientError

__all__ = [
    "DEFAULT_AUTHORITY", "EWS_APP_SCOPES", "EWS_DELEGATED_SCOPES", "GRAPH_APP_SCOPES",
    "GRAPH_DELEGATED_SCOPES", "LEAKY_LOGGERS", "RENEW_BEFORE_SECONDS", "AccessToken", "AuthMode",
    "DelegatedLogin", "DeviceCode", "MsalTokenProvider", "OAuthSettings", "RedactTokens",
    "TokenProvider", "TokenRefused", "call_with_token", "device_code_login",
    "forget_cached_tokens", "redact", "settings_from_config", "validate_settings",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


# --- msal applications, shared per process -------------------------------------------------

_lock = threading.Lock()
_apps: dict[tuple[str, ...], msal.ClientApplication] = {}
_tokens: dict[tuple[str, ...], AccessToken] = {}


def _fingerprint(secret: str | None) -> str:
    # part of cache keys only: a wrong secret must not be served the right secret's token
    return hashlib.sha256((secret or "").encode("utf-8")).hexdigest()[:16]


def _instance_discovery(authority: str) -> bool | None:
    """msal's instance discovery: on for Microsoft's own login hosts (msal's default), off for
    any other (a private cloud, the test endpoint). msal would otherwise ask
    login.microsoftonline.com about it, and again for the host's aliases after every
    refused request, which fails wherever that host is unknown or unreachable."""
    host = urlparse(authority).hostname or ""
    return None if host in msal.authority.WELL_KNOWN_AUTHORITY_HOSTS else False


_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z ]+)-----[^-]+-----END \1-----")


def _certificate_credential(path: str, passphrase: str | None) -> dict[str, str]:
    """msal's certificate credential from a PEM file with the private key and the certificate.
    ConfigError (naming the file, never its content) when either is missing."""
    try:
        pem = Path(path).read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the certificate file {path}: {type(exc).__name__}",
                          certificate=path) from None
    blocks = {m.group(1): m.group(0) for m in _PEM_BLOCK.finditer(pem)}
    key = next((v for k, v in blocks.items() if k.endswith("PRIVATE KEY")), None)
    cert = blocks.get("CERTIFICATE")
    if key is None or cert is None:
        raise ConfigError("the certificate file must hold the private key and the certificate "
                          "(PEM)", certificate=path)
    cred = {"private_key": key, "public_certificate": cert}
    if passphrase:
        cred["passphrase"] = passphrase
    return cred


class _LoginSession(requests.Session):
    """The HTTP client msal uses: ``ca_file`` (when set) and the timeout apply to every
    request. requests would otherwise let ``$REQUESTS_CA_BUNDLE`` override a session's
    ``verify`` (psf/requests#3829). Every answer is read within :func:`small_cap` (1 MB):
    a login endpoint can never make us hold more."""

    def __init__(self, ca_file: str | None, timeout: float) -> None:
        super().__init__()
        self._ca_file = ca_file
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if self._ca_file:
            kwargs["verify"] = self._ca_file
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        kwargs["stream"] = True  # read below within the sign-in cap (a token answer is small)
        response = super().request(method, url, *args, **kwargs)
        read_response(response, small_cap())
        return response


def _build_app(settings: OAuthSettings, secret: str | None) -> msal.ClientApplication:
    common: dict[str, Any] = dict(
        authority=settings.authority_url, http_client=_LoginSession(settings.ca_file, settings.timeout),
        instance_discovery=_instance_discovery(settings.authority), token_cache=msal.TokenCache(),
    )
    try:
        if settings.delegated:
            return msal.PublicClientApplication(settings.client_id, **common)
        if settings.certificate_file:
            cred: Any = _certificate_credential(settings.certificate_file, secret)
        elif secret:
            cred = secret
        else:
            raise InvalidInput("oauth-app sign-in needs a client secret or a certificate",
                               key="client_secret")
        return msal.ConfidentialClientApplication(settings.client_id, client_credential=cred, **common)
    except ValueError as exc:
        raise _discovery_error(settings, exc) from None
    except requests.exceptions.RequestException as exc:
        raise TransientError(f"cannot reach the login endpoint {settings.authority}: "
                             f"{type(exc).__name__}", authority=settings.authority) from None


def _discovery_error(settings: OAuthSettings, exc: ValueError) -> AuthError:
    text = str(exc)
    # msal re-raises the discovery failure (which quotes the server's AADSTS answer) as a
    # ValueError of its own: look at both
    code = aadsts.first_code(text) or aadsts.first_code(str(exc.__context__ or ""))
    if code is not None:
        return aadsts.to_error({"error_codes": [code]}, settings.tenant, settings.client_id)
    # msal's messages quote URLs and server text, no secret; keep them short
    return SignInFailed(f"the login endpoint {settings.authority} did not accept tenant "
                        f"{settings.tenant!r}: {text[:200]}", tenant=settings.tenant,
                        advice="check --tenant and the authority URL")


def _app_for(settings: OAuthSettings, secret: str | None) -> msal.ClientApplication:
    key = (settings.authority, settings.tenant, settings.client_id, str(settings.delegated),
           settings.certificate_file or "", _fingerprint(secret))
    with _lock:
        app = _apps.get(key)
    if app is None:
        app = _build_app(settings, None if settings.delegated else secret)
        with _lock:
            app = _apps.setdefault(key, app)
    return app


def _drop_access_tokens(app: msal.ClientApplication, value: str | None = None) -> None:
    """Remove access tokens (all, or the one with ``value``) from msal's per-app cache."""
    cache = app.token_cache
    for entry in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
        if value is None or entry.get("secret") == value:
            cache.remove_at(entry)


def forget_cached_tokens() -> None:
    """Drop every cached token and msal application of this process (tests; key rotation)."""
    with _lock:
        _apps.clear()
        _tokens.clear()


class MsalTokenProvider:
    """:class:`TokenProvider` on msal. ``secret`` is the client secret (app-only with a
    secret), the key's passphrase or None (app-only with a certificate), or the refresh token
    (delegated). ``on_refresh_token`` receives a rotated refresh token (to store it)."""

    def __init__(self, settings: OAuthSettings, secret: str | None, *,
                 on_refresh_token: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        if settings.delegated and not secret:
            raise SignInFailed("no refresh token is stored for this delegated sign-in: run "
                               "`cirahubctl login` first", client_id=settings.client_id,
                               advice="run cirahubctl login")
        self.settings = settings
        self._secret = secret
        self._on_refresh_token = on_refresh_token
        self._clock = clock
        self._key = (settings.authority, settings.tenant, settings.client_id, " ".join(settings.scopes),
                     settings.certificate_file or "", _fingerprint(secret))

    @property
    def cache_key(self) -> tuple[str, ...]:
        """Identifies the sign-in (no secret in it: a hash of it)."""
        return self._key

    def __repr__(self) -> str:
        return f"MsalTokenProvider({self.settings.client_id}@{self.settings.tenant}, <secret hidden>)"

    def token(self) -> AccessToken:
        now = self._clock()
        with _lock:
            cached = _tokens.get(self._key)
        if cached is not None and cached.expires_at - min(RENEW_BEFORE_SECONDS, cached.lifetime / 2) > now:
            return cached
        fresh = self._acquire(now)
        with _lock:
            _tokens[self._key] = fresh
        return fresh

    def invalidate(self, token: AccessToken) -> None:
        with _lock:
            if _tokens.get(self._key) == token:
                del _tokens[self._key]
        _drop_access_tokens(_app_for(self.settings, self._secret), token.value)
        log.info("OAuth token for %s@%s refused by the resource; a new one will be requested",
                 self.settings.client_id, self.settings.tenant)

    def _acquire(self, now: float) -> AccessToken:
        app = _app_for(self.settings, self._secret)
        # our cache decides when a token is renewed; msal's own would hand back the old one
        _drop_access_tokens(app)
        scopes = list(self.settings.scopes)
        try:
            if self.settings.delegated:
                assert self._secret is not None
                result = app.acquire_token_by_refresh_token(self._secret, scopes)
            else:
                result = app.acquire_token_for_client(scopes)  # type: ignore[attr-defined]
        except requests.exceptions.RequestException as exc:
            raise TransientError(f"cannot reach the login endpoint {self.settings.authority}: "
                                 f"{type(exc).__name__}", authority=self.settings.authority) from None
        return self._accept(result, now)

    def _accept(self, result: Mapping[str, Any] | None, now: float) -> AccessToken:
        if not result or "access_token" not in result:
            raise aadsts.to_error(result or {}, self.settings.tenant, self.settings.client_id)
        rotated = result.get("refresh_token")
        if self.settings.delegated and rotated and rotated != self._secret:
            self._secret = rotated
            if self._on_refresh_token is not None:
                self._on_refresh_token(rotated)
        lifetime = float(result.get("expires_in") or 3600)
        return AccessToken(result["access_token"], now + lifetime, lifetime)


# --- delegated sign-in by device code ------------------------------------------------------


@dataclass(frozen=True)
class DeviceCode:
    """What the person signing in must see: open ``verification_uri``, enter ``user_code``."""

    user_code: str
    verification_uri: str
    message: str
    expires_in: int


@dataclass(frozen=True)
class DelegatedLogin:
    """The outcome of a device-code sign-in. ``refresh_token`` is the secret to store."""

    refresh_token: str = field(repr=False)
    username: str | None = None


def device_code_login(settings: OAuthSettings, on_code: Callable[[DeviceCode], None], *,
                      max_wait_seconds: float = 900.0) -> DelegatedLogin:
    """Sign in by device code: ``on_code`` shows the code and URL; then the token endpoint is
    polled (at the interval it asks for) until the sign-in completes, is declined, or
    ``max_wait_seconds`` pass. Raises SignInFailed / ConsentMissing / TransientError."""
    delegated = OAuthSettings(**{**settings.__dict__, "delegated": True})
    app = _build_app(delegated, None)
    assert isinstance(app, msal.PublicClientApplication)
    scopes = list(delegated.scopes)
    try:
        flow = app.initiate_device_flow(scopes=scopes)
        if "user_code" not in flow:
            raise aadsts.to_error(flow, delegated.tenant, delegated.client_id)
        on_code(DeviceCode(flow["user_code"], flow.get("verification_uri", ""),
                           flow.get("message", ""), int(flow.get("expires_in", 900))))
        deadline = time.monotonic() + max_wait_seconds
        result = app.acquire_token_by_device_flow(
            flow, exit_condition=lambda f: f.get("expires_at", 0) < time.time() or time.monotonic() > deadline)
    except requests.exceptions.RequestException as exc:
        raise TransientError(f"cannot reach the login endpoint {delegated.authority}: "
                             f"{type(exc).__name__}", authority=delegated.authority) from None
    if "refresh_token" not in result:
        raise aadsts.to_error(result, delegated.tenant, delegated.client_id)
    claims = result.get("id_token_claims") or {}
    return DelegatedLogin(result["refresh_token"], claims.get("preferred_username"))


# --- calling a resource ---------------------------------------------------------------------


class TokenRefused(Exception):
    """Raised by a resource call when the server answered 401 to the bearer token it was given
    (internal to :func:`call_with_token`)."""


def call_with_token(provider: TokenProvider, fn: Callable[[AccessToken], T]) -> T:
    """``fn(token)``; if it raises TokenRefused the token is invalidated and ``fn`` is called
    once more with a fresh one. A second refusal is an AuthError."""
    token = provider.token()
    try:
        return fn(token)
    except TokenRefused:
        provider.invalidate(token)
    try:
        return fn(provider.token())
    except TokenRefused:
        raise AuthError("the server refused a freshly issued access token (check the app's "
                        "permissions and the token's audience)") from None
