"""What a running server publishes in its data folder for the clients on the same machine:
the address it listens on (:data:`ADDRESS_FILE`) and its control token (:data:`TOKEN_FILE`),
and the header the token travels in.

Every ``cirahubctl`` command reads these before its first call, so this module imports
nothing beyond ``os`` (no pathlib, no hmac or secrets: the server's side of the token lives
in :mod:`cirahub.control.auth` and :mod:`cirahub.control.token_file`).
"""

from __future__ import annotations

import os

#: where a running server writes the address it listens on, for clients on the same machine
ADDRESS_FILE = "control.address"
#: the server's control token, mode 0600 (see :mod:`cirahub.control.token_file`)
TOKEN_FILE = "control.token"
#: the metadata key of ``Bearer <token>``
HEADER = "authorization"


def read_token(data_dir: str | os.PathLike[str]) -> str | None:
    """The token stored in ``data_dir``, or None when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(data_dir, TOKEN_FILE)) as fh:  # as Path.read_text() read it
            text = fh.read().strip()
    except OSError:
        return None
    return text or None


def read_address(data_dir: str | os.PathLike[str]) -> list[str]:
    """The words of the address file in ``data_dir`` (``HOST:PORT`` and, for a TLS server,
    ``tls``); empty when there is none (or it is unreadable)."""
    try:
        with open(os.path.join(data_dir, ADDRESS_FILE)) as fh:
            return fh.read().split()
    except OSError:
        return []
