"""The live progress display of `cirahubctl sync`."""

from __future__ import annotations

import io

from cirahub.control.cli_sync import LiveProgress
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def _events():
    for spoke in ("a", "b"):
        for phase in ("pulling", "merging", "pushing", "done"):
            yield pb.SpokeProgress(hub="h", spoke=spoke, phase=phase, pulled=3)
        yield pb.SpokeProgress(hub="h", spoke=spoke, phase="done", status="ok", pulled=3,
                               pushed=1)


def test_without_a_terminal_one_line_per_finished_run():
    out = io.StringIO()
    live = LiveProgress(out)
    for event in _events():
        live.update(event)
    assert out.getvalue().splitlines() == [
        "h/a: ok       pulled 3  merged 0  pushed 1  conflicts 0",
        "h/b: ok       pulled 3  merged 0  pushed 1  conflicts 0",
    ]


def test_on_a_terminal_lines_are_redrawn_in_place():
    out = Tty()
    live = LiveProgress(out)
    for event in _events():
        live.update(event)
    text = out.getvalue()
    assert "\x1b[2F" in text  # moved up over the two spoke lines to redraw them
    last = text.rsplit("\x1b[2F", 1)[1]
    assert "h/a: ok" in last and "h/b: ok" in last
