"""The exact `spoke add ... --kind ews-public-folder` form scripts rely on, end to end: the
real CLI, a real server process, and the EWS emulator speaking SOAP to exchangelib."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.control.test_cli_e2e import event, summaries
from tests.ews_emulator import EwsEmulator

from .conftest import Server

pytestmark = pytest.mark.ray

USER, PASSWORD = "svc-sync@example.com", "pf-secret-Zz9"


def test_public_folder_and_mailbox_spokes_through_the_cli(server: Server, tmp_path: Path) -> None:
    with EwsEmulator({USER: PASSWORD}) as emu:
        folder_id = emu.add_public_folder("/Team/Calendar")
        emu.add_mailbox(USER)
        emu.user.create(folder_id, subject="Budget review",
                        start=datetime(2030, 6, 3, 9, tzinfo=UTC),
                        end=datetime(2030, 6, 3, 10, tzinfo=UTC))
        local = tmp_path / "local"
        local.mkdir()
        (local / "offsite.ics").write_text(event("offsite@test", "Offsite"))
        env = {"EX_PW": PASSWORD}
        assert server.ctl("hub", "create", "exchange").code == 0
        r = server.ctl("spoke", "add", "exchange", "pf", "--kind", "ews-public-folder",
                       "--server", emu.url, "--username", USER, "--password-env", "EX_PW",
                       "--folder", "/Team/Calendar", env=env)
        assert r.code == 0, r.text
        r = server.ctl("spoke", "add", "exchange", "mbx", "--kind", "ews-mailbox",
                       "--server", emu.url, "--username", USER, "--password-env", "EX_PW",
                       env=env)
        assert r.code == 0, r.text
        r = server.ctl("spoke", "add", "exchange", "local", "--kind", "vdir", "--path", str(local))
        assert r.code == 0, r.text
        shown = server.ctl("spoke", "show", "exchange", "pf")
        assert emu.url in shown.out and "/Team/Calendar" in shown.out and PASSWORD not in shown.out

        r = server.ctl("sync", "exchange")
        assert r.code == 0, r.text
        assert "Budget review" in summaries(local).values()
        assert [i["subject"] for i in emu.user.find(folder_id, "Offsite")] == ["Offsite"]
        assert emu.meeting_messages == []

        # wrong password: refused before it is stored, with a reason the operator can read
        bad = ("spoke", "add", "exchange", "bad", "--kind", "ews-public-folder",
               "--server", emu.url, "--username", USER, "--password-env", "EX_PW",
               "--folder", "/Team/Calendar")
        r = server.ctl(*bad, env={"EX_PW": "wr0ng-Secret-77"})
        assert r.code == 7, r.text
        assert "not stored" in r.err and "password" in r.err and "wr0ng" not in r.text
        assert server.ctl("spoke", "show", "exchange", "bad").code == 3
        # stored anyway with --no-check: the sync fails with the same auth error
        r = server.ctl(*bad, "--no-check", env={"EX_PW": "wr0ng-Secret-77"})
        assert r.code == 0, r.text
        r = server.ctl("sync", "exchange", "--spoke", "bad")
        assert r.code == 1, r.text
        assert "auth" in (r.out + r.err).lower()
        assert "wr0ng-Secret-77" not in server.log_text()
