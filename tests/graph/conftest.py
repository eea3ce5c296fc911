"""Fixtures for graph spokes: the OAuth token emulator, the Graph emulator with a shared
mailbox, and connector configs pointing at both."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from cirahub.connectors import oauth
from tests.graph_emulator import GraphEmulator
from tests.oauth_emulator import TokenEmulator

APP_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "graph~Secret.Value-1"
MAILBOX = "team-calendar@contoso.onmicrosoft.com"
GRAPH = "https://graph.microsoft.com"


@dataclass
class GraphWorld:
    tokens: TokenEmulator
    graph: GraphEmulator
    tenant: str

    def config(self, mailbox: str = MAILBOX, **extra: Any) -> dict[str, Any]:
        return {"tenant": self.tenant, "client_id": APP_ID, "mailbox": mailbox,
                "authority": self.tokens.authority, "ca_file": self.tokens.ca_file,
                "graph_url": self.graph.url, "max_retry_seconds": 5, "page_size": 3, **extra}


@pytest.fixture
def world() -> Iterator[GraphWorld]:
    oauth.forget_cached_tokens()
    with TokenEmulator() as tokens:
        tenant = tokens.add_tenant("contoso.onmicrosoft.com")
        tokens.add_app(tenant, APP_ID, secret=SECRET, roles={GRAPH: {"Calendars.ReadWrite"}})
        with GraphEmulator(tokens) as graph:
            graph.add_mailbox(MAILBOX)
            yield GraphWorld(tokens, graph, tenant.domain)
            assert graph.attendee_writes == 0, "an attendee was written: Graph would invite"
            assert graph.without_immutable_ids == 0
            assert graph.peak_concurrency <= 4
    oauth.forget_cached_tokens()
