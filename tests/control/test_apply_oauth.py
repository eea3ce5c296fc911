"""Topology files for Exchange Online spokes: the OAuth fields are config fields, the client
secret comes from client_secret_env / client_secret_file like a password (never the file)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from cirahub.control.cli_apply import load_topology

SPOKE = """hubs:
  - name: team
    spokes:
      - name: online
        kind: ews-public-folder
        server: https://outlook.office365.com/EWS/Exchange.asmx
        username: svc@contoso.com
        folder: /Calendars/Team
        auth: oauth-app
        tenant: contoso.onmicrosoft.com
        client_id: 0f3c1a2b-1111-4c4c-9d9d-123456789abc
"""


def test_client_secret_env_is_the_spoke_secret(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXO_CLIENT_SECRET", "s3cret-value")
    path = tmp_path / "topology.yaml"
    path.write_text(SPOKE + "        client_secret_env: EXO_CLIENT_SECRET\n")
    spoke = load_topology(str(path)).hubs[0].spokes[0]
    assert spoke.secret == "s3cret-value"
    cfg = spoke.config.ews_public_folder
    assert (cfg.auth, cfg.tenant, cfg.client_id) == ("oauth-app", "contoso.onmicrosoft.com",
                                                     "0f3c1a2b-1111-4c4c-9d9d-123456789abc")


def test_two_secret_keys_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EXO_CLIENT_SECRET", "x")
    path = tmp_path / "topology.yaml"
    path.write_text(SPOKE + "        client_secret_env: EXO_CLIENT_SECRET\n        password_env: EXO_CLIENT_SECRET\n")
    with pytest.raises(click.UsageError, match="not several"):
        load_topology(str(path))
