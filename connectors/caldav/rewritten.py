"""A write whose stored text the server rewrote (:meth:`CalDAVConnector._checked` found it):
mended when the meaning changed and :func:`.writing.repaired` has a text that says the same
to readers (sent once more, If-Match), and a note saying what the server holds."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Protocol

import requests

from cirahub.connectors.base import WriteResult
from cirahub.connectors.caldav import readback, writing
from cirahub.connectors.caldav.resources import remote_item
from cirahub.core.fingerprint import fingerprint
from cirahub.core.item import Item
from cirahub.core.model import RemoteItem


class Resender(Protocol):
    """What :func:`after_rewrite` needs of the connector."""

    def _send(self, href: str, body: str, condition: Mapping[str, str]) -> requests.Response:
        ...

    def _version_after_put(self, response: requests.Response, href: str, item: Item) -> str:
        ...

    def _read_back(self, href: str) -> RemoteItem | None: ...


def after_rewrite(conn: Resender, result: WriteResult, item: Item, body: str,
                  stored: RemoteItem, changes: tuple[str, ...]) -> WriteResult:
    """``result`` of a write whose stored text differs from ``body`` as ``changes`` say:
    mended when the meaning changed and :func:`.writing.repaired` has a text for it, and
    with a note saying what the server holds."""
    sent_item = remote_item(result.remote_id, "", body).item
    meaning_changed = stored.item is None or sent_item is None or \
        fingerprint(sent_item) != fingerprint(stored.item)
    mend: list[str] = []
    text = writing.repaired(item, datetime.now(UTC), mend) if meaning_changed else None
    if text is None or text == body or not mend or not result.remote_version:
        return replace(result, notes=(*result.notes, readback.note(changes)))
    response = conn._send(result.remote_id, text, {"If-Match": result.remote_version})
    if not 200 <= response.status_code < 300:  # the first text stays, as the server holds it
        return replace(result, notes=(*result.notes, readback.note(changes)))
    version = conn._version_after_put(response, result.remote_id, item)
    notes = [*result.notes, f"the server changed what readers see in the text sent "
             f"({'; '.join(changes)}): sent repaired ({'; '.join(mend)})"]
    again = conn._read_back(result.remote_id)
    if again is not None and again.remote_version == version:
        left = readback.rewrites(text, (again.item.source if again.item else again.raw)
                                 or text)
        notes += [readback.note(left)] if left else []
    return WriteResult(result.remote_id, version, tuple(notes))
