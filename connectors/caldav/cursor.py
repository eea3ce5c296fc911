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

After a push run of many writes the connector may ask the server what changed since the
token (:func:`settled`): when the answer is exactly our own writes, each with the ETag we
hold for it, the new token replaces the old one and its notes (nothing between the two
states is anyone else's, and nothing we wrote went missing), so the next poll is not a
report of our own writes. Anything else keeps the cursor as it was.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence, Set
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

from cirahub.connectors.base import Write, WriteOutcome, WriteResult
from cirahub.connectors.caldav.syncing import ListingResult, SyncUnsupported, TokenRejected
from cirahub.core.errors import CirahubError

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


def settled(state: dict[str, object], changed: Mapping[str, str | None], removed: Set[str],
            token: str, written: Mapping[str, str], deleted: Set[str]) -> str | None:
    """The cursor of ``state`` moved to ``token`` when what the server reports between the
    two tokens (``changed`` with ETags, ``removed``) is provably our own writes since the
    old token: every href we wrote (``written``: href → the ETag our links hold) changed to
    that ETag, every href we deleted removed, nothing else reported, and no note of an
    earlier run left that this run's writes do not cover. None when that cannot be shown."""
    noted = set(hrefs(state.get("new"))) | set(hrefs(state.get("gone")))
    if not noted <= (written.keys() | deleted):
        return None
    if changed.keys() != written.keys() or removed != deleted:
        return None
    if any(not etag or changed[h] != etag for h, etag in written.items()):
        return None
    return json.dumps({"k": state.get("k"), "c": state.get("c"), "t": token})


#: what :meth:`Settling.run` asks the server: changed hrefs → ETag, removed, new token
Report = Callable[[str], tuple[dict[str, str | None], set[str], str]]


class OwnWrites:
    """The writes of one push run: href → the ETag its link holds, and hrefs deleted."""

    def __init__(self) -> None:
        self.written: dict[str, str] = {}
        self.deleted: set[str] = set()

    def clear(self) -> None:
        self.written, self.deleted = {}, set()

    def record(self, writes: Sequence[Write], outcomes: Sequence[WriteOutcome]) -> None:
        """Keep what the successful ones of ``writes`` left on the server."""
        for w, r in zip(writes, outcomes, strict=True):
            if not isinstance(r, WriteResult):
                continue
            if w.op == "delete":
                self.written.pop(r.remote_id, None)
                self.deleted.add(r.remote_id)
            else:
                self.deleted.discard(r.remote_id)
                self.written[r.remote_id] = r.remote_version

    def take(self, cursor: str | None, config_key: str, at_least: int) -> Settling | None:
        """What to check to move ``cursor`` past these writes (forgotten here either way):
        None when they were fewer than ``at_least`` (the next poll's report of them costs
        less than the check's request) or ``cursor`` holds no token."""
        written, deleted = self.written, self.deleted
        self.clear()
        state = parse_state(cursor, config_key)
        token = state.get("t") if state is not None else None
        if cursor is None or state is None or not isinstance(token, str) or not token or \
                len(written) + len(deleted) < at_least:
            return None
        return Settling(cursor, state, token, written, deleted)


@dataclass(frozen=True)
class Settling:
    """A cursor to move past one run's own writes, if the server's report proves it may."""

    cursor: str
    state: dict[str, object]
    token: str
    written: Mapping[str, str]
    deleted: Set[str]

    def run(self, report: Report) -> str:
        """The cursor past the writes when :func:`settled` proves it; else, and on any
        failure of the report, :attr:`cursor` as it was (its notes still say what we wrote)."""
        try:
            changed, removed, new_token = report(self.token)
        except (CirahubError, SyncUnsupported, TokenRejected):
            return self.cursor
        return settled(self.state, changed, removed, new_token, self.written,
                       self.deleted) or self.cursor


class Settler:
    """Runs a :class:`Settling` in a background thread, so the push's end does not wait for
    its report; the next poll from the same cursor takes its answer (waiting for it if it is
    still running), a poll from any other cursor drops it."""

    def __init__(self) -> None:
        self._pool: ThreadPoolExecutor | None = None
        self._pending: tuple[str, Future[str]] | None = None

    def start(self, settling: Settling, report: Report) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="caldav-settle")
        self._pending = (settling.cursor, self._pool.submit(settling.run, report))

    def adopt(self, cursor: str | None) -> str | None:
        """``cursor``, or the settled one when a check started from ``cursor``."""
        pending, self._pending = self._pending, None
        if pending is None or pending[0] != cursor:
            return cursor
        return pending[1].result()

    def close(self) -> None:
        """Wait for a running check (it uses the connector's HTTP client) and stop."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
