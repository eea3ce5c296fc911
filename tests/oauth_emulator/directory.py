"""The emulated directory: tenants, app registrations, users, and the OAuth 2.0 grants
(client credentials with a secret or a certificate assertion, device code, refresh token).

Answers follow the Microsoft identity platform: JSON tokens ``{"token_type": "Bearer",
"expires_in", "access_token", ...}``; refusals ``{"error", "error_description": "AADSTSnnnn:
...", "error_codes": [n], "trace_id", "correlation_id", "timestamp"}`` with the HTTP status
Microsoft uses (401 for invalid_client, 400 otherwise).
"""

from __future__ import annotations

import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography import x509

from .keys import b64url, new_key, thumbprints

Answer = tuple[int, dict[str, Any]]
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
#: resources the emulated cloud knows (audience of their tokens)
RESOURCES = ("https://outlook.office365.com", "https://graph.microsoft.com")
OIDC_SCOPES = frozenset({"openid", "profile", "offline_access", "email"})


@dataclass
class App:
    """An app registration (and its service principal, consented permissions included)."""

    client_id: str
    tenant_id: str
    secrets: set[str] = field(default_factory=set)
    certificates: list[x509.Certificate] = field(default_factory=list)
    #: resource → application permissions an admin consented (``roles`` claim)
    roles: dict[str, set[str]] = field(default_factory=dict)
    #: resource → delegated permissions consented (``scp`` claim)
    scopes: dict[str, set[str]] = field(default_factory=dict)


@dataclass
class Tenant:
    id: str
    domain: str
    apps: dict[str, App] = field(default_factory=dict)


@dataclass
class DeviceFlow:
    device_code: str
    user_code: str
    client_id: str
    tenant_id: str
    scope: str
    expires_at: float
    user: str | None = None
    declined: bool = False
    polls: int = 0


@dataclass
class RefreshGrant:
    client_id: str
    tenant_id: str
    user: str
    scope: str
    revoked: bool = False


def refusal(status: int, error: str, code: int, text: str) -> Answer:
    trace, corr = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return status, {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace} Correlation ID: {corr} Timestamp: {stamp}",
        "error_codes": [code], "timestamp": stamp, "trace_id": trace, "correlation_id": corr,
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


class Directory:
    """All identity state; thread-safe. ``clock_offset`` moves the emulator's clock (tokens it
    issued expire earlier than their holders think)."""

    def __init__(self, token_lifetime: int = 3600, device_interval: int = 1) -> None:
        self.tenants: dict[str, Tenant] = {}
        self.token_lifetime = token_lifetime
        self.device_interval = device_interval
        self.clock_offset = 0.0
        self.signing_key = new_key()
        self.kid = b64url(secrets.token_bytes(12))
        self.flows: dict[str, DeviceFlow] = {}
        self.refresh: dict[str, RefreshGrant] = {}
        self.issued: list[dict[str, Any]] = []  # claims of every access token issued
        self.issued_tokens: list[str] = []  # and the tokens (tests grep logs for them)
        self.lock = threading.Lock()
        self.issuer_base = ""  # set by the server: https://127.0.0.1:PORT

    def now(self) -> float:
        return time.time() + self.clock_offset

    # --- setup -----------------------------------------------------------------------------

    def add_tenant(self, domain: str, tenant_id: str | None = None) -> Tenant:
        tenant = Tenant(tenant_id or str(uuid.uuid4()), domain.lower())
        self.tenants[tenant.id] = tenant
        return tenant

    def find_tenant(self, name: str) -> Tenant | None:
        name = name.lower()
        return next((t for t in self.tenants.values() if name in (t.id, t.domain)), None)

    # --- token grants ----------------------------------------------------------------------

    def token(self, tenant_name: str, form: dict[str, str], token_endpoint: str) -> Answer:
        tenant = self.find_tenant(tenant_name)
        if tenant is None:
            return refusal(400, "invalid_tenant", 90002, f"Tenant '{tenant_name}' not found.")
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            return self._client_credentials(tenant, form, token_endpoint)
        if grant == DEVICE_GRANT:
            return self._device_token(tenant, form)
        if grant == "refresh_token":
            return self._refresh(tenant, form)
        return refusal(400, "unsupported_grant_type", 70003, f"The app requested an unsupported grant type '{grant}'.")

    def _app(self, tenant: Tenant, client_id: str) -> App | None:
        return tenant.apps.get(client_id)

    def _client_credentials(self, tenant: Tenant, form: dict[str, str], endpoint: str) -> Answer:
        client_id = form.get("client_id", "")
        app = self._app(tenant, client_id)
        if app is None:
            return refusal(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory "
                           f"'{tenant.domain}'.")
        if "client_secret" in form:
            if form["client_secret"] not in app.secrets:
                return refusal(401, "invalid_client", 7000215,
                               "Invalid client secret provided. Ensure the secret being sent in the request "
                               "is the client secret value, not the client secret ID, for a secret added to "
                               f"app '{client_id}'.")
        elif form.get("client_assertion_type") == ASSERTION_TYPE:
            problem = self._check_assertion(app, form.get("client_assertion", ""), endpoint)
            if problem is not None:
                return problem
        else:
            return refusal(401, "invalid_client", 7000218,
                           "The request body must contain the following parameter: 'client_assertion' or "
                           "'client_secret'.")
        resource = _resource(form.get("scope", ""), app_only=True)
        if resource is None:
            return refusal(400, "invalid_scope", 1002012,
                           f"The provided value for scope {form.get('scope', '')} is not valid. Client "
                           "credential flows must have a scope value with /.default suffixed to the "
                           "resource identifier (application ID URI).")
        claims = {"roles": sorted(app.roles.get(resource, set()))}
        return 200, self._issue(tenant, app, resource, claims)

    def _check_assertion(self, app: App, assertion: str, endpoint: str) -> Answer | None:
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            return refusal(401, "invalid_client", 50027, "JWT token is invalid or malformed.")
        thumb = str(header.get("x5t#S256") or header.get("x5t") or "")
        cert = next((c for c in app.certificates if thumb.rstrip("=") in thumbprints(c)), None)
        if cert is None:
            return refusal(401, "invalid_client", 700027,
                           "Client assertion failed signature validation. [Reason - The key was not found., "
                           f"Thumbprint of key used by client: '{thumb}'. Please visit the Azure Portal, "
                           f"Graph Explorer or directly use MS Graph to see configured keys for app Id "
                           f"'{app.client_id}'.]")
        try:
            claims = jwt.decode(assertion, cert.public_key(), algorithms=["PS256", "RS256"],  # type: ignore[arg-type]
                                audience=endpoint, options={"require": ["exp", "aud", "iss", "sub"]},
                                leeway=0)
        except jwt.ExpiredSignatureError:
            return refusal(401, "invalid_client", 700024, "Client assertion is not within its valid time range.")
        except jwt.InvalidAudienceError:
            return refusal(401, "invalid_client", 700212,
                           "No matching federated identity record found for presented assertion audience.")
        except jwt.PyJWTError:
            return refusal(401, "invalid_client", 700027, "Client assertion contains an invalid signature.")
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            return refusal(401, "invalid_client", 700023,
                           "Client assertion audience claim does not match Realm issuer.")
        return None

    def _issue(self, tenant: Tenant, app: App, resource: str, extra: dict[str, Any],
               refresh_for: str | None = None, scope: str = "") -> dict[str, Any]:
        now = int(self.now())
        claims = {"aud": resource, "iss": f"https://sts.windows.net/{tenant.id}/", "iat": now, "nbf": now,
                  "exp": now + self.token_lifetime, "appid": app.client_id, "tid": tenant.id,
                  "oid": str(uuid.uuid5(uuid.NAMESPACE_URL, app.client_id)), "ver": "1.0",
                  "jti": b64url(secrets.token_bytes(12)), **extra}
        claims = {k: v for k, v in claims.items() if v not in ([], None)}
        with self.lock:
            self.issued.append(claims)
        token = jwt.encode(claims, self.signing_key, algorithm="RS256", headers={"kid": self.kid})
        with self.lock:
            self.issued_tokens.append(token)
        out: dict[str, Any] = {"token_type": "Bearer", "expires_in": self.token_lifetime,
                               "ext_expires_in": self.token_lifetime, "access_token": token}
        if refresh_for is not None:
            rt = "0.A" + b64url(secrets.token_bytes(48))
            with self.lock:
                self.refresh[rt] = RefreshGrant(app.client_id, tenant.id, refresh_for, scope)
            user_oid = str(uuid.uuid5(uuid.NAMESPACE_URL, refresh_for))
            out.update(refresh_token=rt, scope=scope, client_info=b64url(json.dumps(
                {"uid": user_oid, "utid": tenant.id}).encode()), id_token=jwt.encode(
                {"aud": app.client_id, "iss": f"{self.issuer_base}/{tenant.id}/v2.0", "iat": now, "nbf": now,
                 "exp": now + 3600, "oid": user_oid, "tid": tenant.id, "sub": user_oid,
                 "preferred_username": refresh_for, "name": refresh_for, "ver": "2.0"},
                self.signing_key, algorithm="RS256", headers={"kid": self.kid}))
        return out

    # --- delegated -------------------------------------------------------------------------

    def device_code(self, tenant_name: str, form: dict[str, str], verification_uri: str) -> Answer:
        tenant = self.find_tenant(tenant_name)
        if tenant is None:
            return refusal(400, "invalid_tenant", 90002, f"Tenant '{tenant_name}' not found.")
        client_id = form.get("client_id", "")
        if self._app(tenant, client_id) is None:
            return refusal(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the directory "
                           f"'{tenant.domain}'.")
        user_code = "".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9))
        flow = DeviceFlow(secrets.token_urlsafe(32), user_code, client_id, tenant.id,
                          form.get("scope", ""), self.now() + 900)
        with self.lock:
            self.flows[flow.device_code] = flow
        return 200, {"user_code": user_code, "device_code": flow.device_code,
                     "verification_uri": verification_uri, "expires_in": 900,
                     "interval": self.device_interval,
                     "message": f"To sign in, use a web browser to open the page {verification_uri} "
                                f"and enter the code {user_code} to authenticate."}

    def approve(self, user_code: str, user: str, *, decline: bool = False) -> None:
        """The person at the browser entered ``user_code`` and signed in as ``user``."""
        with self.lock:
            flow = next(f for f in self.flows.values() if f.user_code == user_code)
            flow.user, flow.declined = user.lower(), decline

    def _device_token(self, tenant: Tenant, form: dict[str, str]) -> Answer:
        with self.lock:
            flow = self.flows.get(form.get("device_code", ""))
            if flow is not None:
                flow.polls += 1
        if flow is None or flow.tenant_id != tenant.id or flow.client_id != form.get("client_id"):
            return refusal(400, "invalid_grant", 70000, "The provided value for the 'device_code' is not valid.")
        if self.now() > flow.expires_at:
            return refusal(400, "expired_token", 70020, "The provided authorization code or refresh token has expired.")
        if flow.declined:
            return refusal(400, "authorization_declined", 70019, "The end-user declined the authorization request.")
        if flow.user is None:
            return refusal(400, "authorization_pending", 70016,
                           "OAuth 2.0 device flow error. Authorization is pending. Continue polling.")
        with self.lock:
            del self.flows[flow.device_code]
        return self._delegated_answer(tenant, flow.client_id, flow.user, flow.scope)

    def _delegated_answer(self, tenant: Tenant, client_id: str, user: str, scope: str) -> Answer:
        app = self._app(tenant, client_id)
        assert app is not None
        resource, wanted = _delegated(scope)
        if resource is None:
            return refusal(400, "invalid_scope", 70011, f"The provided value for the input parameter 'scope' "
                           f"is not valid. The scope '{scope}' does not exist.")
        granted = app.scopes.get(resource, set())
        if not wanted <= granted:
            return refusal(400, "invalid_grant", 65001,
                           f"The user or administrator has not consented to use the application with ID "
                           f"'{client_id}'. Send an interactive authorization request for this user and "
                           f"resource.")
        extra = {"scp": " ".join(sorted(wanted)), "upn": user, "unique_name": user}
        return 200, self._issue(tenant, app, resource, extra, refresh_for=user, scope=scope)

    def _refresh(self, tenant: Tenant, form: dict[str, str]) -> Answer:
        with self.lock:
            grant = self.refresh.get(form.get("refresh_token", ""))
        if grant is None or grant.revoked or grant.tenant_id != tenant.id:
            return refusal(400, "invalid_grant", 70000,
                           "The provided value for the 'refresh_token' is not valid or was revoked.")
        if grant.client_id != form.get("client_id"):
            return refusal(400, "invalid_grant", 70000, "The refresh token was issued to a different client id.")
        return self._delegated_answer(tenant, grant.client_id, grant.user, form.get("scope") or grant.scope)

    def revoke_refresh_tokens(self) -> None:
        with self.lock:
            for grant in self.refresh.values():
                grant.revoked = True


def _resource(scope: str, *, app_only: bool) -> str | None:
    parts = [s for s in scope.split() if s not in OIDC_SCOPES]
    if len(parts) != 1 or (app_only and not parts[0].endswith("/.default")):
        return None
    resource = parts[0].removesuffix("/.default")
    return resource if resource in RESOURCES else None


def _delegated(scope: str) -> tuple[str | None, set[str]]:
    """(resource, permission names) of a delegated scope list like
    ``https://outlook.office365.com/EWS.AccessAsUser.All offline_access openid``."""
    resource, names = None, set()
    for s in scope.split():
        if s in OIDC_SCOPES:
            continue
        base, _, name = s.rpartition("/")
        if base not in RESOURCES or (resource is not None and base != resource):
            return None, set()
        resource = base
        names.add(name)
    return resource, names
