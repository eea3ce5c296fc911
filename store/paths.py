"""Where cirahub keeps its data by default (the one definition of it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

APP_NAME = "cirahub"
#: the environment variable that names another data folder (server and client alike)
DATA_DIR_ENV = "CIRAHUB_DATA_DIR"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    """The data folder (the SQLite database, the secret key, the server's token and address):
    ``$CIRAHUB_DATA_DIR`` when ``env`` (e.g. ``os.environ``) sets it, else the user's data
    folder for cirahub (``platformdirs``), e.g. ``~/.local/share/cirahub``."""
    if env is not None and env.get(DATA_DIR_ENV):
        return Path(env[DATA_DIR_ENV]).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))
