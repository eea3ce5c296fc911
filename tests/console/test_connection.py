"""``test_connection``: what the console's "Test connection" button and picker show, against a
real Radicale and real folders. Nothing is written anywhere."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cirahub.control.connection import test_connection as check
from cirahub.control.spoke_checks import check_spoke_input
from tests.caldav.servers import PASSWORD, USER, Radicale


@pytest.fixture(scope="module")
def radicale(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicale]:
    srv = Radicale(tmp_path_factory.mktemp("radicale"))
    yield srv
    srv.stop()


def caldav(url: str, password: str = PASSWORD, **extra: str) -> tuple[str, dict, str]:
    config = check_spoke_input("caldav", {"url": url, "username": USER, **extra}, password)
    return "caldav", config, password


def test_principal_with_several_calendars_lists_them(radicale: Radicale) -> None:
    radicale.mkcalendar("work", "Work")
    radicale.mkcalendar("home", "Home")
    result = check(*caldav(radicale.base + f"/{USER}/"))
    assert result.ok, result.message
    labels = {c.label for c in result.choices}
    assert {"Work", "Home"} <= labels
    assert all(c.key == "calendar" for c in result.choices)


def test_one_calendar_url_connects(radicale: Radicale) -> None:
    path = radicale.mkcalendar("team", "Team")
    result = check(*caldav(radicale.base + path))
    assert result.ok and "Team" in result.message
    assert [c.value for c in result.choices] == [path]


def test_wrong_password_is_a_clear_failure(radicale: Radicale) -> None:
    path = radicale.mkcalendar()
    result = check(*caldav(radicale.base + path, password="wrong-password"))
    assert not result.ok
    assert result.error_code == "auth_failed", result
    assert "wrong-password" not in result.message


def test_vdir_lists_subfolders_with_ics_files(tmp_path: Path) -> None:
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "a.ics").write_text("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")
    (tmp_path / "empty").mkdir()
    result = check("vdir", {"path": str(tmp_path)}, None)
    assert result.ok
    assert [c.value for c in result.choices] == [str(tmp_path), str(tmp_path / "alice")]
    missing = check("vdir", {"path": str(tmp_path / "new")}, None)
    assert missing.ok and "created on the first sync" in missing.message
    (tmp_path / "file").write_text("x")
    not_dir = check("vdir", {"path": str(tmp_path / "file")}, None)
    assert not not_dir.ok and not_dir.error_field == "path"
