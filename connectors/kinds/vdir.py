"""The ``vdir`` spoke kind: a local folder of ``.ics`` files, one item each."""
from __future__ import annotations

from cirahub.connectors.kinds import ConfigField, FieldType, SpokeKind

KIND = SpokeKind(
    name="vdir",
    summary="a local folder of .ics files, one item each",
    pb_field="vdir",
    fields=(
        ConfigField("path", "the folder of .ics files (created if missing)", required=True,
                    type=FieldType.PATH),
        ConfigField("node", "cluster: the node the folder is on (its cirahub-node label or "
                    "IP address); the spoke runs only there", metavar="NAME"),
    ),
    factory="cirahub.connectors.vdir:open_vdir",
    validate="cirahub.connectors.vdir:validate",
    carries_components=True,
    # a batch of writes costs two syncfs barriers and a link commit whatever its size (a
    # chunk's files are written in a few ms): 500 per batch instead of 100 makes a 5,000-item
    # push 10 batches, not 50
    write_chunk=500,
)
