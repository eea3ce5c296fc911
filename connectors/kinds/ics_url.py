"""The ``ics-url`` spoke kind: a read-only iCalendar feed."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, Projection, SecretSpec, SpokeKind

KIND = SpokeKind(
    name="ics-url",
    summary="a read-only iCalendar feed",
    pb_field="ics_url",
    fields=(
        ConfigField("url", "the feed's URL", required=True),
        ConfigField("username", "the user for HTTP basic auth (optional)"),
    ),
    factory="cirahub.connectors.icsurl:open_icsurl",
    validate="cirahub.connectors.icsurl:validate",
    secret=SecretSpec("password", when=("username",)),
    projection=Projection(note="read-only: the hub never writes here"),
    read_only=True,
)
