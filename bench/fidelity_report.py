"""Print the fidelity table: every corpus file through every path (or the ones named).

    python bench/fidelity_report.py [PATH ...] [--write-expected]

Paths: vdir, caldav-radicale, caldav-xandikos, ews, ics-url. The servers (Radicale, Xandikos,
the EWS emulator, a feed server) run on 127.0.0.1 for the duration. ``--write-expected``
rewrites tests/fidelity/expected.yaml for the paths run (review the diff before committing).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fidelity.conftest import LazyServers
from tests.fidelity.outcome import table
from tests.fidelity.runs import PATHS, PathResult, open_store, run, write_expected


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", choices=[*PATHS, []], default=[])
    parser.add_argument("--write-expected", action="store_true")
    args = parser.parse_args()
    paths = args.paths or list(PATHS)
    with tempfile.TemporaryDirectory(prefix="fidelity-") as tmp:
        root = Path(tmp)
        (root / "servers").mkdir()
        servers = LazyServers(root / "servers")
        store, db_dir = open_store(root)
        results: dict[str, PathResult] = {}
        try:
            for path in paths:
                started = time.monotonic()
                results[path] = run(path, store, servers, work=root)
                print(f"{path}: {time.monotonic() - started:.1f} s, "
                      f"{results[path].meeting_messages} meeting messages", file=sys.stderr)
                if args.write_expected:  # path by path: a later failure loses nothing
                    write_expected({path: results[path]})
        finally:
            store.close()
            servers.stop()
            shutil.rmtree(db_dir, ignore_errors=True)
    print(table({p: r.outcomes for p, r in results.items()}))


if __name__ == "__main__":
    main()
