"""The ``caldav`` spoke kind: a calendar collection on any CalDAV server."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, FieldType, SecretSpec, SpokeKind

KIND = SpokeKind(
    name="caldav",
    summary="a calendar collection on a CalDAV server",
    pb_field="caldav",
    fields=(
        ConfigField("url", "the calendar's URL (a collection, a principal or a calendar home)",
                    required=True),
        ConfigField("username", "the user to log in as"),
        ConfigField("calendar", "calendar name under --url"),
        ConfigField("skip_tls_verify", "do not verify the server's certificate (test servers "
                    "only)", key="verify_tls", type=FieldType.SWITCH, inverted=True),
    ),
    factory="cirahub.connectors.caldav:open_caldav",
    validate="cirahub.connectors.caldav.config:validate",
    secret=SecretSpec("password", when=("username",)),
    discover="cirahub.connectors.caldav:discover_calendars",
    carries_components=True,
)
