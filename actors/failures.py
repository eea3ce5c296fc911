"""Failed spoke writes as an operator sees them: per item, with the reason.

A write that fails for a reason of its own (not a stale remote version, which only means
"re-pull and re-plan") is recorded with its item — in the run's error, the spoke's last error
and one quarantine row per item (see ``Store.record_write_errors``) — while the rest of the
batch goes on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from cirahub.connectors.base import Write
from cirahub.core.errors import CirahubError
from cirahub.core.model import HubItem, WriteFailure
from cirahub.core.ops import SpokeOp

#: failed writes named in a run's error message (all of them are in the quarantine list)
NAMED_FAILURES = 5


def failure_of(op: SpokeOp, w: Write, error: CirahubError, candidates: Mapping[str, HubItem]) -> WriteFailure:
    """The record of ``op``'s failed write ``w``."""
    hub = candidates.get(op.hub_item_id)
    return WriteFailure(hub_item_id=op.hub_item_id, uid=hub.uid if hub is not None else "",
                        op=w.op, code=error.code, message=error.message)


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
