"""An Exchange Online look-alike for tests: the token emulator plus the EWS emulator in online
mode, with one tenant, an app registration per sign-in kind and a public calendar folder."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import certifi

from cirahub.connectors import oauth
from tests.ews_emulator import EwsEmulator
from tests.ews_emulator.online import EXO, ExchangeOnline
from tests.oauth_emulator import AppCertificate, TokenEmulator, make_app_certificate

SVC = "svc@contoso.onmicrosoft.com"
TENANT = "contoso.onmicrosoft.com"
APP_ID = "0f3c1a2b-1111-4c4c-9d9d-123456789abc"
CERT_APP_ID = "0f3c1a2b-2222-4c4c-9d9d-123456789abc"
PUBLIC_APP_ID = "0f3c1a2b-3333-4c4c-9d9d-123456789abc"
NO_ROLE_APP_ID = "0f3c1a2b-4444-4c4c-9d9d-123456789abc"
CLIENT_SECRET = "Qx8~fake.Client-Secret_value0123456789"
FOLDER = "/Calendars/Team"


@dataclass
class Online:
    tokens: TokenEmulator
    ews: EwsEmulator
    exo: ExchangeOnline
    cert: AppCertificate
    folder_id: str
    bundle: Path

    def config(self, auth: str = "oauth-app", client_id: str = APP_ID, **extra: Any) -> dict[str, Any]:
        """A stored-key config of an ews-public-folder spoke on the emulators."""
        cfg: dict[str, Any] = {"service_endpoint": self.ews.url, "username": SVC, "folder": FOLDER,
                               "auth_type": auth, "max_retry_seconds": 5.0}
        if auth.startswith("oauth-"):
            cfg.update(tenant=TENANT, client_id=client_id, authority=self.tokens.authority,
                       authority_ca_file=self.tokens.ca_file)
        cfg.update(extra)
        return cfg


def trust_bundle(tokens: TokenEmulator, folder: Path) -> Path:
    """The system CA bundle plus the emulators' certificate: what REQUESTS_CA_BUNDLE must name
    for exchangelib (which verifies with requests' defaults) to reach the https emulator."""
    system = Path(certifi.where()).read_text()
    path = folder / "ca-bundle.pem"
    path.write_text(system + "\n" + Path(tokens.ca_file).read_text())
    return path


@contextmanager
def exchange_online(folder: Path) -> Iterator[Online]:
    """The emulators, started; the caller points REQUESTS_CA_BUNDLE at :attr:`Online.bundle`."""
    oauth.forget_cached_tokens()
    tokens = TokenEmulator().start()
    tenant = tokens.add_tenant(TENANT)
    cert = make_app_certificate(folder)
    tokens.add_app(tenant, APP_ID, secret=CLIENT_SECRET, roles={EXO: {"full_access_as_app"}})
    tokens.add_app(tenant, CERT_APP_ID, certificate=cert.certificate, roles={EXO: {"full_access_as_app"}})
    tokens.add_app(tenant, PUBLIC_APP_ID, scopes={EXO: {"EWS.AccessAsUser.All"}})
    tokens.add_app(tenant, NO_ROLE_APP_ID, secret=CLIENT_SECRET)
    exo = ExchangeOnline(tokens, allowed_app_ids={APP_ID, CERT_APP_ID, PUBLIC_APP_ID, NO_ROLE_APP_ID})
    ews = EwsEmulator({SVC: "not-used-online"}, online=exo,
                      tls=(str(tokens.tls.cert_file), str(tokens.tls.key_file))).start()
    folder_id = ews.add_public_folder(FOLDER)
    try:
        yield Online(tokens, ews, exo, cert, folder_id, trust_bundle(tokens, folder))
    finally:
        ews.stop()
        tokens.stop()
        oauth.forget_cached_tokens()
