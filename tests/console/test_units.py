"""Pure parts of the console: session expiry, the Sync Options form parsed like the CLI's
flags, the password hash."""

from __future__ import annotations

import click
import pytest
from multidict import MultiDict

from cirahub.control.http import auth
from cirahub.control.http.forms import options_changes, parse_days, parse_interval
from cirahub.control.spoke_flags import _days, _interval
from cirahub.core.errors import InvalidInput


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_sessions_end_when_idle_or_too_old() -> None:
    clock = Clock()
    sessions = auth.Sessions(clock)
    sid, _ = sessions.create()
    clock.now += auth.IDLE_SECONDS - 1
    assert sessions.get(sid) is not None  # seen: the idle clock restarts
    clock.now += auth.IDLE_SECONDS + 1
    assert sessions.get(sid) is None
    sid, _ = sessions.create()
    for _ in range(int(auth.MAX_AGE_SECONDS // (auth.IDLE_SECONDS / 2)) + 1):
        clock.now += auth.IDLE_SECONDS / 2
        sessions.get(sid)
    assert sessions.get(sid) is None  # busy all along, still ends after MAX_AGE_SECONDS


def test_session_count_is_bounded() -> None:
    sessions = auth.Sessions()
    first, _ = sessions.create()
    for _ in range(auth.MAX_SESSIONS):
        sessions.create()
    assert len(sessions) == auth.MAX_SESSIONS and sessions.get(first) is None


def test_unknown_or_oversized_session_ids() -> None:
    sessions = auth.Sessions()
    assert sessions.get(None) is None and sessions.get("x" * 10_000) is None


@pytest.mark.parametrize("value", ["300", "90s", "5m", "1h", " 7 m ", "soon", "5d", "-1", ""])
def test_interval_parsed_like_the_cli(value: str) -> None:
    try:
        expected: int | str = _interval(value)  # type: ignore[assignment]
    except click.BadParameter:
        expected = "error"
    try:
        got: int | str = parse_interval(value)
    except InvalidInput:
        got = "error"
    assert got == expected


@pytest.mark.parametrize("value", ["0", "30", "all", "ALL", "none", "x", "-3", "1.5"])
def test_days_parsed_like_the_cli(value: str) -> None:
    try:
        cli = _days(value, "--days-back")
        expected: int | str | None = None if cli == -1 else cli
    except click.BadParameter:
        expected = "error"
    try:
        got: int | str | None = parse_days(value, "days_back")
    except InvalidInput:
        got = "error"
    assert got == expected


def test_options_form_errors_name_their_field() -> None:
    form = MultiDict([("days_back", "x"), ("interval", "2"), ("categories_include", "A"),
                      ("categories_exclude", "A")])
    _, errors = options_changes(form)
    assert set(errors) == {"days_back"}
    form = MultiDict([("interval", "2"), ("categories_include", "A"), ("categories_exclude", "A")])
    _, errors = options_changes(form)
    assert list(errors) == ["interval"] and "at least 5" in errors["interval"]
    form = MultiDict([("interval", "5m"), ("categories_include", "A"),
                      ("categories_exclude", "A"), ("allow_hub", "create"),
                      ("reminders", "on")])
    changes, errors = options_changes(form)
    assert list(errors) == ["categories_include"]
    assert changes["hub_writes"] == "create" and changes["contributes"] == "none"
    assert changes["reminders"] is True and changes["tentative"] is False


def test_password_hash_round_trip_and_refusals() -> None:
    stored = auth.hash_password("correct horse battery")
    assert "correct" not in stored
    assert auth.check_password("correct horse battery", stored)
    assert not auth.check_password("correct horse batterY", stored)
    assert not auth.check_password("anything", "not$a$hash")
    with pytest.raises(InvalidInput):
        auth.hash_password("short")


def test_rate_limit_per_client() -> None:
    limit = auth.RateLimit(attempts=3, window=60)
    for _ in range(3):
        assert limit.retry_after("a") == 0
        limit.failed("a")
    assert limit.retry_after("a") > 0
    assert limit.retry_after("b") == 0
    limit.succeeded("a")
    assert limit.retry_after("a") == 0
