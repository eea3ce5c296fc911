"""The docs' examples about graph spokes are the code: every ``cirahubctl`` command in
docs/exchange-online.md parses with the current command line (it gets as far as reaching a
server), and the registration shown in docs/architecture.md is the graph kind's own."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cirahub.control.cli import main
from cirahub.control.errors import ExitCode

DOCS = Path(__file__).resolve().parents[2] / "docs"


def _commands(text: str) -> list[list[str]]:
    out = []
    for block in re.findall(r"```sh\n(.*?)```", text, re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split(" #")[0].strip()  # a shell comment ends the command
            if line.startswith("cirahubctl "):
                out.append(line.split()[1:])
    return out


COMMANDS = _commands((DOCS / "exchange-online.md").read_text())


def test_the_doc_has_the_recipe_commands() -> None:
    verbs = {tuple(c[:2]) for c in COMMANDS}
    assert {("spoke", "add"), ("spoke", "remove"), ("sync", "team"), ("hub", "create")} <= verbs


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[:3]) for c in COMMANDS])
def test_cli_example_parses(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPH_CLIENT_SECRET", "example-secret")
    monkeypatch.setenv("EXO_CLIENT_SECRET", "example-secret")
    with pytest.raises(SystemExit) as done:
        main([*argv, "--address", "127.0.0.1:9", "--token", "t"])  # nothing listens on port 9
    assert done.value.code == ExitCode.UNREACHABLE


def test_architecture_shows_the_graph_registration() -> None:
    text = (DOCS / "architecture.md").read_text()
    source = (Path(__file__).resolve().parents[2] / "connectors/kinds/graph.py").read_text()
    kind = source[source.index("KIND = SpokeKind("):]
    assert f"```python\n{kind}```" in text
