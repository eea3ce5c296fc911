"""A local Microsoft identity platform: an HTTPS OAuth 2.0 token endpoint unmodified msal
accepts.

What msal asks, and what is served (paths under ``https://127.0.0.1:PORT``):

- ``GET /common/discovery/instance?authorization_endpoint=…`` — instance discovery (msal sends
  it for a login host it does not know; cirahub points it here);
- ``GET /{tenant}/v2.0/.well-known/openid-configuration`` — the tenant's endpoints (an unknown
  tenant gets AADSTS90002 with 400, as Microsoft answers);
- ``POST /{tenant}/oauth2/v2.0/token`` — client credentials (secret or certificate assertion,
  verified), device code, refresh token;
- ``POST /{tenant}/oauth2/v2.0/devicecode``; ``GET /{tenant}/discovery/v2.0/keys`` (JWKS).

Resource emulators (EWS, Graph) check bearer tokens with :meth:`TokenEmulator.verify`.
Every request is logged in :attr:`TokenEmulator.requests` (method, path, grant type — never a
secret), so tests can count sign-ins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlparse

import jwt
from cryptography import x509

from tests.loopback_http import LoopbackHttp

from .directory import App, Directory, Tenant, refusal
from .keys import b64url, tls_identity


class InvalidToken(Exception):
    """A bearer token a resource must refuse; ``reason`` is ``expired``, ``signature``,
    ``audience``, ``malformed`` or ``issuer``."""

    def __init__(self, reason: str, text: str) -> None:
        super().__init__(text)
        self.reason = reason


@dataclass(frozen=True)
class LoggedRequest:
    method: str
    path: str
    grant_type: str | None


class TokenEmulator(LoopbackHttp):
    """Start/stop (or ``with``); :attr:`authority` is the login host URL, :attr:`ca_file` the
    certificate clients must trust."""

    def __init__(self, *, token_lifetime: int = 3600, device_interval: int = 1) -> None:
        self.directory = Directory(token_lifetime, device_interval)
        self.tls = tls_identity()
        self.requests: list[LoggedRequest] = []

    # --- lifecycle -------------------------------------------------------------------------

    thread_name = "oauth-emulator"

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _handler(self)

    def _tls_files(self) -> tuple[str, str] | None:
        return str(self.tls.cert_file), str(self.tls.key_file)

    def _started(self) -> None:
        self.directory.issuer_base = self.authority

    @property
    def authority(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> str:
        return str(self.tls.ca_file)

    # --- setup -----------------------------------------------------------------------------

    def add_tenant(self, domain: str = "contoso.onmicrosoft.com", tenant_id: str | None = None) -> Tenant:
        return self.directory.add_tenant(domain, tenant_id)

    def add_app(self, tenant: Tenant, client_id: str, *, secret: str | None = None,
                certificate: x509.Certificate | None = None,
                roles: dict[str, set[str]] | None = None,
                scopes: dict[str, set[str]] | None = None) -> App:
        """Register an app; ``roles``/``scopes`` are the consented application/delegated
        permissions per resource (e.g. ``{"https://outlook.office365.com":
        {"full_access_as_app"}}``)."""
        app = App(client_id, tenant.id, {secret} if secret else set(),
                  [certificate] if certificate is not None else [], roles or {}, scopes or {})
        tenant.apps[client_id] = app
        return app

    def approve(self, user_code: str, user: str, *, decline: bool = False) -> None:
        self.directory.approve(user_code, user, decline=decline)

    def advance(self, seconds: float) -> None:
        """Move the emulator's clock: tokens issued before expire sooner for resources."""
        self.directory.clock_offset += seconds

    @property
    def issued(self) -> list[dict[str, Any]]:
        return list(self.directory.issued)

    @property
    def issued_tokens(self) -> list[str]:
        return list(self.directory.issued_tokens)

    def count(self, grant_type: str | None = None) -> int:
        return sum(1 for r in self.requests if r.method == "POST" and r.path.endswith("/token")
                   and (grant_type is None or r.grant_type == grant_type))

    # --- for resource emulators ------------------------------------------------------------

    def verify(self, token: str, audience: str) -> dict[str, Any]:
        """The claims of a valid token for ``audience``, else InvalidToken."""
        d = self.directory
        try:
            claims = jwt.decode(token, d.signing_key.public_key(), algorithms=["RS256"],
                                options={"verify_exp": False, "verify_aud": False, "verify_iat": False,
                                         "verify_nbf": False, "require": ["exp", "aud"]})
        except jwt.InvalidSignatureError:
            raise InvalidToken("signature", "The token signature is invalid.") from None
        except jwt.PyJWTError:
            raise InvalidToken("malformed", "The token is malformed.") from None
        # times are checked against the emulator's clock, which tests may move
        if claims.get("nbf", 0) > d.now() + 300:
            raise InvalidToken("malformed", "The token is not yet valid.")
        if claims["exp"] <= d.now():
            raise InvalidToken("expired", "The access token has expired.")
        if claims["aud"] != audience:
            raise InvalidToken("audience", f"The audience '{claims['aud']}' is invalid.")
        if d.find_tenant(str(claims.get("tid", ""))) is None:
            raise InvalidToken("issuer", "The token's issuer is unknown.")
        return claims

    # --- HTTP ------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], form: dict[str, str]) -> tuple[int, Any]:
        self.requests.append(LoggedRequest(method, path, form.get("grant_type")))
        parts = [p for p in path.split("/") if p]
        base = self.authority
        if method == "GET" and parts == ["common", "discovery", "instance"]:
            return 200, self._instance_metadata(query)
        if len(parts) < 2:
            return 404, {"error": "not_found"}
        tenant_name, rest = parts[0], parts[1:]
        if method == "GET" and rest == ["v2.0", ".well-known", "openid-configuration"]:
            return self._openid(tenant_name)
        if method == "GET" and rest == ["discovery", "v2.0", "keys"]:
            return 200, self._jwks()
        if method == "POST" and rest == ["oauth2", "v2.0", "token"]:
            return self.directory.token(tenant_name, form, f"{base}{path}")
        if method == "POST" and rest == ["oauth2", "v2.0", "devicecode"]:
            return self.directory.device_code(tenant_name, form, f"{base}/devicelogin")
        return 404, {"error": "not_found"}

    def _instance_metadata(self, query: dict[str, str]) -> dict[str, Any]:
        auth = urlparse(query.get("authorization_endpoint", ""))
        tenant = ([*auth.path.split("/"), "", ""])[1] or "common"
        host = urlparse(self.authority).netloc
        return {"tenant_discovery_endpoint": f"{self.authority}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]}

    def _openid(self, tenant_name: str) -> tuple[int, Any]:
        tenant = self.directory.find_tenant(tenant_name)
        if tenant is None and tenant_name.lower() not in ("common", "organizations"):
            return refusal(400, "invalid_tenant", 90002, f"Tenant '{tenant_name}' not found. Check to make "
                           "sure you have the correct tenant ID and are signing into the correct cloud.")
        tid = tenant.id if tenant is not None else tenant_name
        b = f"{self.authority}/{tid}"
        return 200, {
            "token_endpoint": f"{b}/oauth2/v2.0/token", "authorization_endpoint": f"{b}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{b}/oauth2/v2.0/devicecode", "issuer": f"{b}/v2.0",
            "jwks_uri": f"{b}/discovery/v2.0/keys", "token_endpoint_auth_methods_supported":
                ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU", "cloud_instance_name": "microsoftonline.com",
        }

    def _jwks(self) -> dict[str, Any]:
        numbers = self.directory.signing_key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "kid": self.directory.kid,
                          "n": b64url(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                          "e": b64url(numbers.e.to_bytes(3, "big"))}]}


def _handler(emu: TokenEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: object) -> None:
            return

        def _reply(self, method: str, form: dict[str, str]) -> None:
            url = urlparse(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            status, body = emu.answer(method, url.path, query, form)
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def do_GET(self) -> None:
            self._reply("GET", {})

        def do_POST(self) -> None:
            length = min(int(self.headers.get("Content-Length", "0")), 1 << 20)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            self._reply("POST", {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()})

    return Handler
