"""The console in a real Chromium against a real server (embedded Ray, SQLite), two vdir
folders and a Radicale collection: the administrator's whole path, at 1280×800 and on a
phone. Screenshots of each page go to ``<tmp>/screenshots`` (``index.txt`` says what each
shows); ``CIRAHUB_CONSOLE_SHOTS=DIR`` copies them there too."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.caldav.servers import PASSWORD, USER, CalendarUser, Radicale, wait_until
from tests.control.test_cli_e2e import event

from .browser import check_accessibility, no_horizontal_scroll, shot, tab_to
from .conftest import TIMEOUT_MS, Console
from .test_docs import documented_metrics

pytestmark = [pytest.mark.ray, pytest.mark.timeout(600)]


def summaries(folder: Path) -> dict[str, str]:
    """UID → SUMMARY of every readable .ics file of a vdir (unreadable ones skipped)."""
    out = {}
    for path in folder.glob("*.ics"):
        lines = path.read_text().splitlines()
        uid = next((x.split(":", 1)[1] for x in lines if x.startswith("UID:")), None)
        if uid is not None:
            out[uid] = next(x.split(":", 1)[1] for x in lines if x.startswith("SUMMARY"))
    return out


def sign_in(page, console: Console) -> None:
    page.goto(console.url + "/signin")
    page.fill("#secret", console.token)
    page.keyboard.press("Enter")
    page.wait_for_url(console.url + "/")


def next_step(page, expect: str) -> None:
    page.click("button[value=next]")
    page.wait_for_selector(f"h2:text-is('{expect}')")


def wizard_keyboard(page, base: str, folder: Path, spoke: str, hub: str, shots_dir: Path,
                    index: list[str]) -> None:
    """The whole wizard with the keyboard only (Tab, arrows, typing, Enter)."""
    page.goto(base + "/wizard?restart=1")
    check_accessibility(page)
    shot(page, shots_dir, "wizard-object", index, "wizard step 1: object type (Calendars; "
         "Contacts shown as coming later)")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Source type')")
    tab_to(page, "input[name=kind]:checked")
    for _ in range(10):
        if page.eval_on_selector("input[name=kind]:checked", "e => e.value") == "vdir":
            break
        page.keyboard.press("ArrowDown")
    shot(page, shots_dir, "wizard-source", index, "wizard step 2: every spoke kind, vdir chosen")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Connection')")
    # an empty required field: the error is next to it
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("#path-error")
    assert "required" in page.inner_text("#path-error")
    assert page.get_attribute("#f-path", "aria-describedby") == "path-error"
    shot(page, shots_dir, "wizard-field-error", index, "wizard: a required field left empty, "
         "the error shown next to it")
    tab_to(page, "#f-path")
    page.keyboard.type(str(folder))
    tab_to(page, "button[value=test]")
    page.keyboard.press("Enter")
    page.wait_for_selector("p.ok")
    assert "usable" in page.inner_text("p.ok")
    shot(page, shots_dir, "wizard-test-connection", index, "wizard: Test connection of a vdir "
         "folder succeeded")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Calendar')")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Spoke name')")
    tab_to(page, "#spoke")
    page.keyboard.press("Control+A")
    page.keyboard.type(spoke)
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Hub')")
    tab_to(page, "#hub_new")
    page.keyboard.type(hub)
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Sync options')")
    check_accessibility(page)
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector("h2:text-is('Review and create')")
    shot(page, shots_dir, "wizard-review", index, "wizard: review before Create (no secret "
         "shown)")
    tab_to(page, "button[value=next]")
    page.keyboard.press("Enter")
    page.wait_for_selector(f".flash:has-text(\"attached spoke '{spoke}'\")")


def wizard_caldav(page, console: Console, radicale: Radicale, shots_dir: Path,
                  index: list[str]) -> None:
    page.goto(console.url + "/wizard?restart=1")
    next_step(page, "Source type")
    page.check("input[name=kind][value=caldav]")
    next_step(page, "Connection")
    page.fill("#f-url", radicale.base + f"/{USER}/")
    page.fill("#f-username", USER)
    page.fill("#f-password", "not-the-password")
    page.click("button[value=test]")
    page.wait_for_selector("#password-error")
    assert "cannot connect" in page.inner_text("#password-error")
    shot(page, shots_dir, "wizard-caldav-wrong-password", index, "wizard: a wrong CalDAV "
         "password, the error shown at the password field")
    assert "not-the-password" not in page.content()
    page.fill("#f-password", PASSWORD)
    next_step(page, "Calendar")
    labels = page.locator("label.choice").all_inner_texts()
    assert any("Team" in x for x in labels) and any("Other" in x for x in labels), labels
    shot(page, shots_dir, "wizard-caldav-picker", index, "wizard: the calendar picker filled "
         "from the Radicale principal (two collections)")
    page.locator("label.choice", has_text="Team").locator("input").check()
    next_step(page, "Spoke name")
    page.fill("#spoke", "dav")
    next_step(page, "Hub")
    page.check("input[name=hub_mode][value=existing]")
    page.select_option("#hub_existing", "team")
    next_step(page, "Sync options")
    next_step(page, "Review and create")
    assert PASSWORD not in page.content()
    page.click("button[value=next]")
    page.wait_for_selector(".flash:has-text(\"attached spoke 'dav'\")")


def wizard_mouse(page, console: Console, folder: Path, spoke: str) -> None:
    page.goto(console.url + "/wizard?restart=1")
    next_step(page, "Source type")
    page.check("input[name=kind][value=vdir]")
    next_step(page, "Connection")
    page.fill("#f-path", str(folder))
    next_step(page, "Calendar")
    next_step(page, "Spoke name")
    page.fill("#spoke", spoke)
    next_step(page, "Hub")
    page.check("input[name=hub_mode][value=existing]")
    next_step(page, "Sync options")
    next_step(page, "Review and create")
    page.click("button[value=next]")
    page.wait_for_selector(f".flash:has-text(\"attached spoke '{spoke}'\")")


def row(page, spoke: str):
    return page.locator(f"tr[data-spoke='{spoke}']")


def sync_spoke(page, spoke: str) -> None:
    """Click Sync now and watch the live progress until the run's result shows."""
    page.wait_for_selector("body[data-live='1']")
    row(page, spoke).locator("button", has_text="Sync now").click()
    page.wait_for_selector(".flash:has-text('sync started')")
    page.wait_for_selector("body[data-live='1']")
    page.wait_for_function(
        "(s) => { const r = document.querySelector(`tr[data-spoke='${s}'] [data-role=progress]`);"
        " return r && r.textContent.startsWith('finished'); }", arg=spoke, timeout=60_000)


def metrics(console: Console) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = requests.get(console.url + "/metrics", timeout=30,
                     headers={"Authorization": f"Bearer {console.token}"})
    assert r.status_code == 200, r.text
    promtool = shutil.which("promtool")  # Debian's prometheus package (.ci/run installs it)
    if promtool:
        lint = subprocess.run([promtool, "check", "metrics"], input=r.text, text=True,
                              capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout + lint.stderr
    out = {}
    families = set()
    for family in text_string_to_metric_families(r.text):
        assert family.name.startswith("cirahub_"), family.name
        families.add(family.name + ("_total" if family.type == "counter" else ""))
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    # docs/console.md's table is exactly what a server exports
    assert families == documented_metrics(), families ^ documented_metrics()
    return out


def sample(values: dict, name: str, **labels: str) -> float | None:
    return values.get((name, tuple(sorted(labels.items()))))


def test_administrator_path(console: Console, radicale: Radicale, browser, tmp_path: Path,
                            shots: Path) -> None:
    index: list[str] = []
    a, b = tmp_path / "alice", tmp_path / "bob"
    a.mkdir()
    b.mkdir()
    for i in range(3):
        (a / f"e{i}.ics").write_text(event(f"e{i}@test", f"Event {i}"))
    (a / "kickoff.ics").write_text(event("kickoff@test", "Kickoff"))
    (b / "broken.ics").write_text("BEGIN:VCALENDAR\r\nthis is not iCalendar\r\n")
    team = radicale.mkcalendar("team", "Team")
    radicale.mkcalendar("other", "Other")
    dav = CalendarUser(radicale, team)

    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(console.url + "/")
    assert page.url.endswith("/signin")
    check_accessibility(page)
    shot(page, shots, "signin", index, "sign-in page (token or console password)")
    page.fill("#secret", "wrong")
    page.keyboard.press("Enter")
    page.wait_for_selector("#secret-error")
    sign_in(page, console)
    shot(page, shots, "dashboard-empty", index, "dashboard before any hub exists")

    wizard_keyboard(page, console.url, a, "alice", "team", shots, index)
    wizard_mouse(page, console, b, "bob")
    wizard_caldav(page, console, radicale, shots, index)

    before = metrics(console)  # series pre-registered at zero for the new spokes
    assert sample(before, "cirahub_runs_total", hub="team", spoke="dav", status="halted") == 0
    assert sample(before, "cirahub_halts_total", hub="team", spoke="bob") == 0

    # Sync now of the whole hub, watching the live progress
    page.goto(console.url + "/")
    page.wait_for_selector("body[data-live='1']")
    page.click("button:has-text('Sync all now')")
    page.wait_for_selector(".flash:has-text('sync started')")
    page.wait_for_selector("[data-role=progress]:text-matches('pulling|merging|pushing|finished')",
                           timeout=60_000)
    shot(page, shots, "dashboard-syncing", index, "dashboard while Sync now runs: live "
         "progress per spoke from the event stream")
    wait_until(lambda: set(summaries(b)) >= {"kickoff@test", "e0@test"} and
               len(dav.hrefs()) == 4, timeout=120, what="the first sync to reach every spoke")
    def dashboard_has_runs() -> bool:
        page.goto(console.url + "/")
        return all("never" not in row(page, s).inner_text() for s in ("alice", "bob", "dav"))

    wait_until(dashboard_has_runs, timeout=60, what="the dashboard to show the last runs")
    check_accessibility(page)
    shot(page, shots, "dashboard", index, "dashboard: hub team with spokes alice, bob (vdir) "
         "and dav (Radicale), state, last/next run, items linked, actions")
    assert "4" in row(page, "alice").inner_text()

    # Sync Options: a bad value is refused next to its field, then the window and a filter
    row(page, "alice").locator("a", has_text="Options").click()
    page.wait_for_selector("h1:has-text('Sync Options of alice')")
    check_accessibility(page)
    page.fill("#interval", "soon")
    page.click("button:has-text('Save options')")
    page.wait_for_selector("#interval-error")
    shot(page, shots, "options-error", index, "Sync Options dialog: an invalid interval "
         "refused next to its field")
    page.fill("#interval", "10m")
    page.fill("#days_back", "30")
    page.fill("#days_ahead", "3650")
    page.select_option("#private", "skip")
    page.fill("#categories_exclude", "Secret")
    page.click("button:has-text('Save options')")
    page.wait_for_selector(".flash:has-text('saved the sync options')")
    r = console.server.ctl("spoke", "show", "team", "alice", "--json")
    assert r.code == 0, r.text
    assert re.search(r'"days_back": 30', r.out) and '"Secret"' in r.out, r.out
    assert '"private": "skip"' in r.out and '"interval_seconds": 600' in r.out

    # the CalDAV spoke's password can be replaced there too, never shown back
    page.goto(console.url + "/hubs/team/spokes/dav/options")
    check_accessibility(page)
    page.fill("#new_secret", PASSWORD)
    page.click("button:has-text('Save options')")
    page.wait_for_selector(".flash:has-text('saved the sync options')")
    assert f'value="{PASSWORD}"' not in page.content()  # ("secret" is also a word on the page)

    # a conflict: both folders retitle the kickoff, bob later
    (a / "kickoff.ics").write_text(event("kickoff@test", "Kickoff (alice)",
                                         stamp="20300102T000000Z"))
    bob_file = next(p for p in b.glob("*.ics") if "UID:kickoff@test" in p.read_text())
    bob_file.write_text(event("kickoff@test", "Kickoff (bob)", stamp="20300103T000000Z"))
    page.goto(console.url + "/")
    sync_spoke(page, "alice")
    page.goto(console.url + "/")
    sync_spoke(page, "bob")
    page.click("button:has-text('Sync all now')")  # carries bob's winning edit everywhere
    try:
        wait_until(lambda: summaries(a).get("kickoff@test") == "Kickoff (bob)", timeout=60,
                   what="the later edit to win in alice")
    except TimeoutError:
        print(console.server.ctl("runs", "--json").out)
        print(console.server.ctl("conflicts", "--json").out)
        raise
    page.goto(console.url + "/conflicts")
    page.wait_for_selector("section.conflict")
    page.locator("details summary").first.click()
    assert page.locator("tr.differs").count() >= 1
    assert "Kickoff (alice)" in page.inner_text("section.conflict")
    check_accessibility(page)
    shot(page, shots, "conflicts", index, "conflicts: both versions side by side, the "
         "differing fields highlighted (≠)")
    page.goto(console.url + "/quarantine")
    page.wait_for_selector("td:has-text('broken.ics')")
    shot(page, shots, "quarantine", index, "quarantine: the unreadable broken.ics of bob")

    values = metrics(console)
    assert sample(values, "cirahub_hub_items", hub="team") == 4
    assert sample(values, "cirahub_quarantined_items", hub="team", spoke="bob") == 1
    assert sample(values, "cirahub_spoke_state", hub="team", spoke="bob", state="ok") == 1

    # halt: alice's folder emptied → halted with the reason, nothing deleted elsewhere
    for f in a.glob("*.ics"):
        f.unlink()
    page.goto(console.url + "/")
    sync_spoke(page, "alice")
    page.goto(console.url + "/hubs/team/spokes/alice")
    page.wait_for_selector("section.halted")
    assert "empty" in page.inner_text("section.halted")
    assert len(summaries(b)) == 4 and len(dav.hrefs()) == 4
    check_accessibility(page)
    shot(page, shots, "halted", index, "a halted spoke (folder emptied): the reason, the "
         "pending deletions, Confirm (and Restore when the build has it)")
    if page.locator("button:has-text('Restore')").count():
        page.click("button:has-text('Restore')")
        page.wait_for_selector(".flash:has-text('restoring')")
        page.click("button:has-text('Sync now')")
        wait_until(lambda: len(list(a.glob("*.ics"))) == 4, timeout=60,
                   what="restore to write the items back")
    else:
        page.click("button:has-text('Confirm')")
        page.wait_for_selector(".flash:has-text('confirmed')")
        assert page.locator("section.halted").count() == 0

    # run history with its chart, live events
    page.goto(console.url + "/runs?hub=team")
    assert page.locator("svg.chart rect").count() >= 5, page.inner_text("main")
    check_accessibility(page)
    shot(page, shots, "runs", index, "run history filtered to hub team, with the chart of "
         "durations over time")
    page.goto(console.url + "/events")
    page.wait_for_selector("#live-state:text-is('live')")
    shot(page, shots, "events", index, "live events (server-sent events from the runtime)")

    # /metrics after syncs: run counters and durations, Prometheus names
    values = metrics(console)
    assert sample(values, "cirahub_runs_total", hub="team", spoke="bob", status="ok") >= 1
    assert sample(values, "cirahub_run_duration_seconds_count", hub="team", spoke="dav") >= 1
    assert sample(values, "cirahub_halts_total", hub="team", spoke="alice") >= 1
    assert sample(values, "cirahub_conflicts_total", hub="team", spoke="bob") >= 1

    # phone viewport
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                storage_state=context.storage_state())
    ppage = phone.new_page()
    for path in ("/", "/wizard?restart=1", "/hubs/team/spokes/bob/options", "/runs"):
        ppage.goto(console.url + path)
        no_horizontal_scroll(ppage)
    ppage.goto(console.url + "/")
    shot(ppage, shots, "phone-dashboard", index, "dashboard on a 390×844 phone viewport")
    phone.close()

    # Remove (the confirmation says nothing is deleted), then the series are gone
    page = context.new_page()  # a fresh tab, still signed in
    page.goto(console.url + "/")
    row(page, "dav").locator("a", has_text="Remove").click()
    assert "Nothing in the calendar is deleted" in page.inner_text("#remove-text")
    shot(page, shots, "remove", index, "Remove confirmation: nothing in the calendar is "
         "deleted")
    page.click("button:has-text('Remove the spoke')")
    page.wait_for_selector(".flash:has-text('removed spoke')")
    assert len(dav.hrefs()) == 4
    assert sample(metrics(console), "cirahub_runs_total", hub="team", spoke="dav",
                  status="ok") is None

    # sign out: the session is gone
    page.click("button:has-text('Sign out')")
    page.wait_for_url(console.url + "/signin")
    page.goto(console.url + "/")
    assert page.url.endswith("/signin")
    context.close()
    (shots / "index.txt").write_text("\n".join(index) + "\n")
    copy_to = os.environ.get("CIRAHUB_CONSOLE_SHOTS")
    if copy_to:
        shutil.copytree(shots, copy_to, dirs_exist_ok=True)
