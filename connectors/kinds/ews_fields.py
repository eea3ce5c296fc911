"""Config fields both EWS kinds share: how they sign in (basic/NTLM on Exchange Server,
OAuth 2.0 on Exchange Online). Not a kind itself (no ``KIND``)."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, FieldType, SecretSpec

SIGN_IN_FIELDS = (
    ConfigField("auth", "how to sign in: basic, ntlm (Exchange Server), oauth-app, "
                "oauth-delegated (Exchange Online; see `cirahubctl login`)", key="auth_type",
                metavar="basic|ntlm|oauth-app|oauth-delegated"),
    ConfigField("tenant", "OAuth: the Microsoft 365 tenant (id or domain)"),
    ConfigField("client_id", "OAuth: the app registration's application (client) id"),
    ConfigField("certificate", "OAuth app-only: PEM file with the app certificate's private key "
                "and certificate (instead of a client secret)", type=FieldType.PATH, metavar="FILE"),
    ConfigField("authority", "OAuth: the login host (default https://login.microsoftonline.com)",
                metavar="URL"),
    ConfigField("authority_ca_file", "OAuth: CA certificate file trusted for the login host",
                type=FieldType.PATH, metavar="FILE"),
)

#: the secret: a password (basic/NTLM), a client secret (oauth-app), the certificate key's
#: passphrase (optional), or the refresh token `cirahubctl login` stores (oauth-delegated)
EWS_SECRET = SecretSpec("password", always=True, unless=("certificate",),
                        unless_values=(("auth_type", "oauth-delegated"),),
                        what_by=(("auth_type", "oauth-app", "client secret"),))
