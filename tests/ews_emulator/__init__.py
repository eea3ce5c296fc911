"""An EWS (Exchange Web Services) emulator that exchangelib's unmodified client talks to.

Usage::

    with EwsEmulator({"svc@example.com": "secret"}) as emu:
        folder_id = emu.add_public_folder("/Calendars/Team")
        ...  # exchangelib Configuration(service_endpoint=emu.url, ...)

See :mod:`.server` for the fault knobs and the request log, :mod:`.user` for direct edits.
"""

from __future__ import annotations

from .server import EwsEmulator, Request
from .user import User

__all__ = ["EwsEmulator", "Request", "User"]
