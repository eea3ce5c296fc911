"""Every `cirahubctl` example in README.md, docs/ and `--help` runs against a real server.

Examples are taken from fenced ``sh`` blocks and indented blocks of the docs, and from the
"Example(s):" paragraphs of every command's help. They run in order, per source, with HOME
pointing at a scratch folder (so ``~/calendars/...`` is created there; ``~/calendars/alice``
starts with one event, UID ``standup@example.com``, as docs/cli.md says) and every
``--password-env VAR`` / ``--client-secret-env VAR`` set. An example whose calendar lives at
an ``example.com`` host cannot be reached from a test: it must be refused by the connection
check (exit 7, "--no-check" in the message) — which proves it passed every other validation —
and it must then succeed with ``--no-check``.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from cirahub.control.cli import cli

from .conftest import CTL, Server, start_server, stop_server

pytestmark = pytest.mark.ray

ROOT = Path(__file__).resolve().parents[2]
#: docs whose examples run elsewhere, against the servers they need
ELSEWHERE = {"exchange-online.md": "tests/graph/test_docs_examples.py"}
DOCS = [ROOT / "README.md",
        *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name not in ELSEWHERE)]
#: every HTTP client of the server (requests, httpx, msal) sends non-loopback requests to
#: this closed loopback port: the examples' example.com calendars are refused at once and no
#: request ever leaves the machine (nor does a DNS lookup of their hosts)
NO_WAY_OUT = {"HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9",
              "NO_PROXY": "127.0.0.1,localhost,::1"}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The module's server, with no way off the machine (see :data:`NO_WAY_OUT`)."""
    saved = {k: os.environ.get(k) for k in NO_WAY_OUT}
    os.environ.update(NO_WAY_OUT)
    try:
        srv = start_server(tmp_path_factory.mktemp("examples-server"))
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    yield srv
    stop_server(srv.proc)


#: the event docs/cli.md's item examples show (in ~/calendars/alice, as the docs say)
STANDUP = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//docs//EN\r\nBEGIN:VEVENT\r\n"
           "UID:standup@example.com\r\nDTSTAMP:20300101T000000Z\r\n"
           "DTSTART:20300601T090000Z\r\nDTEND:20300601T091500Z\r\nSUMMARY:Daily standup\r\n"
           "RRULE:FREQ=DAILY;COUNT=30\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")

#: lines of the docs that are not examples to run here: the fixture runs the server; discover
#: and login answer with what a real calendar / login host holds (they have no --no-check),
#: so they run against the emulators in test_cli_exchange_online.py
SKIP = re.compile(r"^cirahubctl (server|demo|discover|login)\b")


def _joined(lines: list[str]) -> list[str]:
    out: list[str] = []
    buf = ""
    for line in lines:
        line = re.sub(r"\s+#\s.*$", "", line.rstrip())  # a trailing comment
        if line.endswith("\\"):
            buf += line[:-1].strip() + " "
            continue
        out.append((buf + line.strip()).strip())
        buf = ""
    return [c for c in out if c]


def doc_examples(path: Path) -> list[str]:
    text = path.read_text()
    blocks = re.findall(r"```(?:sh|bash|shell)\n(.*?)```", text, re.S)
    blocks += ["\n".join(m.splitlines()) for m in
               re.findall(r"(?:^|\n)\n((?:    .*\n)+)", text)]
    lines: list[str] = []
    for block in blocks:
        lines += _joined([ln.strip() for ln in block.splitlines()])
    return [ln for ln in lines if ln.startswith(("cirahubctl ", "export "))]


def help_examples() -> list[str]:
    out: list[str] = []

    def walk(cmd: click.Command) -> None:
        doc = cmd.help or ""
        match = re.search(r"Examples?:\n(.*?)(?:\n\s*\n|$)", doc, re.S)
        if match:
            out.extend(c for c in _joined(match.group(1).splitlines())
                       if c.startswith("cirahubctl "))
        if isinstance(cmd, click.Group):
            for name in sorted(cmd.commands):
                walk(cmd.commands[name])

    walk(cli)
    return out


def _sources() -> dict[str, list[str]]:
    out = {p.name: doc_examples(p) for p in DOCS}
    out["--help"] = help_examples()
    return {k: v for k, v in out.items() if v}


def test_the_docs_have_examples() -> None:
    found = _sources()
    assert len(found.get("README.md", [])) >= 5 and len(found["--help"]) >= 5, found


@pytest.mark.parametrize("source", sorted(_sources()))
def test_every_example_runs(server: Server, tmp_path: Path, source: str) -> None:
    home = tmp_path / "home"
    (home / "calendars" / "alice").mkdir(parents=True)
    (home / "calendars" / "alice" / "standup.ics").write_text(STANDUP)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRAHUB_")}
    env.update(HOME=str(home), CIRAHUB_DATA_DIR=str(server.data_dir))
    hub = f"ex-{source.replace('.', '-').strip('-')}"
    commands = _sources()[source]
    if not any(re.match(r"cirahubctl hub create team\b", c) for c in commands):
        _run([CTL, "hub", "create", hub], env, tmp_path)
    _write_topology(tmp_path)
    unreachable: set[str] = set()  # spokes stored with --no-check (their host is example.com)
    for line in commands:
        if SKIP.match(line):
            continue
        if line.startswith("export "):
            name, _, value = line[len("export "):].partition("=")
            env[name] = shlex.split(value)[0] if value else ""
            continue
        args = [a.replace("team", hub) if a == "team" else a for a in shlex.split(line)[1:]]
        for var in re.findall(r"--(?:password|client-secret)-env (\w+)", line):
            env.setdefault(var, "example-secret")
        done = _run([CTL, *args], env, tmp_path)
        remote = "example.com" in line or bool(unreachable & set(args))
        if done.returncode == 7 and remote and "--no-check" in done.stderr:
            done = _run([CTL, *args, "--no-check"], env, tmp_path)
            if args[:2] == ["spoke", "add"]:
                unreachable.add(args[3])
        assert done.returncode == 0, f"{source}: {line}\n{done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr


def _run(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


def _write_topology(folder: Path) -> None:
    """The README's topology.yaml, for its `apply -f topology.yaml` example."""
    text = (ROOT / "README.md").read_text()
    match = re.search(r"```yaml\n# topology.yaml\n(.*?)```", text, re.S)
    if match:
        (folder / "topology.yaml").write_text(match.group(1))
