"""What a sync run does: its mode, and the one run that answers several callers.

- :data:`FULL` — pull, merge and push (a complete run);
- :data:`PULL` — pull and merge, pushing only what the merge could not make the same as the
  spoke (a *pull run*, whose push run comes after every other spoke's pull: ``sync now`` of
  several spokes, :mod:`cirahub.actors.sync_phases`);
- :data:`PUSH` — push only (a *push run*).
"""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["FULL", "PULL", "PUSH", "run_mode"]

FULL, PULL, PUSH = "full", "pull", "push"


def run_mode(modes: Collection[str], push_due: bool = False) -> str:
    """The run that answers every caller that asked for one of ``modes``: a pull run or a
    push run when all asked for that one (a pull run not when a push is due too), else
    (none, both, a complete run) a complete run, which does what either would."""
    kinds = set(modes)
    if len(kinds) == 1 and kinds <= {PULL, PUSH} and not (push_due and PULL in kinds):
        return kinds.pop()
    return FULL
