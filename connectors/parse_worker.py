"""A worker process of :mod:`cirahub.connectors.parse_pool`: reads and parses vdir files.

Run as ``python -m cirahub.connectors.parse_worker``. It answers ``True`` once started
(the reader imported); each request on stdin is one page:
``(folder, extension, jobs)``; the answer on stdout is each job's items in plain values
(:func:`~cirahub.connectors.parse_pool.to_wire`), read exactly as in process
(:meth:`~cirahub.connectors.vdir.VdirConnector.read_items`). Ends when stdin ends (the
process that started it ended or closed it), or after :data:`~cirahub.connectors.parse_pool.
IDLE_SECONDS` without a request. Nothing else is written to stdout.
"""

from __future__ import annotations

import os
import select
import sys

from cirahub.connectors.parse_pool import IDLE_ENV, IDLE_SECONDS, read_frame, to_wire, write_frame
from cirahub.connectors.vdir import VdirConnector
from cirahub.core import source_cache


def main() -> None:
    # unbuffered: a buffer could hold the next request while select() waits on the pipe
    requests = os.fdopen(sys.stdin.fileno(), "rb", buffering=0, closefd=False)
    answers = sys.stdout.buffer
    sys.stdout = sys.stderr  # a stray print must not tear a frame
    write_frame(answers, True)  # started: the reader is imported
    idle = float(os.environ.get(IDLE_ENV) or IDLE_SECONDS)
    # a worker not asked for a while ends (its memory back); the pool starts a new one
    while select.select([requests], [], [], idle)[0] and (
            request := read_frame(requests)) is not None:
        folder, extension, jobs = request
        connector = VdirConnector(folder, create=False, extension=extension)
        write_frame(answers, [to_wire(connector.read_items(*job)) for job in jobs])
        source_cache.clear()  # what it recorded travelled with the answer


if __name__ == "__main__":
    main()
