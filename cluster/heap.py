"""The garbage collector of a long-lived cirahub process, tuned once it has started.

A server's process holds Ray's, gRPC's, SQLAlchemy's and cirahub's modules, classes and
caches: hundreds of thousands of objects that live as long as the process. CPython's cyclic
collector walks all of them in every full collection, and a sync allocates enough (a first
pull of 5,000 items) for several: measured in the supervisor of an embedded server, about
0.1 s per full collection, 0.5 s per initial sync of 5,000 events. :func:`settle` moves
what is alive at start-up out of the collector's reach (``gc.freeze``: never collected,
never walked) and lets the young generation grow larger before it is collected, so a run's
short-lived objects are collected less often. Nothing is leaked that was collectable:
cycles made later are collected as before (a frozen object is one that start-up kept).
"""

from __future__ import annotations

import gc
import os

#: allocations (minus deallocations) between two young collections (CPython's default: 700)
YOUNG_THRESHOLD = 20_000
#: setting this environment variable to ``0`` leaves the collector as CPython sets it
ENV = "CIRAHUB_GC_SETTLE"


def settle() -> bool:
    """Freeze what is alive now and raise the young generation's threshold (once more is
    harmless: objects alive since are frozen too). False when ``CIRAHUB_GC_SETTLE=0``."""
    if os.environ.get(ENV, "1") == "0":
        return False
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
    return True
