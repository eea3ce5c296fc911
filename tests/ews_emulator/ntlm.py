"""NTLM for the emulator's on-premises mode: the connection-based handshake IIS does
(Negotiate → 401 with a Challenge → Authenticate, verified), on pyspnego's NTLM acceptor.

The acceptor checks responses against a credential file named by ``NTLM_USER_FILE`` (one
``DOMAIN:USER:PASSWORD`` line per user); :func:`credential_file` writes it and sets the
variable for this process. A connection that completed the handshake stays authenticated
(IIS behaves so), which is why the handshake state lives with the connection.
"""

from __future__ import annotations

import base64
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spnego


def credential_file(users: dict[str, str]) -> Path:
    """Write the users (name → password) for the acceptor; exchangelib sends an e-mail style
    name with an empty domain (``\\user@example.com``)."""
    folder = Path(tempfile.mkdtemp(prefix="ews-ntlm-"))
    path = folder / "ntlm_users"
    path.write_text("".join(f":{name}:{password}\n" for name, password in users.items()))
    os.environ["NTLM_USER_FILE"] = str(path)
    return path


@dataclass
class NtlmConnection:
    """Handshake state of one TCP connection."""

    context: Any = None
    user: str | None = None
    steps: list[str] = field(default_factory=list)

    def step(self, header: str) -> tuple[str | None, str | None]:
        """(user once authenticated, challenge header to send back) for an Authorization
        header ``NTLM <base64>``; (None, None) when the response is refused."""
        scheme, _, blob = header.partition(" ")
        if scheme.lower() not in ("ntlm", "negotiate") or not blob:
            return None, None
        if self.context is None or self.context.complete:
            self.context = spnego.server(protocol="ntlm")
        try:
            out = self.context.step(base64.b64decode(blob))
        except (spnego.exceptions.SpnegoError, ValueError):
            self.context = None
            return None, None
        self.steps.append("challenge" if out else "authenticate")
        if out:
            return None, f"NTLM {base64.b64encode(out).decode()}"
        if self.context.complete:
            self.user = str(self.context.client_principal or "").lstrip("\\").lower()
            return self.user, None
        return None, None
