"""The connection check of an EWS spoke (``spoke add`` / ``spoke test``, the console's "Test
connection") against the EWS emulator: the operator waits for its answer, so it retries a
server that does not answer for at most ``CHECK_RETRY_SECONDS``, not for the spoke's own
``max_retry_seconds`` (60 s unless set, meant for its runs)."""

from __future__ import annotations

from cirahub.control.connection import test_connection as check
from cirahub.control.spoke_checks import check_spoke_input
from tests.ews.conftest import PASSWORD, USER
from tests.ews_emulator import EwsEmulator

KIND = "ews-public-folder"


def test_regression_a_check_does_not_wait_out_a_busy_servers_long_back_off(
        emu: EwsEmulator) -> None:
    """Before: the check honoured any back-off within the spoke's 60 s, so a server asking
    for 20 s kept ``spoke add`` waiting that long (and an unreachable one, the whole 60 s:
    57 s per example in tests/control/test_examples.py). Now a back-off the check's budget
    cannot hold is answered at once as a failed check, saying why."""
    emu.add_public_folder("/Calendars/Team")
    config = check_spoke_input(KIND, {"service_endpoint": emu.url, "username": USER,
                                      "folder": "/Calendars/Team"}, PASSWORD)
    emu.busy(count=1, back_off_ms=20_000)  # beyond the check's budget, within the spoke's
    busy = check(KIND, config, PASSWORD)
    assert not busy.ok, busy  # before: waited the 20 s, then connected
    assert "ErrorServerBusy" in busy.message and "gave up after 1 attempts" in busy.message, busy
    again = check(KIND, config, PASSWORD)  # the server answers again: so does the check
    assert again.ok, again
