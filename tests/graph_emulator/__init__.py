"""A local Microsoft Graph calendar endpoint for tests (see :mod:`.server`)."""

from __future__ import annotations

from .server import GraphEmulator

__all__ = ["GraphEmulator"]
