"""The ``ews-mailbox`` spoke kind: a calendar in an Exchange mailbox (EWS)."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, SpokeKind
from cirahub.connectors.kinds.ews_fields import EWS_PROJECTION, EWS_SECRET, SIGN_IN_FIELDS

KIND = SpokeKind(
    name="ews-mailbox",
    summary="a calendar in an Exchange mailbox (EWS)",
    pb_field="ews_mailbox",
    retry_bounded=True,
    fields=(
        ConfigField("server", "the EWS URL (https://host/EWS/Exchange.asmx) or host",
                    key="service_endpoint", required=True),
        ConfigField("username", "the user to log in as (app-only OAuth: the mailbox to act as)",
                    required=True),
        ConfigField("mailbox", "the mailbox's address (default: the user's)"),
        ConfigField("calendar", "calendar folder under the mailbox's calendar", key="folder"),
        *SIGN_IN_FIELDS,
    ),
    factory="cirahub.connectors.ews:open_mailbox",
    validate="cirahub.connectors.ews:validate_mailbox",
    secret=EWS_SECRET,
    discover="cirahub.connectors.ews.discovery:discover_mailbox_calendars",
    projection=EWS_PROJECTION,
    carries_components=True,
)
