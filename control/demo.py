"""``cirahubctl demo``: a tour of cirahub on three local calendar folders.

Starts an embedded server in this process (embedded Ray, SQLite, a free loopback port, a
temporary data folder unless ``--data-dir`` is given), then drives it through the real
control API as any client would: create a hub, attach three ``vdir`` calendars filled with
sample events, sync, edit an event in one folder, sync, show the edit in the other folders,
and print the exact commands to attach an Exchange public folder or a CalDAV calendar.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

import click

from cirahub.control import render
from cirahub.control.auth import load_or_create_token
from cirahub.control.client import Client, Target
from cirahub.control.demo_data import OFFSITE_UID, edited_offsite, samples
from cirahub.control.errors import ClientError, ExitCode
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb

HUB = "demo"
NEW_VENUE = "Harbour Conference Centre"


def _step(text: str) -> None:
    click.echo()
    click.secho(f"==> {text}", bold=True)


def _sync(client: Client) -> pb.SyncSummary:
    from cirahub.control.cli_sync import LiveProgress, summary_table

    live = LiveProgress()
    summary = pb.SyncSummary()
    for message in client.sync(HUB):
        if message.HasField("summary"):
            summary = message.summary
        else:
            live.update(message.progress)
    click.echo()
    summary_table(summary)
    if not summary.ok:
        raise ClientError("the demo sync did not succeed; see the table above",
                          ExitCode.SYNC_FAILED)
    return summary


def _find(folder: Path, uid: str) -> Path | None:
    for path in sorted(folder.glob("*.ics")):
        if f"UID:{uid}" in path.read_text():
            return path
    return None


def _location(path: Path | None) -> str:
    if path is None:
        return "(missing)"
    for line in path.read_text().splitlines():
        if line.startswith("LOCATION"):
            return line.split(":", 1)[1]
    return "(none)"


def _show_folders(folders: dict[str, Path]) -> None:
    render.table(("calendar", "files"), [[name, ", ".join(sorted(p.name for p in f.glob("*.ics")))]
                                         for name, f in folders.items()])


def run_demo(data_dir: Path | None, keep: bool) -> None:
    """The whole tour. Raises ClientError when a step fails."""
    from cirahub.actors.runtime import Runtime
    from cirahub.cluster.settings import Settings
    from cirahub.control.server import create_server

    temporary = data_dir is None
    folder = Path(tempfile.mkdtemp(prefix="cirahub-demo-")) if data_dir is None else data_dir
    folder.mkdir(parents=True, exist_ok=True)
    _step(f"starting an embedded cirahub (Ray + SQLite) in {folder}")
    settings = Settings(data_dir=folder / "data", listen="127.0.0.1:0", num_cpus=2)
    started = time.monotonic()
    runtime = Runtime.start(settings)
    server = None
    try:
        token = load_or_create_token(settings.data_dir)
        server, port = create_server(runtime, settings.listen, token)
        address = f"127.0.0.1:{port}"
        click.echo(f"control plane on {address} (took {time.monotonic() - started:.0f}s)")
        with Client(Target(address, token, "demo")) as client:
            _tour(client, folder)
    finally:
        if server is not None:
            server.stop(grace=1).wait()
        runtime.shutdown(stop_actors=True)
        if temporary and not keep:
            shutil.rmtree(folder, ignore_errors=True)
        elif keep or not temporary:
            click.echo(f"\nthe demo's folders are kept in {folder}")


def _tour(client: Client, base: Path) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    folders = {name: base / "calendars" / name for name in ("alice", "bob", "room")}
    for name, files in samples(date.today(), now).items():
        folders[name].mkdir(parents=True, exist_ok=True)
        for file_name, text in files.items():
            (folders[name] / file_name).write_text(text)

    _step(f"three calendar folders with sample events (under {base / 'calendars'})")
    _show_folders(folders)

    _step(f"cirahubctl hub create {HUB}, then one spoke per folder")
    client.create_hub(HUB)
    for name, path in folders.items():
        client.add_spoke(HUB, name, pb.SpokeConfig(vdir=pb.VdirConfig(path=str(path))))
        click.echo(f"  cirahubctl spoke add {HUB} {name} --kind vdir --path {path}")

    _step(f"cirahubctl sync {HUB}")
    _sync(client)
    _show_folders(folders)

    _step("editing the offsite in Bob's calendar: new venue " + repr(NEW_VENUE))
    bob_copy = _find(folders["bob"], OFFSITE_UID)
    assert bob_copy is not None
    time.sleep(0.01)  # a later modification time than the file the hub wrote
    bob_copy.write_text(edited_offsite(bob_copy.read_text(), datetime.now(UTC), NEW_VENUE))
    for name in ("alice", "room"):
        click.echo(f"  before sync, {name}'s copy says: {_location(_find(folders[name], OFFSITE_UID))}")

    _step(f"cirahubctl sync {HUB}")
    _sync(client)
    arrived = True
    for name in ("alice", "room"):
        where = _location(_find(folders[name], OFFSITE_UID))
        arrived &= where == NEW_VENUE
        click.echo(f"  after sync, {name}'s copy says: {where}")
    if not arrived:
        raise ClientError("the edit did not reach every calendar", ExitCode.SYNC_FAILED)

    _step(f"cirahubctl status {HUB}")
    status = client.list_all("GetStatus", pb.GetStatusRequest(hub=HUB), "spokes")
    render.table(("spoke", "state", "items", "last run"),
                 [[s.spoke, s.state, s.item_count, s.last_run.status] for s in status])
    click.echo(NEXT_STEPS)


NEXT_STEPS = """
==> your own calendars
Run a server that keeps running (its token goes to your data folder; cirahubctl finds it):

  cirahubctl server &
  cirahubctl hub create team
  cirahubctl spoke add team laptop --kind vdir --path ~/calendars/team

Attach an Exchange public-folder calendar (the password is read from the environment,
never given on the command line):

  export EXCHANGE_PASSWORD='...'
  cirahubctl spoke add team exchange --kind ews-public-folder \\
      --server https://mail.example.com/EWS/Exchange.asmx \\
      --username svc-calendar-sync --password-env EXCHANGE_PASSWORD \\
      --folder "/Team/Calendar"

Attach a CalDAV calendar (Nextcloud, Radicale, Baikal, iCloud, ...):

  export CALDAV_PASSWORD='...'
  cirahubctl spoke add team nextcloud --kind caldav \\
      --url https://cloud.example.com/remote.php/dav/calendars/me/team/ \\
      --username me --password-env CALDAV_PASSWORD

Then: cirahubctl sync team; cirahubctl status team. Sync options (one-way, windows,
private items, categories, meetings as appointments) are flags of `spoke add` and
`spoke options`; see `cirahubctl spoke add --help` and docs/cli.md.
"""


@click.command("demo")
@click.option("--data-dir", type=click.Path(file_okay=False),
              help="Keep the demo's server data and calendars here (default: a temporary "
                   "folder, removed afterwards).")
@click.option("--keep", is_flag=True, help="Keep the temporary folder.")
def demo(data_dir: str | None, keep: bool) -> None:
    """A tour: three local calendars kept in sync through a hub (about a minute)."""
    run_demo(Path(data_dir) if data_dir else None, keep)
