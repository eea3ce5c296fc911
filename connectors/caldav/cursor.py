"""The CalDAV pull cursor: JSON ``{"k": config key, "c": collection path, "t": sync token,
"new": [hrefs], "gone": [hrefs]}``.

Nothing that happens between two polls is skipped. sync-collection reports the *net* change
between two states, so an item we created after the token was issued and that someone
deleted before the next poll would never be reported (it is in neither state); nor would an
item we deleted that came back as it was (a create of ours held in the network, delivered
after the delete: at the same href, byte for byte what the token's state holds). Our own
writes happen after the pull, so :func:`note_writes` notes the hrefs we created (``new``) and
deleted (``gone``) in the cursor, and the next delta asks the server about those the report
does not mention (:func:`check_written`): a 404 for a created one is a server-reported
deletion, an answer for a deleted one an item to fetch.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from cirahub.connectors.caldav.syncing import ListingResult

#: created and deleted hrefs a cursor remembers; past this the token is dropped (a complete
#: listing next)
MAX_PENDING_WRITES = 2000


def parse_state(cursor: str | None, config_key: str) -> dict[str, object] | None:
    """The cursor's JSON state when it belongs to the config ``config_key``, else None."""
    if not cursor:
        return None
    try:
        state = json.loads(cursor)
    except ValueError:
        return None
    if not isinstance(state, dict) or state.get("k") != config_key:
        return None
    return state


def hrefs(noted: object) -> list[str]:
    """The hrefs a cursor notes under one key (anything else there is ignored)."""
    return [h for h in noted if isinstance(h, str)] if isinstance(noted, list) else []


def note_writes(state: dict[str, object], created: Sequence[str],
                deleted: Sequence[str]) -> str:
    """The cursor of ``state`` (one with a token) noting ``created`` and ``deleted`` too."""
    new = set(hrefs(state.get("new"))) | set(created)
    gone = (set(hrefs(state.get("gone"))) | set(deleted)) - set(created)
    new -= set(deleted)
    if len(new) + len(gone) > MAX_PENDING_WRITES:
        state["t"] = None  # cheaper to list everything once than to ask about each
        state.pop("new", None)
        state.pop("gone", None)
    else:
        state["new"], state["gone"] = sorted(new), sorted(gone)
    return json.dumps(state)


def check_written(result: ListingResult, created: Sequence[str], deleted: Sequence[str],
                  known: Mapping[str, str],
                  etags: Callable[[Sequence[str]], dict[str, str | None]]) -> ListingResult:
    """``result`` with what the net-change report cannot show of the items we wrote after
    the token: ``etags`` (the server's answer for the hrefs asked, gone ones absent) says a
    created one is gone, or a deleted one (no longer known) is back, an item to fetch."""
    reported = result.present | set(result.deleted)
    unsure_created = [h for h in created if h in known and h not in reported]
    unsure_deleted = [h for h in deleted if h not in known and h not in reported]
    if not unsure_created and not unsure_deleted:
        return result
    held = etags([*unsure_created, *unsure_deleted])
    gone = {h for h in unsure_created if h not in held}
    back = {h: held[h] for h in unsure_deleted if h in held}
    return replace(result, deleted=tuple(sorted({*result.deleted, *gone})),
                   to_fetch={**result.to_fetch, **back}, present=result.present | set(back))
