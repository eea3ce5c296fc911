"""What a source text means, remembered from when it was parsed (parse once per content).

Writing an item to an iCalendar spoke passes its :attr:`~cirahub.core.item.Item.source`
through byte for byte when the item still means exactly what that text says; finding that
out means parsing the text again and comparing. The parser already knew the answer when it
read the text, so it records it here: the SHA-256 of the text → a digest of the item it
parsed (UID, fields, overrides). :func:`known_unchanged` then answers without parsing.
For the most recent :data:`PARSED_MAX` texts it also keeps what the parser made of them
(the item's UID and mappings, not its source), and answers by comparing those with the
item's: no digest of the item to make (a JSON encoding per item written, and its garbage).

Guarantees: an entry is recorded only for a text that is one VCALENDAR whose every item
component has a UID (the cases :func:`cirahub.core.ical_patch.unchanged` accepts), so a
"yes" here is exactly the answer that function would give; equal parsed mappings are
exactly its own test (``parse_item(source) == item``); equal digests mean equal JSON-form
content (a digest can only differ where the items are equal in meaning but not in
Python type, e.g. ``1`` and ``1.0``; any "no" sends the caller down the slow, exact path).
Bounded (:data:`MAX_ENTRIES` digests, :data:`PARSED_MAX` parsed items, least recently used
dropped first), thread-safe, no I/O.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from cirahub.core.item import Item

#: entries kept (about 250 bytes each: 25 MB at most)
MAX_ENTRIES = 100_000

_lock = threading.Lock()
_known: OrderedDict[bytes, str] = OrderedDict()
#: parsed items kept, by their source text (the text and the item's UID and mappings, about
#: 2.5 KB each: 25 MB at most): an initial sync's texts are written to the other spokes right
#: after their parse. Keyed by the text itself: looking it up hashes and compares the text,
#: cheaper than its SHA-256, and exactly (no digest)
PARSED_MAX = 10_000
_parsed: OrderedDict[str, tuple[str, Mapping[str, Any], Mapping[str, Mapping[str, Any]]]] = (
    OrderedDict())


def _key(source: str) -> bytes:
    return hashlib.sha256(source.encode("utf-8", "surrogatepass")).digest()


#: the encoder ``json.dumps(..., sort_keys=True, separators=(",", ":"), default=repr)``
#: builds on each call, built once
_ENCODE = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=repr).encode


def meaning(item: Item) -> str:
    """A digest of what ``item`` means (its UID, fields and overrides; not its source)."""
    data = _ENCODE(
        [item.uid, dict(item.fields), {k: dict(v) for k, v in item.overrides.items()}])
    return hashlib.sha256(data.encode("utf-8", "surrogatepass")).hexdigest()


def remember(item: Item) -> None:
    """Record that ``item.source`` means ``item`` (call only under the module's conditions)."""
    if item.source is None:
        return
    learn(_key(item.source), meaning(item), item)


def known_unchanged(item: Item) -> bool:
    """True when ``item`` means exactly what its source text was parsed as. False means
    "not known here" (text never seen or forgotten, or another meaning — which may still
    be equal in Python terms, see the module docstring): the caller checks the exact way."""
    if item.source is None:
        return False
    with _lock:
        parsed = _parsed.get(item.source)
    # read-only mappings compare as the dicts they wrap: Item's own equality, no copies
    if parsed is not None and parsed == (item.uid, item.fields, item.overrides):
        return True
    key = _key(item.source)
    with _lock:
        value = _known.get(key)
        if value is not None:
            _known.move_to_end(key)
    return value is not None and value == meaning(item)


def recorded(source: str) -> tuple[bytes, str] | None:
    """The entry recorded for ``source``, for another process's :func:`learn` (the parse
    pool's workers hand what their parser recorded to the process that asked)."""
    key = _key(source)
    with _lock:
        value = _known.get(key)
    return None if value is None else (key, value)


def learn(key: bytes, value: str, item: Item | None = None) -> None:
    """Record an entry :func:`recorded` gave in another process (``item``: what the parser
    made of that text, when this process has it)."""
    with _lock:
        _known[key] = value
        _known.move_to_end(key)
        while len(_known) > MAX_ENTRIES:
            _known.popitem(last=False)
        if item is not None and item.source is not None:
            _parsed[item.source] = (item.uid, item.fields, item.overrides)
            _parsed.move_to_end(item.source)
            while len(_parsed) > PARSED_MAX:
                _parsed.popitem(last=False)


def clear() -> None:
    """Forget everything (tests)."""
    with _lock:
        _known.clear()
        _parsed.clear()
