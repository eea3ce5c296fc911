"""What an operator looks at, through the real CLI and a real server: `items` and `item show`
(what a hub holds, where each item has a copy and in which state, paged; one item with its
history of versions), `events` (from now by default, `--since` for history), times in the
local zone with their offset, and `--json` answers that hold no JSON inside JSON strings
(issue 10, items 8, 9 and 10)."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .conftest import CTL, Server, as_at_a_terminal
from .test_cli_e2e import event, file_of, js

pytestmark = pytest.mark.ray

WEEKLY = "RRULE:FREQ=WEEKLY;COUNT=10\r\n"


def _with(text: str, extra: str) -> str:
    return text.replace("END:VEVENT", extra + "END:VEVENT")


@pytest.fixture(scope="module")
def hub(server: Server, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Hub "held": spoke src (everything), mirror (excludes the category Secret) and feed
    (only feeds the hub: hub_writes none), three items from src."""
    base = tmp_path_factory.mktemp("items")
    folders = {name: base / name for name in ("src", "mirror", "feed")}
    for folder in folders.values():
        folder.mkdir()
    src = folders["src"]
    (src / "a.ics").write_text(event("standup@held", "Daily standup"))
    (src / "b.ics").write_text(_with(event("review@held", "Design review",
                                           start="20300603T090000Z", end="20300603T100000Z"),
                                     WEEKLY))
    (src / "c.ics").write_text(_with(event("secret@held", "Salary talk"), "CATEGORIES:Secret\r\n"))
    assert server.ctl("hub", "create", "held").code == 0
    for name, extra in (("src", []), ("mirror", ["--categories-exclude", "Secret"]),
                        ("feed", ["--hub-writes", "none"])):
        r = server.ctl("spoke", "add", "held", name, "--kind", "vdir", "--path",
                       str(folders[name]), *extra)
        assert r.code == 0, r.text
    r = server.ctl("sync", "held")
    assert r.code == 0, r.text
    return folders


def _states(items: Any) -> dict[str, dict[str, str]]:
    return {i["uid"]: {c["spoke"]: c["state"] for c in i["copies"]} for i in items}


def test_items_show_where_each_item_has_a_copy(server: Server, hub: dict[str, Path]) -> None:
    items = js(server, "items", "held")
    assert isinstance(items, list)
    assert _states(items) == {
        "standup@held": {"src": "linked", "mirror": "linked", "feed": "not written"},
        "review@held": {"src": "linked", "mirror": "linked", "feed": "not written"},
        "secret@held": {"src": "linked", "mirror": "filtered out", "feed": "not written"},
    }
    review = next(i for i in items if i["uid"] == "review@held")
    assert review["recurrence"] == "FREQ=WEEKLY;COUNT=10"
    assert review["summary"] == "Design review" and review["start"] == "2030-06-03T09:00:00Z"
    assert "content" not in review and "fields" not in review  # never whole bodies in a list

    human = server.ctl("items", "held", "--spoke", "mirror")
    assert human.code == 0, human.text
    line = next(x for x in human.out.splitlines() if "secret@held" in x)
    assert "mirror: filtered out (a category of categories_exclude)" in line
    assert "src:" not in human.out  # only the spoke asked for
    assert "single" in next(x for x in human.out.splitlines() if "standup@held" in x)


def test_items_search_and_pages(server: Server, hub: dict[str, Path]) -> None:
    found = js(server, "items", "held", "--search", "REVIEW")
    assert [i["uid"] for i in found] == ["review@held"]  # type: ignore[union-attr]
    paged = js(server, "items", "held", "--page-size", "1")
    assert sorted(i["uid"] for i in paged) == sorted(  # type: ignore[union-attr]
        ["standup@held", "review@held", "secret@held"])
    none = server.ctl("items", "held", "--search", "nothing like it")
    assert none.code == 0 and "no items in hub 'held' matching" in none.out, none.text
    bad = server.ctl("items", "no-such-hub")
    assert bad.code == 3 and "no-such-hub" in bad.err, bad.text


def test_item_show_history_and_pending_copies(server: Server, hub: dict[str, Path]) -> None:
    assert server.ctl("spoke", "disable", "held", "mirror").code == 0
    path = file_of(hub["src"], "standup@held")
    path.write_text(event("standup@held", "Standup (moved)", start="20300601T113000Z",
                          end="20300601T120000Z", stamp="20300102T000000Z"))
    r = server.ctl("sync", "held", "--spoke", "src")
    assert r.code == 0, r.text

    detail = js(server, "item", "show", "held", "standup@held")
    assert isinstance(detail, dict)
    copies = {c["spoke"]: c for c in detail["item"]["copies"]}
    assert copies["src"]["state"] == "linked" and copies["src"]["remote_id"]
    assert copies["mirror"]["state"] == "pending"
    assert copies["mirror"]["reason"] == "the spoke is disabled"
    assert detail["content"]["fields"]["summary"] == "Standup (moved)"
    history = detail["history"]
    assert [h["change"] for h in history] == ["updated", "created"]
    assert history[0]["spoke"] == "src" and history[1]["spoke"] == "src"
    assert history[0]["fields"] == ["end", "start", "summary"]
    assert detail["history_total"] == 2

    human = server.ctl("item", "show", "held", "standup@held")
    assert human.code == 0, human.text
    assert "Standup (moved)" in human.out and "start, summary" in human.out
    assert "history (newest first, 2 of 2 versions)" in human.out
    missing = server.ctl("item", "show", "held", "nobody@held")
    assert missing.code == 3 and "no item with UID 'nobody@held'" in missing.err, missing.text
    assert server.ctl("spoke", "enable", "held", "mirror").code == 0
    assert server.ctl("sync", "held").code == 0
    after = js(server, "item", "show", "held", "standup@held")
    assert {c["spoke"]: c["state"] for c in after["item"]["copies"]}["mirror"] == "linked"  # type: ignore[index]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _no_json_inside(value: Any) -> None:
    for text in _strings(value):
        if text[:1] in "{[":
            with pytest.raises(ValueError):
                json.loads(text)
                raise AssertionError(f"JSON inside a JSON string: {text[:80]}")


def test_regression_json_answers_hold_no_json_strings(server: Server,
                                                      hub: dict[str, Path]) -> None:
    """Events carried their data as `data_json`, conflicts their values as `*_json`: a script
    had to parse JSON twice. Now every value is plain JSON."""
    src, mirror = hub["src"], hub["mirror"]
    file_of(src, "review@held").write_text(_with(event(
        "review@held", "Review (src)", start="20300603T090000Z", end="20300603T100000Z",
        stamp="20300105T000000Z"), WEEKLY))
    file_of(mirror, "review@held").write_text(_with(event(
        "review@held", "Review (mirror)", start="20300603T090000Z", end="20300603T100000Z",
        stamp="20300106T000000Z"), WEEKLY))
    assert server.ctl("sync", "held").code == 0
    conflicts = js(server, "conflicts", "held")
    assert isinstance(conflicts, list) and conflicts
    field = next(f for c in conflicts for f in c["fields"] if f["field"] == "summary")
    assert {field["hub_value"], field["spoke_value"]} == {"Review (src)", "Review (mirror)"}
    _no_json_inside(conflicts)
    human = server.ctl("conflicts", "held")
    assert '"Review (mirror)"' in human.out, human.text

    for args in (("items", "held"), ("item", "show", "held", "review@held")):
        _no_json_inside(js(server, *args))
    replay = server.ctl("events", "--since", "all", "--no-follow", "--json")
    assert replay.code == 0, replay.text
    events = [json.loads(line) for line in replay.out.splitlines()]
    _no_json_inside(events)
    runs = [e for e in events if e["type"] == "run" and e["hub"] == "held"]
    assert runs and all(e["status"] and e["run_id"] for e in runs)
    assert {e["spoke"] for e in runs} >= {"src", "mirror", "feed"}
    assert any(e["counts"].get("pulled") for e in runs)


def _follow(server: Server, *args: str) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    """`cirahubctl events ARGS --json` running, its stdout lines arriving in a queue."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CIRAHUB_")}
    env["CIRAHUB_DATA_DIR"] = str(server.data_dir)
    proc = subprocess.Popen([CTL, "events", *args, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=as_at_a_terminal)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=read, daemon=True).start()
    return proc, lines


def test_events_follow_from_now_by_default(server: Server, hub: dict[str, Path]) -> None:
    """`events` shows what happens from now on, not the history the server keeps (that is
    `--since all`); Ctrl-C ends it with 130."""
    kept = server.ctl("events", "--since", "all", "--no-follow", "--json")
    assert kept.code == 0, kept.text
    newest = max(json.loads(line)["seq"] for line in kept.out.splitlines())
    proc, lines = _follow(server)
    try:
        seen: list[dict[str, Any]] = []
        for _ in range(20):  # the stream may open after the first sync: sync until it shows
            assert server.ctl("sync", "held", "--spoke", "src").code == 0
            try:
                seen.append(json.loads(lines.get(timeout=5)))
                break
            except queue.Empty:
                continue
        assert seen, "no event arrived while following"
        assert all(e["seq"] > newest for e in seen), (newest, seen)
        assert seen[0]["hub"] == "held"
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            pytest.fail(f"`events` still ran 60 s after Ctrl-C; stderr: {err[-2000:]}")
    assert proc.returncode == 130, err
    assert "interrupted" in err
    bad = server.ctl("events", "--no-follow")
    assert bad.code == 2 and "--since" in bad.err, bad.text


@pytest.mark.parametrize("zone, offset", [("Asia/Kolkata", "+05:30"),
                                          ("America/St_Johns", "-03:30")])
def test_times_in_tables_are_local_with_the_offset(server: Server, hub: dict[str, Path],
                                                   zone: str, offset: str) -> None:
    """Tables show instants in the reader's zone with its offset (JSON stays UTC)."""
    tz = ZoneInfo(zone)
    run = js(server, "runs", "held", "--spoke", "src", "--limit", "1")[0]  # type: ignore[index]
    started = datetime.fromisoformat(run["started_at"].replace("Z", "+00:00"))
    local = started.astimezone(tz).isoformat(sep=" ", timespec="seconds")
    assert local.endswith(offset)
    runs = server.ctl("runs", "held", "--spoke", "src", "--limit", "1", env={"TZ": zone})
    assert runs.code == 0 and local in runs.out, (local, runs.out)

    review = datetime(2030, 6, 3, 9, 0, tzinfo=UTC).astimezone(tz)
    items = server.ctl("items", "held", "--search", "review", env={"TZ": zone})
    assert review.isoformat(sep=" ", timespec="seconds") in items.out, items.out
    status = server.ctl("status", "held", env={"TZ": zone})
    assert status.code == 0 and offset in status.out, status.out
