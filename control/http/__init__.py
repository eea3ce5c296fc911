"""The HTTP side of the control plane: web console, ``/metrics``, ``/healthz``, ``/readyz``.

:func:`start_console` is what ``cirahubctl server`` calls next to the gRPC server.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

#: the console's address when --http-listen is not given
DEFAULT_HTTP_LISTEN = "127.0.0.1:7080"
#: where a running server publishes its console's URL, for clients and tests on this machine
CONSOLE_ADDRESS_FILE = "console.address"


def start_console(runtime: Any, listen: str | None, token: str, data_dir: Path,
                  tls: Any = None) -> Any:
    """Start the HTTP side on ``listen`` and publish its URL in the data folder. ``None``
    means the default address; if that one is taken, a warning is logged and the server runs
    without a console (an address given explicitly that cannot be bound is an error).
    ``"off"``: no console. Returns the running server (``stop()``) or None."""
    from cirahub.control.http.server import start_http
    from cirahub.core.errors import InvalidInput

    if listen == "off":
        return None
    try:
        server = start_http(runtime, listen or DEFAULT_HTTP_LISTEN, token, data_dir, tls)
    except InvalidInput as exc:
        if listen is not None:
            raise
        log.warning("no web console: %s (give --http-listen HOST:PORT)", exc.message)
        return None
    path = Path(data_dir) / CONSOLE_ADDRESS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(server.url + "\n")
    tmp.chmod(0o600)  # like every file of the data folder (see cirahub.store.files)
    tmp.replace(path)
    server.address_file = path
    return server
