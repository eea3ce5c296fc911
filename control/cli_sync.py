"""``cirahubctl sync|status|runs|conflicts|quarantine|events|server``."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from cirahub.control import render, runlog
from cirahub.control.cli_common import CONTEXT, EPILOG, Conn, connection_options
from cirahub.control.cli_halt import halt_lines
from cirahub.control.errors import INTERRUPTED, ExitCode
from cirahub.core.limits import MAX_LIMIT, MAX_STREAMS
from cirahub.core.states import SpokeState
from cirahub.proto.cirahub.control.v1 import control_pb2 as pb


class LiveProgress:
    """One line per spoke, redrawn in place on a terminal; elsewhere (logs, CI, pipes) one line
    per finished run, so output stays short however many spokes there are."""

    def __init__(self, stream: Any = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.lines: dict[tuple[str, str], str] = {}
        self.drawn = 0

    def update(self, p: pb.SpokeProgress) -> None:
        key = (p.hub, p.spoke)
        state = p.status or p.phase
        line = (f"{p.hub}/{p.spoke}: {state:<8} pulled {p.pulled}  merged {p.merged}  "
                f"pushed {p.pushed}  conflicts {p.conflicts}")
        self.lines[key] = line
        if self.tty:
            if self.drawn:
                self.stream.write(f"\x1b[{self.drawn}F")
            for text in self.lines.values():
                self.stream.write("\x1b[2K" + text + "\n")
            self.drawn = len(self.lines)
            self.stream.flush()
        elif p.status:
            self.stream.write(line + "\n")
            self.stream.flush()


def summary_table(summary: pb.SyncSummary) -> None:
    render.table(
        ("hub", "spoke", "result", "pulled", "merged", "pushed", "conflicts", "quarantined",
         "error"),
        [[r.hub, r.spoke, r.status, r.pulled, r.merged, r.pushed, r.conflicts, r.quarantined,
          render.error_text(r, "error")] for r in summary.results],
        empty="no spoke to sync (no hub, or every spoke disabled)",
    )


@click.command("sync", epilog=EPILOG)
@click.argument("hub", required=False, default="")
@click.option("--spoke", default="", help="Only this spoke of HUB.")
@connection_options
@click.pass_context
def sync(ctx: click.Context, hub: str, spoke: str, conn: Conn) -> None:
    """Sync HUB's spokes (or every hub's) now; wait until the hub converged.

    Runs rounds of runs until every enabled spoke holds every change of the hub (a spoke's
    first run may still be merging when the command starts), at most 5. Shows live progress,
    then a summary table with counts per item. Exits 0 only if every spoke's run succeeded
    and every hub converged; 1 otherwise, saying which spokes are behind. Ctrl-C stops
    waiting (exit 130); the runs go on in the server. With --json prints one JSON object per
    progress message, the last being {"summary": ...}.
    """
    if spoke and not hub:
        raise click.UsageError("--spoke needs the HUB argument")
    live = None if conn.json else LiveProgress()
    summary = pb.SyncSummary()
    try:
        with conn.client() as c:
            for message in c.sync(hub, spoke):
                if conn.json:
                    click.echo(json.dumps(render.as_dict(message)))
                if message.HasField("summary"):
                    summary = message.summary
                elif live is not None:
                    live.update(message.progress)
    except KeyboardInterrupt:
        click.echo("\ninterrupted: stopped waiting; the runs go on in the server "
                   "(`cirahubctl status` shows them)", err=True)
        sys.exit(INTERRUPTED)
    if not conn.json:
        click.echo()
        summary_table(summary)
        if not summary.converged:
            for line in summary.messages:
                click.echo(line, err=True)
    ctx.exit(ExitCode.OK if summary.ok else ExitCode.SYNC_FAILED)


@click.command("status", epilog=EPILOG)
@click.argument("hub", required=False, default="")
@connection_options
def status(hub: str, conn: Conn) -> None:
    """Per spoke of HUB (or of every hub): state, the cluster node running it, last run,
    next run, items, items it holds as a declared projection (`cirahubctl item show` says
    which fields and why), last error."""
    with conn.client() as c:
        spokes = c.list_all("GetStatus", pb.GetStatusRequest(hub=hub), "spokes")
    if conn.json:
        render.emit_json(list(spokes))
        return
    render.table(
        ("hub", "spoke", "kind", "state", "node", "last run", "result", "next run", "items",
         "projected", "error"),
        [[s.hub, s.spoke, s.kind, s.state + (" (halted)" if s.halted else ""), s.node,
          render.when(s.last_run.finished_at or s.last_run.started_at, s, "last_run"),
          s.last_run.status if s.HasField("last_run") else "",
          render.when(s.next_run, s, "next_run"), s.item_count, s.projected_count or "",
          render.error_text(s) or s.halted_reason] for s in spokes],
        empty="no spokes",
    )
    for s in spokes:
        if s.state == SpokeState.ACTION_REQUIRED and s.HasField("last_error"):
            click.echo(f"\n{s.hub}/{s.spoke} needs an administrator: {s.last_error.message}")
            if s.last_error.fields.get("advice"):
                click.echo(f"  what to do: {s.last_error.fields['advice']}")
    for s in spokes:
        if s.HasField("halt") and not s.halt.confirmed:
            click.echo(f"\n{s.hub}/{s.spoke} is halted; answer with `cirahubctl confirm "
                       f"{s.hub} {s.spoke}` or `cirahubctl restore {s.hub} {s.spoke}`:")
            for line in halt_lines(s.halt):
                click.echo("  " + line)


@click.command("runs", epilog=EPILOG)
@click.argument("hub", required=False, default="")
@click.option("--spoke", default="", help="Only this spoke of HUB.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="How many runs, newest first.")
@connection_options
def runs(hub: str, spoke: str, limit: int, conn: Conn) -> None:
    """Sync run history, newest first."""
    with conn.client() as c:
        result = c.list_all("ListRuns", pb.ListRunsRequest(
            hub=hub, spoke=spoke, limit=limit), "runs", limit)
    if conn.json:
        render.emit_json(list(result))
        return
    render.table(
        ("started", "hub", "spoke", "trigger", "status", "pulled", "pushed", "error"),
        [[render.when(r.started_at), r.hub, r.spoke, r.trigger, r.status,
          r.counts.get("pulled", 0), r.counts.get("pushed", 0), render.error_text(r, "error")]
         for r in result],
        empty="no runs yet",
    )


@click.command("conflicts", epilog=EPILOG)
@click.argument("hub", required=False, default="")
@click.option("--spoke", default="", help="Only conflicts with this spoke of HUB.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, MAX_LIMIT),
              help="How many conflicts, newest first.")
@connection_options
def conflicts(hub: str, spoke: str, limit: int, conn: Conn) -> None:
    """Conflicts (a field changed on both sides) and who won; values are cut short, `cirahubctl
    conflict ID` shows one whole with both versions of the item."""
    with conn.client() as c:
        result = c.list_all("ListConflicts", pb.ListConflictsRequest(
            hub=hub, spoke=spoke, limit=limit), "conflicts", limit)
    if conn.json:
        render.emit_json(list(result))
        return
    render.table(("id", "when", "hub", "spoke", "uid", "field", "hub value", "spoke value",
                  "winner", "why"), conflict_rows(result), empty="no conflicts")


def conflict_rows(result: Any) -> list[list[Any]]:
    rows = []
    for cf in result:
        for f in cf.fields or [pb.FieldConflict(field="(item)", winner="hub", reason=cf.kind)]:
            rows.append([cf.id, render.when(cf.created_at), cf.hub, cf.spoke, cf.uid, f.field,
                         render.value_text(f, "hub_value"), render.value_text(f, "spoke_value"),
                         f.winner, f.reason])
    return rows


@click.command("conflict", epilog=EPILOG)
@click.argument("conflict_id", metavar="ID")
@connection_options
def conflict(conflict_id: str, conn: Conn) -> None:
    """One conflict (ID from `cirahubctl conflicts`) whole: every field, the losing version
    and the hub's current version of the item (each at most 1 MiB characters of JSON)."""
    with conn.client() as c:
        cf = c.call("GetConflict", pb.GetConflictRequest(id=conflict_id))
    if conn.json:
        render.emit_json(cf)
        return
    render.table(("id", "when", "hub", "spoke", "uid", "field", "hub value", "spoke value",
                  "winner", "why"), conflict_rows([cf]))
    click.echo(f"\nlosing version: {render.value_text(cf, 'losing_item', '(none kept)')}")
    click.echo(f"current version: {render.value_text(cf, 'current_item', '(gone from the hub)')}")
    if cf.truncated:
        click.echo("(some values were cut short: each item version is at most 1 MiB characters)")


@click.command("quarantine", epilog=EPILOG)
@click.argument("hub", required=False, default="")
@click.option("--spoke", default="", help="Only this spoke of HUB.")
@connection_options
def quarantine(hub: str, spoke: str, conn: Conn) -> None:
    """Items that could not be synced (malformed, duplicate UID) and why."""
    with conn.client() as c:
        result = c.list_all("ListQuarantine", pb.ListQuarantineRequest(
            hub=hub, spoke=spoke), "entries")
    if conn.json:
        render.emit_json(list(result))
        return
    render.table(("hub", "spoke", "remote id", "uid", "reason", "detail", "last seen"),
                 [[q.hub, q.spoke, q.remote_id, q.uid, q.reason, q.detail,
                   render.when(q.last_seen)] for q in result], empty="nothing quarantined")


@click.command("events", epilog=EPILOG)
@click.option("--hub", default="", help="Only events of this hub.")
@click.option("--since", default="", metavar="SEQ|all",
              help="Replay history: events after this sequence number, or all the server "
                   "keeps (default: follow from now).")
@click.option("--no-follow", is_flag=True,
              help="Stop after the events kept now instead of following (with --since).")
@connection_options
def events(hub: str, since: str, no_follow: bool, conn: Conn) -> None:
    """Follow runtime events (runs, halts, errors) from now on, until interrupted;
    `--since all` first replays what the server keeps.

    \b
    Example:
      cirahubctl events --since all --no-follow

    Times are in the local zone with their offset. With --json prints one JSON object per
    event (seq, at, type, hub, spoke, phase, counts, and for a finished run its status,
    run_id, error and duration_seconds).
    """
    if since.strip().lower() == "all":
        after = -1
    elif since.strip().isdigit() and int(since) > 0:
        after = int(since)
    elif since.strip():
        raise click.BadParameter("a positive sequence number or 'all'", param_hint="--since")
    else:
        after = 0
    if no_follow and not after:
        raise click.UsageError("--no-follow replays history: give --since SEQ or --since all")
    request = pb.WatchEventsRequest(since=after, hub=hub, once=no_follow)
    with conn.client() as c:
        for e in c.stream("WatchEvents", request):
            if conn.json:
                click.echo(json.dumps(render.as_dict(e)))
            else:
                click.echo(event_line(e))


def event_line(e: pb.Event) -> str:
    """One event for people: when (local zone), type, hub/spoke, what happened."""
    line = f"{render.when(e.at)}  {e.type:<8} {e.hub}/{e.spoke}  {e.message}"
    if e.status and e.status not in e.message:
        line += f" ({e.status})"
    return line


@click.command("server", context_settings=CONTEXT, epilog=EPILOG)
@click.option("--data-dir", envvar="CIRAHUB_DATA_DIR", metavar="DIR",
              help="Data folder: SQLite database, secret key, control token "
                   "[env CIRAHUB_DATA_DIR; default: the per-user folder].")
@click.option("--listen", envvar="CIRAHUB_LISTEN", metavar="HOST:PORT",
              help="Address to listen on [env CIRAHUB_LISTEN; default 127.0.0.1:7443]; "
                   "port 0 picks a free port.")
@click.option("--ray-address", envvar="CIRAHUB_RAY_ADDRESS", metavar="ADDR",
              help="Join this Ray cluster instead of starting an embedded one.")
@click.option("--db", envvar="CIRAHUB_DB", metavar="URL",
              help="SQLAlchemy URL (postgresql://...) [default: SQLite in the data folder].")
@click.option("--tls-cert", type=click.Path(dir_okay=False), help="TLS certificate (PEM).")
@click.option("--tls-key", type=click.Path(dir_okay=False), help="TLS private key (PEM).")
@click.option("--http-listen", envvar="CIRAHUB_HTTP_LISTEN", metavar="HOST:PORT|off",
              help="Web console, /metrics and health [env CIRAHUB_HTTP_LISTEN; default "
                   "127.0.0.1:7080]; TLS with --tls-cert/--tls-key too; 'off' for none.")
@click.option("--log-level", default="INFO", show_default=True, envvar="CIRAHUB_LOG_LEVEL",
              type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False),
              help="Level of the server's log; libraries (Ray's included) log WARNING and "
                   "up, everything at DEBUG [env CIRAHUB_LOG_LEVEL].")
@click.option("--log-format", default="text", show_default=True, envvar="CIRAHUB_LOG_FORMAT",
              type=click.Choice(["text", "json"]),
              help="Log lines as text (key=value) or one JSON object each "
                   "[env CIRAHUB_LOG_FORMAT].")
@click.option("--dashboard", is_flag=True, envvar="CIRAHUB_RAY_DASHBOARD",
              help="Start the embedded Ray's dashboard on 127.0.0.1:8265 (with the helper "
                   "processes Ray starts beside it, about 170 MB more) [env "
                   "CIRAHUB_RAY_DASHBOARD]. A cluster (--ray-address) has its own.")
@click.option("--max-streams", default=MAX_STREAMS, show_default=True,
              envvar="CIRAHUB_MAX_STREAMS", type=click.IntRange(1, 100_000),
              help="Open sync-progress and event streams allowed at once; one more is "
                   "refused (exit 10 for the client) [env CIRAHUB_MAX_STREAMS].")
def server(data_dir: str | None, listen: str | None, ray_address: str | None, db: str | None,
           tls_cert: str | None, tls_key: str | None, log_level: str, log_format: str = "text",
           http_listen: str | None = None, max_streams: int = MAX_STREAMS,
           dashboard: bool = False) -> None:
    """Run the control plane (and the sync runtime) until interrupted.

    The control token is created on first start in DATA_DIR/control.token (mode 0600);
    clients on this machine read it from there. The log goes to stderr, one line per run
    (hub, spoke, status, counts, duration), halt, quarantine, conflict, back-off and
    configuration change; never a secret.
    """
    from pathlib import Path

    from cirahub.cluster.settings import Settings
    from cirahub.control.server import TlsConfig, serve

    _refuse_flag_mixes(tls_cert, tls_key, ray_address, dashboard)
    runlog.configure(log_level, log_format)
    settings = Settings.from_env(data_dir=Path(data_dir) if data_dir else None, db_url=db,
                                 ray_address=ray_address, listen=listen,
                                 dashboard=dashboard or None)
    tls = TlsConfig.from_files(tls_cert, tls_key) if tls_cert and tls_key else None

    def ready(host: str, port: int) -> None:
        click.echo(f"cirahub control plane listening on {host}:{port}"
                   f"{' (TLS)' if tls else ''}; data folder {settings.data_dir}", err=True)

    serve(settings, tls, ready=ready, http_listen=http_listen, max_streams=max_streams)


def _refuse_flag_mixes(tls_cert: str | None, tls_key: str | None, ray_address: str | None,
                       dashboard: bool) -> None:
    """`server`'s flags that do not go together: a usage error (exit 2) naming them."""
    if bool(tls_cert) != bool(tls_key):
        raise click.UsageError("--tls-cert and --tls-key go together")
    if dashboard and ray_address:
        raise click.UsageError("--dashboard is for the embedded Ray; a cluster "
                               "(--ray-address) starts its own dashboard")
