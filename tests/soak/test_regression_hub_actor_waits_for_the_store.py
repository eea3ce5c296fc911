"""Found by the chaos soak: Ray restarted the hub actor (after "kill hub actor") while
PostgreSQL was restarting; ``HubActor.__init__`` raised (connection refused), Ray never retries
a failed creation task and the supervisor creates hub actors only when it starts, so the hub
had no writer for good and every spoke stayed in back-off ("the hub actor is not running").
A hub actor started while its database is briefly away waits for it (bounded) and comes up.

Through the real hub actor class (as a plain object, as Ray constructs it) and the soak's own
PostgreSQL, stopped while the actor starts and started again a moment later."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from cirahub.actors.hub import HubActor
from cirahub.cluster.bootstrap import open_store
from cirahub.cluster.settings import Settings
from tests.soak import postgres

pytestmark = [pytest.mark.soak]


def test_regression_hub_actor_started_while_the_database_restarts_waits_for_it(
        own_postgres: tuple[Path, postgres.OwnPostgres]) -> None:
    root, pg = own_postgres
    settings = Settings(data_dir=root / "data", db_url=pg.url())
    open_store(settings).create_hub("team")
    pg.stop("immediate")
    back = threading.Timer(3.0, pg.start)
    back.start()
    started = time.monotonic()
    actor = HubActor(settings.to_dict())  # Ray's creation task
    back.join()
    assert time.monotonic() - started >= 2.5  # it did wait for the database
    assert len(actor._epochs) == 1  # and is the writer of the hub
