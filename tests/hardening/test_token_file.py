"""Issue 13 item 1: an unsafe control token file is refused by ``cirahubctl server``.

A group/world-readable token may be known to other local users (the server used to make it
0600 silently and keep using it); a short one is guessable; an empty one was replaced by a
new token nobody could read. Each is refused before the server starts anything, with a
message naming the file and the fix; the file is left as it was.
"""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from tests.control.conftest import CTL


def _server(data: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CIRAHUB_", "RAY_ADDRESS"))}
    # the server must fail on the token before it listens or starts Ray
    return subprocess.run([CTL, "server", "--data-dir", str(data), "--listen", "127.0.0.1:0",
                           "--http-listen", "off"],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.mark.parametrize(("content", "mode", "said"), [
    ("x" * 43 + "\n", 0o644, "readable by other users (mode 0644)"),
    ("short-token\n", 0o600, "shorter than 32 bytes"),
    ("", 0o600, "is empty"),
], ids=["world-readable", "short", "empty"])
def test_regression_unsafe_token_file_is_refused(tmp_path: Path, content: str, mode: int,
                                                 said: str) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    token = data / "control.token"
    token.write_text(content)
    token.chmod(mode)
    done = _server(data)
    assert done.returncode != 0
    assert str(token) in done.stderr and said in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert token.read_text() == content and stat.S_IMODE(token.stat().st_mode) == mode
    assert not (data / "control.address").exists()  # it never listened


def test_regression_token_file_symlink_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    target = tmp_path / "elsewhere"
    target.write_text("y" * 43)
    target.chmod(0o600)
    (data / "control.token").symlink_to(target)
    done = _server(data)
    assert done.returncode != 0 and "symbolic link" in done.stderr, done.stderr
