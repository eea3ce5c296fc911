"""What a spoke holds of an item when it is not the item itself (its declared projection,
``Store.list_projections``) is shown to operators, through the real CLI and server: the count
per spoke in `cirahubctl status`, the notes (which field or component, and why) per copy in
`cirahubctl item show` (issue 9: the projections were recorded but shown nowhere)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.caldav.servers import PASSWORD, USER, Radicale

from .conftest import Server
from .test_cli_e2e import event, js, radicale  # noqa: F401  (the Radicale fixture)

pytestmark = pytest.mark.ray

FREEBUSY = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VFREEBUSY\r\n"
            "UID:busy@proj\r\nDTSTAMP:20300101T000000Z\r\n"
            "FREEBUSY:20300601T090000Z/20300601T100000Z\r\nEND:VFREEBUSY\r\nEND:VCALENDAR\r\n")


def test_regression_projections_are_shown_in_status_and_item_show(
        server: Server, tmp_path: Path, radicale: Radicale) -> None:  # noqa: F811
    """Radicale does not hold VFREEBUSY components: its copy of that item is a declared
    projection ("VFREEBUSY: not written (...)"), which an operator now sees."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "busy.ics").write_text(FREEBUSY)
    (src / "meet.ics").write_text(event("meet@proj", "Planning"))
    assert server.ctl("hub", "create", "proj").code == 0
    r = server.ctl("spoke", "add", "proj", "src", "--kind", "vdir", "--path", str(src))
    assert r.code == 0, r.text
    cal = radicale.base + radicale.mkcalendar()
    r = server.ctl("spoke", "add", "proj", "dav", "--kind", "caldav", "--url", cal,
                   "--username", USER, "--password-env", "PW", env={"PW": PASSWORD})
    assert r.code == 0, r.text
    assert server.ctl("sync", "proj").code == 0

    status = {s["spoke"]: s for s in js(server, "status", "proj")}
    assert status["dav"]["projected_count"] == 1
    assert status["src"].get("projected_count", 0) == 0
    human = server.ctl("status", "proj")
    assert human.code == 0, human.text
    header, *rows = human.out.splitlines()
    column = header.split().index("PROJECTED")
    assert {r.split()[1]: r.split()[column] for r in rows} == {"dav": "1", "src": "-"}

    detail = js(server, "item", "show", "proj", "busy@proj")
    copies = {c["spoke"]: c for c in detail["item"]["copies"]}  # type: ignore[index]
    [note] = copies["dav"]["projection"]
    assert note.startswith("VFREEBUSY: not written (the collection does not hold VFREEBUSY "
                           "components"), note
    assert not copies["src"].get("projection")
    shown = server.ctl("item", "show", "proj", "busy@proj")
    assert shown.code == 0, shown.text
    assert "dav holds a projection of it (what its copy is not, and why):" in shown.out
    assert "VFREEBUSY: not written" in shown.out
    plain = server.ctl("item", "show", "proj", "meet@proj")
    assert "holds a projection" not in plain.out, plain.text
