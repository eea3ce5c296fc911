"""Print the fidelity table: every corpus file through every path (or the ones named).

    python bench/fidelity_report.py [PATH ...] [--write-expected] [--files ID[,ID...]]
    python bench/fidelity_report.py --write-doc

Paths: vdir, caldav-radicale, caldav-xandikos, ews, ics-url. The servers (Radicale, Xandikos,
the EWS emulator, a feed server) run on 127.0.0.1 for the duration. ``--write-expected``
rewrites tests/fidelity/expected.yaml for the paths run, and only those (review the diff before
committing) and docs/fidelity.md from it. ``--write-doc`` only renders docs/fidelity.md from
expected.yaml (no run; tests/fidelity/test_report_doc.py holds the two together). ``--files`` runs only the corpus files named (a comma-separated list of ids), to
look at a few while developing; it cannot be combined with ``--write-expected``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.corpus import CorpusFile, corpus
from tests.fidelity import report_doc
from tests.fidelity.conftest import LazyServers
from tests.fidelity.outcome import table
from tests.fidelity.runs import PATHS, PathResult, open_store, run, write_expected


def _files(ids: str) -> list[CorpusFile]:
    """The corpus files named by ``ids`` (comma-separated); exits naming an unknown id."""
    wanted = [i.strip() for i in ids.split(",") if i.strip()]
    known = {f.id: f for f in corpus()}
    unknown = [i for i in wanted if i not in known]
    if unknown:
        sys.exit(f"unknown corpus file id(s): {', '.join(unknown)}")
    return [known[i] for i in wanted]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", choices=[*PATHS, []], default=[])
    parser.add_argument("--write-expected", action="store_true")
    parser.add_argument("--files", default="", help="comma-separated corpus file ids")
    parser.add_argument("--write-doc", action="store_true",
                        help="render docs/fidelity.md from expected.yaml and exit (no run)")
    args = parser.parse_args()
    if args.write_doc:
        print(f"wrote {report_doc.write()}")
        return
    files = _files(args.files)
    if files and args.write_expected:
        parser.error("--files cannot be combined with --write-expected (it writes whole paths)")
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
                results[path] = run(path, store, servers, files=files or None, work=root)
                print(f"{path}: {time.monotonic() - started:.1f} s, "
                      f"{results[path].meeting_messages} meeting messages", file=sys.stderr)
                if args.write_expected:  # path by path: a later failure loses nothing
                    write_expected({path: results[path]})
                    report_doc.write()
        finally:
            store.close()
            servers.stop()
            shutil.rmtree(db_dir, ignore_errors=True)
    print(table({p: r.outcomes for p, r in results.items()}))


if __name__ == "__main__":
    main()
