"""OAuth 2.0 sign-in settings and the token contract connectors depend on (no msal here).

:class:`OAuthSettings` says where and as whom to sign in (no secret in it);
:class:`TokenProvider` is what a connector needs from a sign-in. The msal implementation is
:class:`cirahub.connectors.oauth.MsalTokenProvider`; :mod:`cirahub.connectors.oauth`
re-exports every name of this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from cirahub.core.errors import InvalidInput

DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
#: resources' ``.default`` scopes (app-only) and delegated scopes
EWS_APP_SCOPES = ("https://outlook.office365.com/.default",)
EWS_DELEGATED_SCOPES = ("https://outlook.office365.com/EWS.AccessAsUser.All",)
GRAPH_APP_SCOPES = ("https://graph.microsoft.com/.default",)
GRAPH_DELEGATED_SCOPES = ("https://graph.microsoft.com/Calendars.ReadWrite",)
#: renew a token this long before it expires at the latest (msal's own cache uses 5 min too)
RENEW_BEFORE_SECONDS = 300.0


class AuthMode(StrEnum):
    """How a spoke signs in (the ``--auth`` flag, the ``auth`` config key)."""

    OAUTH_APP = "oauth-app"
    OAUTH_DELEGATED = "oauth-delegated"
    BASIC = "basic"
    NTLM = "ntlm"

    @property
    def is_oauth(self) -> bool:
        return self in (AuthMode.OAUTH_APP, AuthMode.OAUTH_DELEGATED)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token and when it expires (epoch seconds). Its repr hides the value."""

    value: str = field(repr=False)
    expires_at: float
    lifetime: float = 3600.0

    def __repr__(self) -> str:
        return f"AccessToken(<hidden>, expires_at={self.expires_at:.0f})"


class TokenProvider(Protocol):
    """What a connector needs from a sign-in: a valid token, and a way to say it was refused."""

    def token(self) -> AccessToken:
        """A token valid for a while longer (cached; renewed before expiry). Raises
        SignInFailed / ConsentMissing / TransientError."""
        ...

    def invalidate(self, token: AccessToken) -> None:
        """``token`` was refused by the resource: do not hand it out again."""
        ...


@dataclass(frozen=True)
class OAuthSettings:
    """Where and as whom to sign in. Holds no secret."""

    tenant: str
    client_id: str
    scopes: tuple[str, ...]
    delegated: bool = False
    authority: str = DEFAULT_AUTHORITY
    certificate_file: str | None = None
    ca_file: str | None = None
    timeout: float = 30.0

    @property
    def authority_url(self) -> str:
        return f"{self.authority.rstrip('/')}/{self.tenant}"


def validate_settings(config: Mapping[str, Any], *, delegated: bool) -> None:
    """InvalidInput naming the bad key among ``tenant``, ``client_id``, ``authority``,
    ``certificate``, ``ca_file`` (keys as the spoke config spells them)."""
    for key in ("tenant", "client_id"):
        value = config.get(key)
        if not isinstance(value, str) or not value.strip() or "/" in value or " " in value:
            raise InvalidInput(f"{key} is required for OAuth sign-in (a GUID or domain name)", key=key)
    authority = config.get("authority", DEFAULT_AUTHORITY)
    parsed = urlparse(str(authority))
    if parsed.scheme != "https" or not parsed.hostname or parsed.path not in ("", "/"):
        raise InvalidInput("authority must be an https URL of a login host, e.g. "
                           f"{DEFAULT_AUTHORITY}", key="authority")
    cert = config.get("certificate")
    if cert is not None:
        if delegated:
            raise InvalidInput("certificate is for oauth-app sign-in only", key="certificate")
        if not isinstance(cert, str) or not Path(cert).is_absolute():
            raise InvalidInput("certificate must be an absolute path to a PEM file", key="certificate")
    ca = config.get("ca_file")
    if ca is not None and (not isinstance(ca, str) or not Path(ca).is_absolute()):
        raise InvalidInput("ca_file must be an absolute path to a PEM file", key="ca_file")


def settings_from_config(config: Mapping[str, Any], scopes: tuple[str, ...], *,
                         delegated: bool) -> OAuthSettings:
    """OAuthSettings from a validated spoke config (keys as in :func:`validate_settings`)."""
    return OAuthSettings(
        tenant=str(config["tenant"]).strip(), client_id=str(config["client_id"]).strip(),
        scopes=scopes, delegated=delegated,
        authority=str(config.get("authority") or DEFAULT_AUTHORITY).rstrip("/"),
        certificate_file=config.get("certificate"), ca_file=config.get("ca_file"),
    )
