"""The ``graph`` spoke kind: a Microsoft 365 user, shared-mailbox or group calendar."""

from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, FieldType, Projection, SecretSpec, SpokeKind

KIND = SpokeKind(
    name="graph",
    summary="a Microsoft 365 user, shared-mailbox or group calendar (Microsoft Graph)",
    pb_field="graph",
    retry_bounded=True,
    fields=(
        ConfigField("tenant", "the Microsoft Entra tenant (id or domain)", required=True),
        ConfigField("client_id", "the app registration's application (client) id",
                    required=True),
        ConfigField("mailbox", "the user or shared mailbox (address or id); or --group"),
        ConfigField("group", "a Microsoft 365 group id (its calendar)"),
        ConfigField("calendar", "calendar name under the mailbox (default: its calendar)"),
        ConfigField("auth", "how to sign in: oauth-app (default) or oauth-delegated (then "
                    "`cirahubctl login`)", metavar="oauth-app|oauth-delegated"),
        ConfigField("certificate", "OAuth app-only: PEM file with the app certificate's private "
                    "key and certificate (instead of a client secret)", type=FieldType.PATH,
                    metavar="FILE"),
        ConfigField("authority", "the login host (default https://login.microsoftonline.com)",
                    metavar="URL"),
        ConfigField("authority_ca_file", "CA certificate file trusted for the login host",
                    key="ca_file", type=FieldType.PATH, metavar="FILE"),
        ConfigField("graph_url", "the Graph endpoint (default the v1.0 one)", cli=False),
    ),
    factory="cirahub.connectors.graph:open_graph",
    validate="cirahub.connectors.graph.config:validate",
    discover="cirahub.connectors.graph:discover",
    # the client secret (oauth-app), the certificate key's passphrase (optional), or the
    # refresh token `cirahubctl login` stores (oauth-delegated: none needed to attach)
    secret=SecretSpec("client secret", always=True, unless=("certificate",),
                      unless_values=(("auth", "oauth-delegated"),)),
    projection=Projection(
        frozenset({"organizer", "rdates", "url", "more_rrules"}),
        note="meetings are written as appointments: the attendee list goes into the body, "
             "never into attendees (Graph would invite them); organizer, RDATEs, URL and the "
             "rules after an event's first RRULE are not carried"),
)
