"""The fidelity harness: every corpus file through every path, judged by the reference
libraries (see tests/fidelity/outcome.py for the statuses).

Per path, ``test_path`` syncs the whole corpus once (rounds of files with distinct UIDs),
prints the table (``-s`` shows it) and checks that no meeting message was sent; then one
``test_file`` per (path, file) holds the file to ``expected.yaml`` strictly: a known failure is
an xfail with its reason, a file that gets better or worse fails until the data file says so.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.corpus import corpus

from . import reference
from .conftest import PathResults
from .outcome import GOOD, table
from .runs import PATHS, PathResult, expected

_EXPECTED = expected()


def _result(path: str, request: pytest.FixtureRequest) -> PathResult:
    results: PathResults = request.getfixturevalue("fidelity_results")
    return results[path]


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", PATHS)
def test_path(path: str, request: pytest.FixtureRequest, capsys: Any) -> None:
    result = _result(path, request)
    with capsys.disabled():
        print(f"\n{table({path: result.outcomes})}\n")
    assert result.meeting_messages == 0
    assert set(result.outcomes) == {f.id for f in corpus()}


@pytest.mark.timeout(1200)  # the first test of a session (-k) runs every path it selected
@pytest.mark.parametrize("file_id", [f.id for f in corpus()])
@pytest.mark.parametrize("path", PATHS)
def test_file(path: str, file_id: str, request: pytest.FixtureRequest) -> None:
    outcome = _result(path, request).outcomes[file_id]
    known = _EXPECTED.get(path, {}).get(file_id)
    if outcome.status in GOOD:
        assert known is None, (
            f"now {outcome.status} (was expected {known.status if known else ''}): remove it "
            "from tests/fidelity/expected.yaml")
        return
    assert known is not None, f"{outcome.status}: {outcome.detail}"
    assert known.status == outcome.status, (
        f"was expected {known.status} ({known.why}), now {outcome.status}: {outcome.detail}")
    pytest.xfail(f"{known.status}: {known.why}")


def _one_item(data: bytes) -> bool:
    """Whether ``data`` is one calendar item: components of a single UID (a file a folder
    keeps as one file; a file of several items is written back as one file per item)."""
    cal = reference.load(data)
    uids = {str(c["UID"]) for c in cal.subcomponents if "UID" in c}
    return len(uids) == 1


@pytest.mark.timeout(1200)
@pytest.mark.parametrize("path", ["vdir", "ics-url"])
def test_unchanged_items_are_copied_byte_for_byte(path: str, request: pytest.FixtureRequest,
                                                   ) -> None:
    """Issue 9: an item the hub did not change is written byte-identical to its source (as
    vdirsyncer copies it). On the paths into a folder from a folder or a feed, every copy
    judged identical of a one-item source file holds exactly the source's bytes."""
    outcomes = _result(path, request).outcomes
    checked = [f.id for f in corpus() if outcomes[f.id].status == "identical"
               and _one_item(f.read())]
    re_spelled = [i for i in checked if not outcomes[i].byte_identical]
    assert re_spelled == [], f"{len(re_spelled)} unchanged items re-spelled: {re_spelled}"
    # most of the corpus is one-item files: a harness that stopped finding them checks nothing
    assert len(checked) >= 100, len(checked)
