"""The `pelapak` command."""

from __future__ import annotations

import sys

import typer

from bot.app import build_app
from bot.channels.console import ConsoleChannel

app = typer.Typer(help="Pelapak: buka toko online lewat chat.", no_args_is_help=True)
db_app = typer.Typer(help="Database schema.")
app.add_typer(db_app, name="db")


@app.command()
def chat(
    as_: str = typer.Option("demo", "--as", help="Phone number (or name) you chat as"),
    jsonl: bool = typer.Option(False, "--jsonl", help="JSON lines on stdin/stdout, for scripts"),
) -> None:
    """Chat with the bot in this terminal, through the same flows and database."""
    built = build_app()
    try:
        channel = ConsoleChannel(built.runner, built.media, None if as_ == "demo" else as_)
        if jsonl:
            channel.run_jsonl(sys.stdin, sys.stdout)
        else:
            channel.run_interactive()
    finally:
        built.close()


@app.command()
def run(
    as_: str = typer.Option("demo", "--as", help="Console identity when no platform is set"),
) -> None:
    """Run the bot: the configured channels, or the console chat when none is set."""
    built = build_app()
    try:
        if not built.settings.has_platform:
            typer.echo("Tidak ada TELEGRAM_BOT_TOKEN / TWILIO_*: membuka chat di konsol.")
            ConsoleChannel(
                built.runner, built.media, None if as_ == "demo" else as_
            ).run_interactive()
            return
        if not built.settings.telegram_bot_token:
            typer.echo("WhatsApp is not available in this version yet; set TELEGRAM_BOT_TOKEN "
                       "or unset TWILIO_* to use the console chat.", err=True)
            raise typer.Exit(2)
        from bot.server import serve

        serve(built)
    finally:
        built.close()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations."""
    build_app().close()
    typer.echo("database is up to date")


if __name__ == "__main__":
    app()
