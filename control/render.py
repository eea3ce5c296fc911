"""Output of ``cirahubctl``: aligned tables for people, JSON for scripts.

JSON output is the API message as protobuf's canonical JSON with the .proto field names, so
scripts see exactly the fields the API documents (secrets never appear: the API has none to
give).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from google.protobuf.message import Message

if TYPE_CHECKING:
    from google.protobuf.timestamp_pb2 import Timestamp


def as_dict(message: Message) -> dict[str, Any]:
    # imported here: only --json and a few views need it (~3 ms of every command's start)
    from google.protobuf import json_format

    return json_format.MessageToDict(message, preserving_proto_field_name=True,
                                     always_print_fields_with_no_presence=True,
                                     unquote_int64_if_possible=True)


def emit_json(value: Message | Sequence[Message] | dict[str, Any]) -> None:
    if isinstance(value, Message):
        data: Any = as_dict(value)
    elif isinstance(value, dict):
        data = value
    else:
        data = [as_dict(m) for m in value]
    click.echo(json.dumps(data, indent=2, sort_keys=False))


def local(value: datetime) -> str:
    """An instant in this machine's zone, with its offset (``2030-06-01 12:00:00+02:00``):
    unambiguous, and in the zone the reader lives in."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone().isoformat(sep=" ", timespec="seconds")


def when(ts: Timestamp, msg: Message | None = None, field: str = "") -> str:
    """A timestamp in the local zone with its offset, or "-" when unset."""
    if msg is not None and field and not msg.HasField(field):
        return "-"
    if not ts.seconds and not ts.nanos:
        return "-"
    return local(ts.ToDatetime(tzinfo=UTC))


def item_start(value: str) -> str:
    """An item's stored start: a date stays a date, a floating time stays as written, a UTC
    instant is shown in the local zone with its offset."""
    if not value or len(value) <= 10 or not value.endswith(("Z", "+00:00")):
        return value or "-"
    try:
        return local(datetime.fromisoformat(value))
    except ValueError:
        return value


def value_text(msg: Message, field: str, unset: str = "-") -> str:
    """A ``google.protobuf.Value`` (or Struct) field as compact JSON, ``unset`` when unset."""
    if not msg.HasField(field):
        return unset
    from google.protobuf import json_format

    return json.dumps(json_format.MessageToDict(getattr(msg, field)), separators=(",", ":"),
                      ensure_ascii=False)


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]], empty: str = "(none)") -> None:
    """Prints an aligned table; ``empty`` when there are no rows."""
    data = [[("-" if v in (None, "") else str(v)) for v in row] for row in rows]
    if not data:
        click.echo(empty)
        return
    widths = [max(len(h), *(len(r[i]) for r in data)) for i, h in enumerate(headers)]
    line = "  ".join(h.upper().ljust(w) for h, w in zip(headers, widths, strict=True))
    click.echo(line.rstrip())
    for row in data:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def details(pairs: Iterable[tuple[str, Any]]) -> None:
    items = [(k, "-" if v in (None, "") else str(v)) for k, v in pairs]
    width = max((len(k) for k, _ in items), default=0)
    for key, value in items:
        click.echo(f"{key.ljust(width)}  {value}")


def error_text(msg: Message, field: str = "last_error") -> str:
    if not msg.HasField(field):
        return ""
    err = getattr(msg, field)
    return f"{err.code}: {err.message}" if err.code else err.message


def config_text(spoke: Any) -> str:
    which = spoke.config.WhichOneof("kind")
    if which is None:
        return ""
    sub = getattr(spoke.config, which)
    return " ".join(f"{f.name}={v}" for f, v in sub.ListFields())


def options_pairs(options: Any) -> list[tuple[str, Any]]:
    from cirahub.control import vocabulary
    from cirahub.control.convert import options_patch  # lazy: CLI start-up (issue 15)

    values = options_patch(options)
    out: list[tuple[str, Any]] = []
    for key, value in values.items():
        if key == "interval_seconds":
            out.append(("interval", vocabulary.duration_text(int(value))))
            continue
        if key in ("days_back", "days_ahead"):
            out.append((key, vocabulary.days_text(value)))
            continue
        if isinstance(value, list):
            value = ",".join(value) or "(none)"
        elif value is None:
            value = "unbounded" if key.startswith("days_") else "(none)"
        elif isinstance(value, bool):
            value = "yes" if value else "no"
        out.append((key, value))
    return out
