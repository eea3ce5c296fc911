"""The ``ews-mailbox`` spoke kind: a calendar in an Exchange mailbox (EWS)."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, Projection, SecretSpec, SpokeKind

KIND = SpokeKind(
    name="ews-mailbox",
    summary="a calendar in an Exchange mailbox (EWS)",
    pb_field="ews_mailbox",
    fields=(
        ConfigField("server", "the EWS URL (https://host/EWS/Exchange.asmx) or host",
                    key="service_endpoint", required=True),
        ConfigField("username", "the user to log in as", required=True),
        ConfigField("mailbox", "the mailbox's address (default: the user's)"),
        ConfigField("calendar", "calendar folder under the mailbox's calendar", key="folder"),
        ConfigField("auth_type", "basic, ntlm (empty: the server's default)", cli=False),
    ),
    factory="cirahub.connectors.ews:open_mailbox",
    validate="cirahub.connectors.ews:validate_mailbox",
    secret=SecretSpec("password", always=True),
    projection=Projection(frozenset({"rdates", "organizer"}),
                          note=("organizer and RDATEs are not carried; values Exchange cannot hold are projected "
                                "and declared (docs/sync.md, Exchange); writes use SendToNone")),
)
