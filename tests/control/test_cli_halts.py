"""Halts through the real ``cirahubctl`` and a real server: a confirmation is bound to the halt
it answers, restore is the other answer, and status shows what a halt holds back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Server
from .test_cli_e2e import event, js, summaries

pytestmark = pytest.mark.ray


def _hub(server: Server, tmp_path: Path, name: str, n: int = 12) -> tuple[Path, Path]:
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.mkdir()
    for i in range(n):
        (src / f"e{i}.ics").write_text(event(f"e{i}@{name}", f"Event {i}",
                                             start=f"203006{i + 1:02d}T100000Z",
                                             end=f"203006{i + 1:02d}T110000Z"))
    assert server.ctl("hub", "create", name).code == 0
    for spoke, folder in (("src", src), ("dst", dst)):
        r = server.ctl("spoke", "add", name, spoke, "--kind", "vdir", "--path", str(folder))
        assert r.code == 0, r.text
    r = server.ctl("sync", name)
    assert r.code == 0, r.text
    assert len(summaries(dst)) == n
    return src, dst


def _halt(server: Server, hub: str) -> dict:
    return {s["spoke"]: s for s in js(server, "status", hub)}["src"].get("halt") or {}


def test_regression_confirm_without_a_halt_is_refused(server: Server, tmp_path: Path) -> None:
    """`confirm` on a spoke that was not halted used to succeed and disarm the next halt: the
    mass delete that followed went through to every other spoke."""
    src, dst = _hub(server, tmp_path, "armed")
    r = server.ctl("confirm", "armed", "src")
    assert r.code == 2, r.text
    assert "not halted" in r.err and "Traceback" not in r.text
    for i in range(11):
        (src / f"e{i}.ics").unlink()
    r = server.ctl("sync", "armed")
    assert r.code == 1, r.text
    assert len(summaries(dst)) == 12


def test_regression_confirmation_expires_when_the_folder_changes(server: Server,
                                                                 tmp_path: Path) -> None:
    """The operator confirmed the 11 deletions shown; one more file vanished before the run.
    The confirmation does not cover it: the run halts again and deletes nothing."""
    src, dst = _hub(server, tmp_path, "moving")
    for i in range(11):
        (src / f"e{i}.ics").unlink()
    assert server.ctl("sync", "moving").code == 1
    first = _halt(server, "moving")
    assert first["lost"] == 11 and first["deleting"] == 11 and not first["confirmed"]

    human = server.ctl("status", "moving")
    assert human.code == 0, human.text
    assert "is halted" in human.out and "Event 0" in human.out and first["id"] in human.out

    preview = server.ctl("confirm", "moving", "src", "--dry-run")
    assert preview.code == 0, preview.text
    assert "dry run" in preview.out and "Event 3" in preview.out
    assert _halt(server, "moving")["confirmed"] is False  # nothing changed
    wrong = server.ctl("confirm", "moving", "src", "--halt", "not-this-one")
    assert wrong.code == 2 and "no longer current" in wrong.err, wrong.text

    done = server.ctl("confirm", "moving", "src", "--halt", first["id"])
    assert done.code == 0, done.text
    assert _halt(server, "moving")["confirmed"] is True
    (src / "e11.ics").unlink()
    r = server.ctl("sync", "moving")
    assert r.code == 1, r.text
    assert len(summaries(dst)) == 12
    second = _halt(server, "moving")
    assert second["id"] != first["id"] and second["lost"] == 12

    answered = json.loads(server.ctl("confirm", "moving", "src", "--json").out)
    assert answered["halt"]["id"] == second["id"] and answered["halt"]["confirmed"]
    r = server.ctl("sync", "moving")
    assert r.code == 0, r.text
    assert summaries(dst) == {}
    assert _halt(server, "moving") == {}


def test_regression_restore_writes_the_hub_copies_back(server: Server, tmp_path: Path) -> None:
    """A halted spoke could only be confirmed: there was no way to say "no". Someone emptied
    the folder by mistake: `restore` says no to the halt, the next sync writes every item back
    into it and nothing is deleted anywhere."""
    src, dst = _hub(server, tmp_path, "undo")
    for path in src.glob("*.ics"):
        path.unlink()
    assert server.ctl("sync", "undo").code == 1
    assert server.ctl("restore", "undo", "dst").code == 2  # not halted: refused

    preview = server.ctl("restore", "undo", "src", "--dry-run")
    assert preview.code == 0, preview.text
    assert "would keep all 12 items" in preview.out and "write 12" in preview.out
    assert not list(src.glob("*.ics"))
    r = server.ctl("restore", "undo", "src")
    assert r.code == 0, r.text
    assert "writes 12 of them back" in r.out
    r = server.ctl("sync", "undo")
    assert r.code == 0, r.text
    assert len(summaries(src)) == len(summaries(dst)) == 12
    status = {s["spoke"]: s for s in js(server, "status", "undo")}
    assert not status["src"]["halted"] and status["src"]["state"] == "ok"


def test_shell_completion_offers_hub_and_spoke_names(server: Server, tmp_path: Path) -> None:
    """`cirahubctl status <TAB>` completes hub names, `confirm HUB <TAB>` spoke names, asked of
    the running server (docs/cli.md, "Shell completion")."""
    _hub(server, tmp_path, "completing", n=1)

    def complete(*words: str) -> list[str]:
        r = server.ctl(env={"_CIRAHUBCTL_COMPLETE": "bash_complete",
                            "COMP_WORDS": " ".join(("cirahubctl", *words)),
                            "COMP_CWORD": str(len(words))})
        assert r.code == 0, r.text
        return [line.split(",", 1)[1] for line in r.out.splitlines() if "," in line]

    assert "completing" in complete("status", "comp")
    assert complete("confirm", "completing", "") == ["dst", "src"]
    assert complete("spoke", "show", "completing", "s") == ["src"]
    script = server.ctl(env={"_CIRAHUBCTL_COMPLETE": "bash_source"})
    assert "complete" in script.out and "cirahubctl" in script.out
