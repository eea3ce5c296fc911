"""The ``memory`` spoke kind: an in-process calendar (tests and benchmarks)."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, SpokeKind

KIND = SpokeKind(
    name="memory",
    summary="an in-process calendar (tests, benchmarks)",
    pb_field="memory",
    fields=(ConfigField("calendar", "calendar name", required=True),),
    factory="cirahub.connectors.memory:open_memory",
    validate="cirahub.connectors.memory:validate",
)
