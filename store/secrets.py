"""Encryption at rest of spoke secrets (passwords, tokens) with a Fernet key.

Where the key comes from, first match wins: an explicit key passed to ``Store.open``, the
environment variable ``CIRAHUB_SECRET_KEY`` (a cluster's nodes must share one key), the file
``<data_dir>/secret.key`` (created with mode 0600 on first use).
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from cirahub.core.errors import InvalidInput, StoreError

ENV_KEY = "CIRAHUB_SECRET_KEY"
KEY_FILE = "secret.key"


def load_or_create_key(data_dir: Path) -> bytes:
    """The Fernet key: ``$CIRAHUB_SECRET_KEY`` if set, else ``<data_dir>/secret.key``, created
    (mode 0600, directory created too) when missing. Raises InvalidInput for a malformed key."""
    env = os.environ.get(ENV_KEY)
    if env:
        return _checked(env.strip().encode("ascii"), source=ENV_KEY)
    path = Path(data_dir) / KEY_FILE
    if path.exists():
        return _checked(path.read_bytes().strip(), source=str(path))
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Fernet.generate_key()
    try:
        # O_EXCL: two processes starting at once must not overwrite each other's key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _checked(path.read_bytes().strip(), source=str(path))
    with os.fdopen(fd, "wb") as fh:
        fh.write(key + b"\n")
    return key


def _checked(key: bytes, *, source: str) -> bytes:
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise InvalidInput(
            "the secret key is not a valid Fernet key (32 url-safe base64-encoded bytes)",
            source=source,
        ) from None
    return key


class SecretBox:
    """Encrypts and decrypts secrets. Its repr never shows the key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(_checked(key, source="secret_key"))

    def __repr__(self) -> str:
        return "SecretBox(<key hidden>)"

    def encrypt(self, secret: str) -> bytes:
        return self._fernet.encrypt(secret.encode("utf-8"))

    def decrypt(self, token: bytes, **context: str) -> str:
        """Raises StoreError (not retryable in practice: the key is wrong) when ``token`` was
        encrypted with another key; ``context`` names what was being read."""
        try:
            return self._fernet.decrypt(bytes(token)).decode("utf-8")
        except InvalidToken:
            raise StoreError(
                "cannot decrypt a stored secret: the secret key differs from the one it was "
                "stored with (set CIRAHUB_SECRET_KEY to the original key)",
                **context,
            ) from None
