"""The `pelapak` command.

Each command imports what it uses inside its function: `pelapak --help`, `pelapak db upgrade`
or `pelapak doctor` do not pay for loading the conversations, the channels and the web app
(bench/startup.py measures what each command costs before it does its work).
"""

from __future__ import annotations

import sys
from datetime import datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from bot.startup import build_app, pause_collector, started
from bot.unggulan_cli import unggulan_app

if TYPE_CHECKING:
    from bot.config import Settings

app = typer.Typer(help="Pelapak: buka toko online lewat chat.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.")
app.add_typer(db_app, name="db")
sync_app = typer.Typer(help="The marketplace sync queue.")
import_app = typer.Typer(help="Importing government MSME data.")
broadcast_app = typer.Typer(help="Messages from admins to a segment of owners.")
app.add_typer(broadcast_app, name="broadcast")
app.add_typer(import_app, name="import")
app.add_typer(sync_app, name="sync")
admin_app = typer.Typer(help="Who may broadcast (besides ADMIN_TELEGRAM_IDS / _WHATSAPP_NUMBERS).")
app.add_typer(admin_app, name="admin")
facilitator_app = typer.Typer(help="Field facilitators (pendamping).")
app.add_typer(facilitator_app, name="facilitator")
app.add_typer(unggulan_app, name="unggulan")


@app.command()
def chat(
    as_: str = typer.Option("demo", "--as", help="Phone number (or name) you chat as"),
    jsonl: bool = typer.Option(False, "--jsonl", help="JSON lines on stdin/stdout, for scripts"),
) -> None:
    """Chat with the bot in this terminal, through the same flows and database."""
    from bot.channels.console import ConsoleChannel

    built = build_app(loaded=False)
    try:
        channel = ConsoleChannel(built.runner, built.media, None if as_ == "demo" else as_)
        started()
        if jsonl:
            channel.run_jsonl(sys.stdin.buffer, sys.stdout)
        else:
            channel.run_interactive()
    finally:
        built.close()


@app.command()
def run(
    as_: str = typer.Option("demo", "--as", help="Console identity when no platform is set"),
) -> None:
    """Run the bot: the configured channels, or the console chat when none is set."""
    from bot.channels.console import ConsoleChannel

    built = build_app(loaded=False)
    try:
        if not built.settings.has_platform:
            typer.echo("Tidak ada TELEGRAM_BOT_TOKEN / TWILIO_*: membuka chat di konsol.")
            console = ConsoleChannel(built.runner, built.media, None if as_ == "demo" else as_)
            started()
            console.run_interactive()
            return
        from bot.server import serve

        started()
        _refuse_unusable(built.settings)
        serve(built)
    finally:
        built.close()


def _refuse_unusable(settings: Settings) -> None:
    from bot.config import refusals

    problems = refusals(settings)
    for problem in problems:
        typer.echo(f"pelapak: {problem}", err=True)
    if problems:
        raise typer.Exit(2)


@app.command()
def serve() -> None:
    """Serve the web app (dashboard at /admin, health, configured webhooks), no console chat."""
    from bot.server import serve as serve_web

    built = build_app()
    try:
        base = (
            built.settings.public_base_url or f"http://{built.settings.host}:{built.settings.port}"
        )
        typer.echo(f"dasbor: {base.rstrip('/')}/admin/  (masuk: pelapak admin link --telegram ID)")
        _refuse_unusable(built.settings)
        serve_web(built)
    finally:
        built.close()


@app.command()
def worker(once: bool = typer.Option(False, "--once", help="Push what is due, then exit")) -> None:
    """Publish confirmed sellers and products to the marketplace (MARKETPLACE_API_URL)."""
    import asyncio

    from bot import lifecycle
    from bot.sync.runner import build_worker

    built = build_app()
    sync = build_worker(built)
    if sync is None:
        typer.echo("MARKETPLACE_API_URL is not set.", err=True)
        raise typer.Exit(2)

    async def main() -> None:
        try:
            if once:
                tally = await sync.run_once()
                typer.echo(
                    f"done {tally.done}, retrying {tally.retried}, failed {tally.failed}"
                    + (" (paused: credentials refused)" if tally.paused else "")
                )
            else:
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                import signal

                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, stop.set)
                await sync.run_forever(stop)
        finally:
            await sync.client.close()

    try:
        lifecycle.run(main())
    finally:
        built.close()


@sync_app.command("status")
def sync_status() -> None:
    """Events by state, the oldest pending one, and failures with their reasons."""
    from rich.console import Console
    from rich.table import Table

    from bot.sync.status import sync_report

    built = build_app()
    try:
        report = sync_report(built.db)
    finally:
        built.close()
    console = Console()
    table = Table("state", "events")
    for state, count in report.counts.items():
        table.add_row(state, str(count))
    console.print(table)
    age = report.oldest_pending_age
    console.print(f"oldest pending: {age}" if age is not None else "nothing pending")
    if report.failures:
        failures = Table("id", "kind", "ref", "reason", title="failed")
        for event in report.failures:
            failures.add_row(str(event.id), event.kind, event.aggregate_ref, event.last_error or "")
        console.print(failures)


@sync_app.command("retry")
def sync_retry(
    event_id: int | None = typer.Argument(None, help="Outbox event id"),
    all_failed: bool = typer.Option(False, "--all-failed", help="Re-queue every failed event"),
) -> None:
    """Put failed events back in the queue."""
    from bot.sync.status import requeue

    if event_id is None and not all_failed:
        typer.echo("Give an event id or --all-failed.", err=True)
        raise typer.Exit(2)
    built = build_app()
    try:
        count = requeue(built.db, None if all_failed else event_id)
    finally:
        built.close()
    typer.echo(f"re-queued {count}")


@import_app.command("umkm")
def import_umkm_command(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="Disperindag-style CSV"),
    report: Path | None = typer.Option(None, help="Where to write the validation report"),
) -> None:
    """Import government MSME data; problems go to a report file (row, column, problem)."""
    from rich.progress import track

    from bot.importer import import_umkm, write_report

    built = build_app()
    try:
        summary = import_umkm(
            built.db,
            file,
            progress=lambda rows: track(rows, description="Mengimpor", total=None, transient=True),
        )
    finally:
        built.close()
    report = report or file.with_name(f"{file.stem}.laporan.csv")
    write_report(summary.problems, report)
    typer.echo(
        f"{summary.rows} baris: {summary.created} baru, {summary.updated} diperbarui, "
        f"{summary.unchanged} tidak berubah, {summary.skipped} dilewati; "
        f"{len(summary.problems)} masalah di {report}"
    )


@app.command()
def stats(
    by: str = typer.Option("regency", help="regency or facilitator"),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write the table as CSV"),
) -> None:
    """The onboarding funnel: started, consented, registered, first product, live."""
    from rich.console import Console
    from rich.table import Table

    from bot.stats import STAGES, funnel, write_csv

    if by not in ("regency", "facilitator"):
        typer.echo("--by takes regency or facilitator", err=True)
        raise typer.Exit(2)
    built = build_app()
    try:
        groups = funnel(built.db, by)
    finally:
        built.close()
    table = Table(by, *STAGES, title="Pelapak funnel")
    for name, counts in groups.items():
        table.add_row(name, *(str(counts[s]) for s in STAGES))
    Console().print(table)
    if csv_file:
        write_csv(groups, by, csv_file)


@broadcast_app.command("create")
def broadcast_create(
    segment: str = typer.Option(
        ...,
        help="everyone, no_product, stalled:STEP, regency:CODE, category:CODE or facilitator:CODE",
    ),
    text: str = typer.Option(..., help="The message, as owners will read it (not empty)"),
    at: datetime | None = typer.Option(
        None, help="When to send (WIB, not in the past), e.g. 2026-12-01T09:00"
    ),
) -> None:
    """Create a broadcast: shows how many will get it and how long sending takes."""
    from zoneinfo import ZoneInfo

    from bot.broadcasts import audience, create_broadcast, recipients

    kind, _, value = segment.partition(":")
    built = build_app()
    try:
        send_at = at.replace(tzinfo=ZoneInfo(built.settings.timezone)) if at else None
        try:
            broadcast_id = create_broadcast(built.db, kind, text, value or None, send_at)
        except ValueError as exc:
            typer.echo(str(exc), err=True)
            raise typer.Exit(2) from exc
        with built.db.read_session() as session:
            people = recipients(session, kind, value or None)
            reachable, seconds = audience(session, kind, value or None, built.settings)
        typer.echo(
            f"broadcast {broadcast_id}: {reachable} recipients "
            f"({len(people) - reachable} opted out), about {seconds:.0f} s to send"
        )
    finally:
        built.close()


@broadcast_app.command("status")
def broadcast_status() -> None:
    """Every broadcast with its delivery figures."""
    from zoneinfo import ZoneInfo

    from rich.console import Console
    from rich.table import Table
    from sqlmodel import col, select

    from bot.broadcasts import delivery_counts, segment_label
    from bot.storage.models import Broadcast

    built = build_app()
    try:
        zone = ZoneInfo(built.settings.timezone)
        table = Table("id", "status", "segment", "send at", "deliveries")
        with built.db.read_session() as session:
            broadcasts = list(session.exec(select(Broadcast).order_by(col(Broadcast.id))))
        for b in broadcasts:
            counts = delivery_counts(built.db, b.id or 0)
            table.add_row(
                str(b.id),
                b.status,
                segment_label(b.segment, b.segment_value),
                _local_time(b.send_at, zone),
                ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "-",
            )
        Console().print(table)
    finally:
        built.close()


def _local_time(when: datetime, zone: tzinfo) -> str:
    """A stored UTC time as the admin reads it: 2026-12-01 09:00 WIB."""
    local = when.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@broadcast_app.command("send")
def broadcast_send() -> None:
    """Send the broadcasts that are due now (pelapak run does this by itself)."""
    import asyncio
    import signal

    from bot import lifecycle
    from bot.broadcasts import build_senders, send_due

    built = build_app()
    try:
        senders = build_senders(built)
        if not senders:
            typer.echo("No channel configured (TELEGRAM_BOT_TOKEN or TWILIO_*).", err=True)
            raise typer.Exit(2)

        async def main() -> int:
            stop = asyncio.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                asyncio.get_running_loop().add_signal_handler(sig, stop.set)
            return await send_due(built.db, senders, stop)

        typer.echo(f"sent {lifecycle.run(main())} broadcast(s)")
    finally:
        built.close()


@admin_app.command("add")
def admin_add(
    telegram: str | None = typer.Option(None, help="Telegram user id (a number)"),
    whatsapp: str | None = typer.Option(None, help="WhatsApp number, e.g. 0812-3456-7890"),
    console: str | None = typer.Option(
        None, help="Who `pelapak chat --as` speaks as: a number, a name, or demo"
    ),
) -> None:
    """Let someone broadcast (/siaran) from Telegram, WhatsApp or the console chat."""
    from bot.roles import add_admin

    channel, external_id = _one_identity(telegram, whatsapp, console)
    built = build_app()
    try:
        with built.db.session() as session:
            admin = add_admin(session, channel, str(external_id).strip())
            typer.echo(f"admin: {admin.channel} {admin.external_id}")
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    finally:
        built.close()


def _one_identity(
    telegram: str | None, whatsapp: str | None, console: str | None
) -> tuple[str, str]:
    """The one channel and id given among --telegram, --whatsapp and --console."""
    given = [
        (c, v)
        for c, v in (("telegram", telegram), ("whatsapp", whatsapp), ("console", console))
        if v is not None
    ]
    if len(given) != 1:
        typer.echo("Give one of --telegram, --whatsapp or --console.", err=True)
        raise typer.Exit(2)
    return given[0]


@admin_app.command("link")
def admin_link(
    telegram: str | None = typer.Option(None, help="Telegram user id (a number)"),
    whatsapp: str | None = typer.Option(None, help="WhatsApp number, e.g. 0812-3456-7890"),
    console: str | None = typer.Option(None, help="A console identity (`pelapak chat --as`)"),
) -> None:
    """Print a sign-in link to the web dashboard for an admin or facilitator (once, 15 min)."""
    from bot.dashboard.auth import NotAllowed, issue_link, link_url
    from bot.storage.models import utcnow

    channel, external_id = _one_identity(telegram, whatsapp, console)
    built = build_app()
    try:
        with built.db.session() as session:
            token = issue_link(session, built.settings, channel, external_id, utcnow())
        typer.echo(link_url(built.settings, token))
    except NotAllowed as exc:
        typer.echo(f"{exc}; add them with `pelapak admin add` or as a facilitator", err=True)
        raise typer.Exit(2) from exc
    finally:
        built.close()


@admin_app.command("list")
def admin_list() -> None:
    """Admins from the table and from settings."""
    from sqlmodel import select

    from bot.storage.models import Admin

    built = build_app()
    try:
        for telegram_id in built.settings.admin_telegram_ids:
            typer.echo(f"telegram {telegram_id} (ADMIN_TELEGRAM_IDS)")
        for number in built.settings.admin_whatsapp_numbers:
            typer.echo(f"whatsapp {number} (ADMIN_WHATSAPP_NUMBERS)")
        with built.db.read_session() as session:
            for admin in session.exec(select(Admin)):
                typer.echo(f"{admin.channel} {admin.external_id}")
    finally:
        built.close()


@facilitator_app.command("add")
def facilitator_add(
    name: str = typer.Option(..., help="The facilitator's name"),
    regency: str = typer.Option(..., help="Kemendagri regency code, e.g. 3515 (Sidoarjo)"),
    assign: bool = typer.Option(
        True, help="Give them the imported businesses of the regency that nobody has yet"
    ),
) -> None:
    """Add a facilitator and print their invite code (they send /pendamping CODE)."""
    from bot.roles import add_facilitator, assign_leads

    built = build_app()
    try:
        with built.db.session() as session:
            facilitator = add_facilitator(session, name, regency)
            leads = assign_leads(session, facilitator, None) if assign else 0
            typer.echo(f"{facilitator.name}: {facilitator.code}, {leads} imported businesses")
            typer.echo(f"invite code: {facilitator.invite_code}")
            typer.echo(f"they send: /pendamping {facilitator.invite_code}")
            username = built.settings.telegram_bot_username
            if username:
                typer.echo(f"or open: https://t.me/{username}?start=pdp_{facilitator.invite_code}")
    except ValueError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from exc
    finally:
        built.close()


@facilitator_app.command("assign")
def facilitator_assign(
    code: str = typer.Argument(..., help="The facilitator's code, e.g. PDP-3515-001"),
    regency: str | None = typer.Option(None, help="Regency code (default: theirs)"),
) -> None:
    """Give a facilitator the unassigned imported businesses of a regency."""
    from sqlmodel import select

    from bot.roles import assign_leads
    from bot.storage.models import Facilitator

    built = build_app()
    try:
        with built.db.session() as session:
            facilitator = session.exec(
                select(Facilitator).where(Facilitator.code == code.upper())
            ).first()
            if facilitator is None:
                typer.echo(f"no facilitator {code}", err=True)
                raise typer.Exit(2)
            typer.echo(f"assigned {assign_leads(session, facilitator, regency)}")
    finally:
        built.close()


@facilitator_app.command("list")
def facilitator_list() -> None:
    """Facilitators, whether they joined, and how many owners they registered."""
    from rich.console import Console
    from rich.table import Table
    from sqlmodel import func, select

    from bot.storage.models import Facilitator, Seller

    built = build_app()
    try:
        table = Table("code", "name", "regency", "joined", "owners")
        with built.db.read_session() as session:
            for f in session.exec(select(Facilitator).order_by(Facilitator.code)):
                owners = session.exec(
                    select(func.count()).where(
                        Seller.facilitator_code == f.code, Seller.status != "erased"
                    )
                ).one()
                joined = f.joined_at.isoformat(timespec="minutes") if f.joined_at else "-"
                table.add_row(f.code, f.name, f.regency_code, joined, str(owners))
        Console().print(table)
    finally:
        built.close()


@app.command()
def doctor() -> None:
    """Check the configuration: database, migrations, media, platforms, public URL, templates."""
    from rich.console import Console
    from rich.table import Table

    from bot.config import Settings
    from bot.doctor import diagnose
    from bot.logs import configure

    settings = Settings()
    configure(settings.log_format)
    started()
    findings = diagnose(settings)
    table = Table("check", "", "detail", title="pelapak doctor")
    for finding in findings:
        mark = "[green]ok[/green]" if finding.ok else "[red]MISSING[/red]"
        table.add_row(finding.area, mark, finding.detail)
    Console(width=120).print(table)
    failed = [f.area for f in findings if not f.ok]
    typer.echo(f"{len(failed)} problem(s): {', '.join(failed)}" if failed else "all good")
    raise typer.Exit(1 if failed else 0)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    build_app().close()
    typer.echo("database is up to date")


def main() -> None:
    """The `pelapak` command (the console script and `python -m bot.cli`)."""
    pause_collector()
    app()


if __name__ == "__main__":
    main()
