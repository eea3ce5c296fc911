"""The ``ews-public-folder`` spoke kind: a calendar folder in Exchange public folders."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, FieldType, SpokeKind
from cirahub.connectors.kinds.ews_fields import EWS_PROJECTION, EWS_SECRET, SIGN_IN_FIELDS

KIND = SpokeKind(
    name="ews-public-folder",
    summary="a calendar folder in Exchange public folders (EWS)",
    pb_field="ews_public_folder",
    retry_bounded=True,
    fields=(
        ConfigField("server", "the EWS URL (https://host/EWS/Exchange.asmx) or host",
                    key="service_endpoint", required=True),
        ConfigField("username", "the user to log in as (app-only OAuth: the mailbox to act as)",
                    required=True),
        ConfigField("folder", "the public folder path", required=True, metavar="/A/B"),
        ConfigField("mailbox", "the user's e-mail address, when the username is not one "
                    "(DOMAIN\\user, plain)"),
        *SIGN_IN_FIELDS,
        ConfigField("public_folder_routing", "send Exchange Online's public-folder routing headers "
                    "(found by Autodiscover)", type=FieldType.SWITCH),
        ConfigField("autodiscover_url", "the Autodiscover SOAP URL for public-folder routing (default "
                    "from the server)", metavar="URL"),
    ),
    factory="cirahub.connectors.ews:open_public_folder",
    validate="cirahub.connectors.ews:validate_public_folder",
    secret=EWS_SECRET,
    discover="cirahub.connectors.ews.discovery:discover_public_folders",
    projection=EWS_PROJECTION,
    carries_components=True,
)
