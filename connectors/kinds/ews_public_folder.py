"""The ``ews-public-folder`` spoke kind: a calendar folder in Exchange public folders."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, Projection, SecretSpec, SpokeKind

KIND = SpokeKind(
    name="ews-public-folder",
    summary="a calendar folder in Exchange public folders (EWS)",
    pb_field="ews_public_folder",
    fields=(
        ConfigField("server", "the EWS URL (https://host/EWS/Exchange.asmx) or host",
                    key="service_endpoint", required=True),
        ConfigField("username", "the user to log in as", required=True),
        ConfigField("folder", "the public folder path", required=True, metavar="/A/B"),
        ConfigField("auth_type", "basic, ntlm (empty: the server's default)", cli=False),
    ),
    factory="cirahub.connectors.ews:open_public_folder",
    validate="cirahub.connectors.ews:validate_public_folder",
    secret=SecretSpec("password", always=True),
    projection=Projection(frozenset({"rdates", "organizer"}),
                          note=("organizer and RDATEs are not carried; values Exchange cannot hold are projected "
                                "and declared (docs/sync.md, Exchange); writes use SendToNone")),
)
