"""Fixtures: a running EWS emulator and connectors for its folders (``public``, ``conn`` — the
public folder in Europe/Berlin —, ``mailbox``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from cirahub.connectors.registry import open_connector
from tests.ews_emulator import EwsEmulator

USER, PASSWORD = "svc@example.com", "secret"


@pytest.fixture
def emu() -> Iterator[EwsEmulator]:
    with EwsEmulator({USER: PASSWORD}) as server:
        yield server


def connector_config(emu: EwsEmulator, kind: str, **extra: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {"service_endpoint": emu.url, "username": USER, "max_retry_seconds": 5.0,
                           "folder": "/Calendars/Team" if kind == "ews-public-folder" else ""}
    cfg.update(extra)
    return cfg


@pytest.fixture
def public(emu: EwsEmulator) -> Iterator[Any]:
    emu.add_public_folder("/Calendars/Team")
    conn = open_connector("ews-public-folder", connector_config(emu, "ews-public-folder"), PASSWORD)
    yield conn
    conn.close()


@pytest.fixture
def conn(emu: EwsEmulator) -> Iterator[Any]:
    """The public folder as a hub in Europe/Berlin writes it (the fidelity tests' connector);
    fails the test if the hub made Exchange send meeting mail."""
    emu.add_public_folder("/Calendars/Team")
    c = open_connector("ews-public-folder",
                       connector_config(emu, "ews-public-folder", timezone="Europe/Berlin"),
                       PASSWORD)
    yield c
    c.close()
    assert emu.meeting_messages == [], "the hub made Exchange send meeting mail"


@pytest.fixture
def mailbox(emu: EwsEmulator) -> Iterator[Any]:
    conn = open_connector("ews-mailbox", connector_config(emu, "ews-mailbox"), PASSWORD)
    yield conn
    conn.close()
