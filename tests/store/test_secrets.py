"""Secrets are encrypted at rest and never shown."""

from __future__ import annotations

import os
import stat

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from cirahub.core.errors import InvalidInput, StoreError
from cirahub.store import load_or_create_key
from cirahub.store import models as m
from cirahub.store.secrets import ENV_KEY, SecretBox

SECRET = "hunter2-Pa55word"


def test_secret_is_encrypted_at_rest_and_never_in_repr(store, make_store):
    store.create_hub("team")
    spoke = store.add_spoke("team", "exchange", "ews-mailbox", {"username": "u"},
                            None, secret=SECRET)
    with store.engine.connect() as conn:
        raw = conn.execute(select(m.spokes.c.secret)).scalar_one()
    assert raw and SECRET.encode() not in bytes(raw)
    assert spoke.has_secret and SECRET not in repr(spoke) and SECRET not in repr(store)
    assert store.get_spoke_secret(spoke.id) == SECRET
    assert SECRET not in repr(store.list_spokes())
    updated = store.update_spoke(spoke.id, secret="new-one")
    assert updated.has_secret and store.get_spoke_secret(spoke.id) == "new-one"
    cleared = store.update_spoke(spoke.id, clear_secret=True)
    assert not cleared.has_secret and store.get_spoke_secret(spoke.id) is None


def test_wrong_key_cannot_read_secrets(store, make_store):
    store.create_hub("team")
    spoke = store.add_spoke("team", "x", "caldav", {}, None, secret=SECRET)
    stranger = make_store(secret_key=Fernet.generate_key())
    with pytest.raises(StoreError) as err:
        stranger.get_spoke_secret(spoke.id)
    assert SECRET not in str(err.value) and err.value.fields == {"spoke_id": spoke.id}


def test_key_file_is_created_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_KEY, raising=False)
    key = load_or_create_key(tmp_path / "d")
    path = tmp_path / "d" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_or_create_key(tmp_path / "d") == key
    SecretBox(key)  # a valid Fernet key
    other = Fernet.generate_key()
    monkeypatch.setenv(ENV_KEY, other.decode())
    assert load_or_create_key(tmp_path / "d") == other
    monkeypatch.setenv(ENV_KEY, "not-a-key")
    with pytest.raises(InvalidInput):
        load_or_create_key(tmp_path / "d")
    assert "not-a-key" not in repr(SecretBox(other)) and other.decode() not in repr(
        SecretBox(other))
