"""A local OAuth 2.0 token endpoint shaped like the Microsoft identity platform (see
:mod:`tests.oauth_emulator.server`)."""

from __future__ import annotations

from .keys import AppCertificate, make_app_certificate
from .server import InvalidToken, TokenEmulator

__all__ = ["AppCertificate", "InvalidToken", "TokenEmulator", "make_app_certificate"]
