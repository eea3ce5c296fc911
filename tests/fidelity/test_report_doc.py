"""docs/fidelity.md agrees with tests/fidelity/expected.yaml (it is rendered from it), and
the rendering counts what the data file says."""

from __future__ import annotations

from tests.corpus import corpus

from .report_doc import DOC, counts, render
from .runs import PATHS, Expectation, expected


def test_docs_fidelity_md_agrees_with_expected_yaml() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/fidelity.md is stale: run `python bench/fidelity_report.py --write-doc`")


def test_every_path_accounts_for_every_corpus_file() -> None:
    files = corpus()
    data = expected()
    for path in PATHS:
        c = counts(data.get(path, {}), files)
        assert sum(c.values()) == len(files)
        listed = data.get(path, {})
        assert len(files) - c["identical"] - c["unreadable"] - c["empty"] == len(listed)


def test_a_listed_file_is_counted_by_its_status_and_named_with_why() -> None:
    files = corpus()
    first = next(f.id for f in files if counts({}, [f])["identical"])
    data = {"vdir": {first: Expectation("distorted", "a reason | with a bar")}}
    text = render(data, files)
    identical = counts({}, files)["identical"] - 1
    assert f"| vdir | {len(files)} | {identical} | 0 | 0 | 1 |" in text
    assert f"- `{first}` — **distorted**: a reason \\| with a bar" in text
