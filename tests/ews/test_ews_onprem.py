"""The emulator's on-premises mode with NTLM: unmodified exchangelib (requests_ntlm) does the
real handshake, the emulator verifies it (pyspnego's acceptor); wrong passwords and basic auth
are refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from cirahub.connectors.registry import open_connector
from cirahub.core.errors import AuthError
from tests.contract import samples
from tests.ews_emulator import EwsEmulator

from .conftest import connector_config

USER, PASSWORD = "svc-ntlm@example.com", "Ntlm-Pass-42"


@pytest.fixture
def ntlm_emu() -> Iterator[EwsEmulator]:
    with EwsEmulator({USER: PASSWORD}, ntlm=True) as emu:
        emu.add_public_folder("/Calendars/Team")
        yield emu


def _config(emu: EwsEmulator, auth: str) -> dict[str, object]:
    return {**connector_config(emu, "ews-public-folder"), "username": USER, "auth_type": auth}


def test_ntlm_sign_in_reads_and_writes(ntlm_emu: EwsEmulator) -> None:
    conn = open_connector("ews-public-folder", _config(ntlm_emu, "ntlm"), PASSWORD)
    try:
        created = conn.create(samples.simple("ntlm@test"), "hub-ntlm")
        assert [r.remote_id for r in conn.delta(None, {}).changed] == [created.remote_id]
    finally:
        conn.close()
    assert {r.user for r in ntlm_emu.requests} == {USER}


@pytest.mark.parametrize(("auth", "password"), [("ntlm", "wrong-password"), ("basic", PASSWORD)])
def test_wrong_password_or_basic_is_refused(ntlm_emu: EwsEmulator, auth: str, password: str) -> None:
    conn = open_connector("ews-public-folder", _config(ntlm_emu, auth), password)
    with pytest.raises(AuthError):
        conn.delta(None, {})
    conn.close()
    assert not ntlm_emu.requests  # nothing was answered
