"""Where cirahub keeps its data by default (the one definition of it)."""

from __future__ import annotations

from pathlib import Path

APP_NAME = "cirahub"


def default_data_dir() -> Path:
    """The user's data folder for cirahub (``platformdirs``), e.g. ``~/.local/share/cirahub``:
    the SQLite database and the secret key."""
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))
