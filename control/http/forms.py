"""The Sync Options form: the CLI's option flags as form fields, with the CLI's rules.

Field names are the CLI flags without dashes (``--allow-hub`` → ``allow_hub``); values are
parsed as the CLI parses them (``5m`` intervals, ``all`` for an unbounded window,
comma-separated categories and permissions), then validated by ``SyncOptions`` itself, so the
console accepts exactly what ``cirahubctl spoke options`` accepts. Errors are returned per
field, never raised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from multidict import MultiMapping

from cirahub.core.errors import InvalidInput
from cirahub.core.options import SyncOptions

PERMISSIONS = ("create", "update", "delete")
PRIVATE_MODES = (("sync", "copy as they are"), ("skip", "never copy"),
                 ("busy", "copy as busy blocks (times only)"))
#: SyncOptions field → form field (the CLI flag's name)
FIELD_OF = {"hub_writes": "allow_hub", "contributes": "contribute",
            "interval_seconds": "interval"}
MAX_FIELD = 2000


@dataclass(frozen=True)
class OptionsForm:
    """What the options fields show: values as the CLI writes them."""

    allow_hub: frozenset[str]
    contribute: frozenset[str]
    days_back: str
    days_ahead: str
    private: str
    categories_include: str
    categories_exclude: str
    tag_category: str
    meetings_as_appointments: bool
    reminders: bool
    tentative: bool
    interval: str

    @classmethod
    def of(cls, options: SyncOptions) -> OptionsForm:
        def perms(p: Any) -> frozenset[str]:
            return frozenset(w for w in PERMISSIONS if getattr(p, w))

        def days(value: int | None) -> str:
            return "all" if value is None else str(value)

        return cls(
            allow_hub=perms(options.hub_writes), contribute=perms(options.contributes),
            days_back=days(options.days_back), days_ahead=days(options.days_ahead),
            private=options.private.value,
            categories_include=", ".join(sorted(options.categories_include)),
            categories_exclude=", ".join(sorted(options.categories_exclude)),
            tag_category=options.tag_category or "",
            meetings_as_appointments=options.meetings_as_appointments,
            reminders=options.reminders, tentative=options.tentative,
            interval=_interval_text(options.interval_seconds),
        )


def _interval_text(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


def parse_interval(value: str) -> int:
    """"300", "90s", "5m", "1h" → seconds (the CLI's ``--interval``)."""
    m = re.fullmatch(r"\s*(\d+)\s*([smh]?)\s*", value)
    if not m:
        raise InvalidInput("use seconds or a number with s, m or h (e.g. 5m)",
                           option="interval_seconds")
    return int(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[m.group(2)]


def parse_days(value: str, name: str) -> int | None:
    """A whole number of days, or ``all`` (the CLI's ``--days-back/--days-ahead``)."""
    if value.strip().lower() in ("all", "unbounded", "none", ""):
        return None
    if not value.strip().isdigit():
        raise InvalidInput("a whole number of days, or 'all'", option=name)
    return int(value)


#: a submitted form (aiohttp's ``MultiDictProxy``): one value, or all values of a name
Form = MultiMapping[Any]


def options_changes(form: Form) -> tuple[dict[str, Any], dict[str, str]]:
    """(SyncOptions changes, errors by form field) from a submitted options form. Every
    option is set (the form shows them all); unchecked boxes are false."""
    def text(name: str) -> str:
        return str(form.get(name) or "")[:MAX_FIELD]

    changes: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, name in (("hub_writes", "allow_hub"), ("contributes", "contribute")):
        words = [str(v) for v in form.getall(name, [])]
        changes[key] = ",".join(w for w in words if w in PERMISSIONS) or "none"
    for name in ("days_back", "days_ahead"):
        try:
            changes[name] = parse_days(text(name), name)
        except InvalidInput as exc:
            errors[name] = exc.message
    try:
        changes["interval_seconds"] = parse_interval(text("interval"))
    except InvalidInput as exc:
        errors["interval"] = exc.message
    changes["private"] = text("private") or "sync"
    for name in ("categories_include", "categories_exclude"):
        changes[name] = [v.strip() for v in text(name).split(",") if v.strip()]
    changes["tag_category"] = text("tag_category").strip() or None
    for name in ("meetings_as_appointments", "reminders", "tentative"):
        changes[name] = form.get(name) == "on"
    if not errors:
        try:
            SyncOptions().with_changes(changes)
        except InvalidInput as exc:
            errors[field_of(exc)] = exc.message
    return changes, errors


def field_of(exc: InvalidInput) -> str:
    """The form field an InvalidInput from SyncOptions concerns."""
    option = str(exc.fields.get("option") or exc.fields.get("field") or "")
    return FIELD_OF.get(option, option) or "form"


def echo_form(posted: Form) -> OptionsForm:
    """The submitted values, shown back with their errors."""
    def text(name: str) -> str:
        return str(posted.get(name) or "")

    return OptionsForm(
        allow_hub=frozenset(posted.getall("allow_hub", [])),
        contribute=frozenset(posted.getall("contribute", [])),
        days_back=text("days_back"), days_ahead=text("days_ahead"), private=text("private"),
        categories_include=text("categories_include"),
        categories_exclude=text("categories_exclude"), tag_category=text("tag_category"),
        meetings_as_appointments=posted.get("meetings_as_appointments") == "on",
        reminders=posted.get("reminders") == "on", tentative=posted.get("tentative") == "on",
        interval=text("interval"),
    )
