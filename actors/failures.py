"""Failed spoke writes as an operator sees them: per item, with the reason.

A write that fails for a reason of its own (not a stale remote version, which only means
"re-pull and re-plan") is recorded with its item — in the run's error, the spoke's last error
and one quarantine row per item (see ``Store.record_write_errors``) — while the rest of the
batch goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from cirahub.connectors.base import Write, WriteResult
from cirahub.core.counts import Count
from cirahub.core.errors import CirahubError, PreconditionFailed, error_record
from cirahub.core.model import HubItem, WriteFailure
from cirahub.core.ops import SpokeOp

log = logging.getLogger("cirahub.actors.cycle")
#: failed writes named in a run's error message (all of them are in the quarantine list)
NAMED_FAILURES = 5


def failure_of(op: SpokeOp, w: Write, error: CirahubError, candidates: Mapping[str, HubItem]) -> WriteFailure:
    """The record of ``op``'s failed write ``w``."""
    hub = candidates.get(op.hub_item_id)
    return WriteFailure(hub_item_id=op.hub_item_id, uid=hub.uid if hub is not None else "",
                        op=w.op, code=error.code, message=error.message)


def failure_record(spoke_id: str, exc: Exception) -> dict[str, Any]:
    """The recorded error of a run that failed with ``exc`` (logged here)."""
    if isinstance(exc, CirahubError):
        log.warning("sync run of spoke %s failed: %s", spoke_id, exc)
    else:
        # A bug (ours or a library's) must not leave the run "running" forever nor stop
        # the other spokes; what is recorded names its type only (see error_record).
        log.exception("sync run of spoke %s failed unexpectedly", spoke_id)
    return error_record(exc)


def partial_error(failures: Sequence[WriteFailure]) -> dict[str, Any]:
    """The error of a run whose writes partly failed: how many, and which items with why
    (the first :data:`NAMED_FAILURES`; ``cirahubctl quarantine`` lists every one)."""
    if not failures:
        return {"code": "partial", "message": "some writes were stale; retried next run"}
    named = "; ".join(f"{f.op} {f.uid or f.hub_item_id}: {f.message}" for f in failures[:NAMED_FAILURES])
    more = f"; and {len(failures) - NAMED_FAILURES} more" if len(failures) > NAMED_FAILURES else ""
    return {"code": "partial",
            "message": f"{len(failures)} write(s) failed, retried next run: {named}{more}",
            "fields": {"failed_writes": len(failures)}}


def with_unsupported(result: WriteResult, hub: HubItem | None, unsupported: Iterable[str]) -> WriteResult:
    """``result`` with one more note per field of the hub item the spoke's kind cannot hold
    (the planner left it out of the write): what the spoke holds is declared whole."""
    if hub is None or hub.item is None:
        return result
    dropped = [f"{name}: not written (this spoke kind cannot hold it)"
               for name in sorted(unsupported) if hub.item.get(name)]
    return replace(result, notes=(*result.notes, *dropped)) if dropped else result


def note_projection(spoke_id: str, op: SpokeOp, result: WriteResult, counts: dict[str, int]) -> None:
    """A write the spoke holds as its declared projection of the item (see its notes)."""
    if result.notes:
        counts[Count.PROJECTED] = counts.get(Count.PROJECTED, 0) + 1
        log.info("spoke %s holds a projection of %s: %s", spoke_id, op.hub_item_id, "; ".join(result.notes))


def note_failure(spoke_id: str, op: SpokeOp, w: Write, error: CirahubError,
                  candidates: Mapping[str, HubItem], counts: dict[str, int]) -> list[WriteFailure]:
    """Count a failed write; the item's own failures (not a stale version, which is re-planned)
    are returned to be recorded with it."""
    stale = isinstance(error, PreconditionFailed)
    key = Count.PUSH_STALE if stale else Count.PUSH_FAILED
    counts[key] = counts.get(key, 0) + 1
    log.info("write to spoke %s failed: %s", spoke_id, error)
    return [] if stale else [failure_of(op, w, error, candidates)]
