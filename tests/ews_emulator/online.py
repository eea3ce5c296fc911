"""The emulator's "online" mode: Exchange Online's front door.

Every request needs a valid bearer token from the token emulator (audience
``https://outlook.office365.com``); basic and NTLM are refused with a Bearer-only challenge,
as Exchange Online does since 2022. An app-only token must carry ``full_access_as_app`` and
act as a mailbox through ExchangeImpersonation; a delegated token must carry
``EWS.AccessAsUser.All`` and acts as its ``upn``.

Tenant knobs model the EWS retirement: ``ews_enabled`` (``Set-OrganizationConfig
-EWSEnabled``), ``allowed_app_ids`` (``EWSAllowedAppIDs``; None = no list, refused since
2026-10-10 wherever EWS is enabled), ``disabled_mailboxes`` (``Set-CASMailbox -EWSEnabled
$false``) and ``retired`` (past 2027-04-01).

Refusals are HTTP 401/403 with an ``x-ms-diagnostics`` header ``code;reason="...";
error_category="..."``. The 401 texts are the ones Exchange Online sends; the 403 texts for
the retirement settings are this emulator's model (Microsoft documents the settings, not the
wire text).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tests.oauth_emulator import InvalidToken, TokenEmulator

EXO = "https://outlook.office365.com"
CHALLENGE = ('Bearer client_id="00000002-0000-0ff1-ce00-000000000000", '
             'trusted_issuers="00000001-0000-0000-c000-000000000000@*", '
             'token_types="app_asserted_user_v1 service_asserted_app_v1", '
             'authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize"')
_IMPERSONATED = re.compile(rb"<(?:\w+:)?ExchangeImpersonation>.*?<(?:\w+:)?PrimarySmtpAddress>([^<]+)<", re.S)


@dataclass(frozen=True)
class Verdict:
    """Who the request acts as (``user``), or the refusal to send (``status`` 401/403)."""

    user: str | None
    auth: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _refuse(status: int, code: int, reason: str, category: str, *, error: str | None = None) -> Verdict:
    headers = {"x-ms-diagnostics": f'{code};reason="{reason}";error_category="{category}"'}
    if status == 401:
        headers["WWW-Authenticate"] = CHALLENGE + (f', error="{error}"' if error else "")
    return Verdict(None, status=status, headers=headers)


@dataclass
class ExchangeOnline:
    tokens: TokenEmulator
    ews_enabled: bool = True
    allowed_app_ids: set[str] | None = None
    disabled_mailboxes: set[str] = field(default_factory=set)
    retired: bool = False
    #: every verdict, in order (tests check that nothing was answered without a valid token)
    verdicts: list[Verdict] = field(default_factory=list)

    def admit(self, authorization: str, body: bytes) -> Verdict:
        verdict = self._admit(authorization, body)
        self.verdicts.append(verdict)
        return verdict

    def _admit(self, authorization: str, body: bytes) -> Verdict:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return _refuse(401, 2000003, "Basic authentication is not supported; use OAuth",
                           "invalid_request")
        try:
            claims = self.tokens.verify(token.strip(), EXO)
        except InvalidToken as exc:
            reason = "The access token has expired." if exc.reason == "expired" else f"The token is invalid: {exc}"
            return _refuse(401, 2000001, reason, "invalid_token", error="invalid_token")
        app = str(claims.get("appid", ""))
        if "upn" in claims:
            if "EWS.AccessAsUser.All" not in str(claims.get("scp", "")).split():
                return _refuse(401, 2000008, "The token contains not enough scope to make this call.",
                               "invalid_grant")
            user, kind = str(claims["upn"]).lower(), "bearer-delegated"
        else:
            if "full_access_as_app" not in claims.get("roles", []):
                return _refuse(401, 2000008, "The token contains no permissions, or permissions can not "
                               "be understood.", "invalid_grant")
            match = _IMPERSONATED.search(body)
            if match is None:
                return _refuse(403, 2000012, "An app-only token needs an "
                               "ExchangeImpersonation header", "invalid_request")
            user, kind = match.group(1).decode().strip().lower(), "bearer-app"
        return self._policy(app, user, kind)

    def _policy(self, app: str, user: str, kind: str) -> Verdict:
        if self.retired:
            return _refuse(403, 2000020, "EWS has been retired in Exchange Online (2027-04-01).", "ews_retired")
        if not self.ews_enabled:
            return _refuse(403, 2000021, "EWS is disabled for this organization (EWSEnabled is False).",
                           "ews_disabled")
        if self.allowed_app_ids is None or app not in self.allowed_app_ids:
            return _refuse(403, 2000022, f"The application {app} is not in the EWSAllowedAppIDs of "
                           "this organization.", "ews_app_blocked")
        if user in self.disabled_mailboxes:
            return _refuse(403, 2000023, f"EWS is disabled for the mailbox {user} (CAS mailbox EWSEnabled "
                           "is False).", "ews_disabled")
        return Verdict(user, kind)
