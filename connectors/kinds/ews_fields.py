"""Config fields both EWS kinds share: how they sign in (basic/NTLM on Exchange Server,
OAuth 2.0 on Exchange Online). Not a kind itself (no ``KIND``)."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, FieldType, Projection, SecretSpec

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

#: what both EWS kinds cannot carry (the same set as ``connectors.ews.mapping.UNSUPPORTED``,
#: which a test checks; kept here so registering a kind does not import exchangelib). RDATEs
#: are written as explicit occurrences (connectors/ews/explicit.py), or dropped and declared.
EWS_PROJECTION = Projection(
    frozenset({"organizer"}),
    note=("a foreign organizer is not carried; RDATEs and the rules after an event's first RRULE "
          "become explicit occurrences; values Exchange "
          "cannot hold are projected and declared (docs/sync.md, Exchange); writes use SendToNone"))
