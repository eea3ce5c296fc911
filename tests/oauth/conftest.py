"""Fixtures: a running token emulator with one tenant and apps for EWS and Graph."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cirahub.connectors import oauth
from tests.oauth_emulator import AppCertificate, TokenEmulator, make_app_certificate

EXO = "https://outlook.office365.com"
APP_ID = "11111111-2222-3333-4444-555555555555"
CERT_APP_ID = "66666666-7777-8888-9999-000000000000"
PUBLIC_APP_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SECRET = "s3cr3t~Value.With-Odd_chars"


@dataclass
class Identity:
    emu: TokenEmulator
    tenant_id: str
    domain: str
    cert: AppCertificate


@pytest.fixture
def identity(tmp_path: Path) -> Iterator[Identity]:
    oauth.forget_cached_tokens()
    emu = TokenEmulator().start()
    tenant = emu.add_tenant("contoso.onmicrosoft.com")
    cert = make_app_certificate(tmp_path)
    emu.add_app(tenant, APP_ID, secret=SECRET, roles={EXO: {"full_access_as_app"}})
    emu.add_app(tenant, CERT_APP_ID, certificate=cert.certificate, roles={EXO: {"full_access_as_app"}})
    emu.add_app(tenant, PUBLIC_APP_ID, scopes={EXO: {"EWS.AccessAsUser.All"}})
    try:
        yield Identity(emu, tenant.id, tenant.domain, cert)
    finally:
        emu.stop()
        oauth.forget_cached_tokens()


def settings(identity: Identity, client_id: str = APP_ID, **kw: object) -> oauth.OAuthSettings:
    base: dict[str, object] = dict(tenant=identity.domain, client_id=client_id,
                                   scopes=oauth.EWS_APP_SCOPES, authority=identity.emu.authority,
                                   ca_file=identity.emu.ca_file)
    base.update(kw)
    return oauth.OAuthSettings(**base)  # type: ignore[arg-type]
