"""`pelapak unggulan`: the produk unggulan candidates, and admins' decisions on them.

Every `pelapak` command loads this module: what the commands use is imported inside them.
"""

from __future__ import annotations

from pathlib import Path

import typer

from bot.ranking import Method
from bot.startup import build_app

unggulan_app = typer.Typer(help="Produk unggulan: candidates per regency and category.")


def _month(value: str | None) -> str | None:
    from bot.sales import local_day
    from bot.storage.models import utcnow
    from bot.unggulan import usable_month

    if value is not None and not usable_month(value, local_day(utcnow())):  # today in WIB
        typer.echo("--month takes YYYY-MM of this month or one before, e.g. 2026-11", err=True)
        raise typer.Exit(2)
    return value


@unggulan_app.callback(invoke_without_command=True)
def unggulan(
    ctx: typer.Context,
    regency: str | None = typer.Option(None, "--regency", help="Kemendagri code, e.g. 3515"),
    category: str | None = typer.Option(None, "--category", help="a category code"),
    month: str | None = typer.Option(None, "--month", help="YYYY-MM (default: this month)"),
    csv_file: Path | None = typer.Option(None, "--csv", help="Also write the list as CSV"),
    xlsx_file: Path | None = typer.Option(None, "--xlsx", help="Also write it as Excel"),
    min_orders: int = typer.Option(Method.min_orders, help="evidence minimum: orders"),
    min_reviews: int = typer.Option(Method.min_reviews, help="evidence minimum: reviews"),
    window_days: int = typer.Option(Method.window_days, help="rolling window in days"),
) -> None:
    """The candidates in rank order, with their figures and why."""
    if ctx.invoked_subcommand is not None:
        return
    if csv_file and xlsx_file:
        typer.echo("choose --csv or --xlsx", err=True)
        raise typer.Exit(2)
    from rich.console import Console
    from rich.table import Table

    from bot.sales import local_day
    from bot.storage.models import utcnow
    from bot.unggulan import candidates, write_csv, write_xlsx

    method = Method(window_days=window_days, min_orders=min_orders, min_reviews=min_reviews)
    built = build_app()
    try:
        today = local_day(utcnow(), built.settings.timezone)
        shown, found = candidates(
            built.db,
            today,
            _month(month),
            regency,
            category,
            method,
            built.settings.public_base_url,
        )
    finally:
        built.close()
    table = Table(
        "regency",
        "category",
        "#",
        "score",
        "product",
        "shop",
        "rating",
        "sales/30d",
        "conversion",
        "returns",
        "decision",
        title=f"Produk unggulan candidates {shown}",
    )
    for c in found:
        r, p = c.ranked, c.ranked.parts
        table.add_row(
            c.regency_name,
            r.figures.category,
            str(r.rank),
            f"{r.score:.1f}",
            f"{c.name} ({r.figures.ref})",
            c.shop,
            f"{p['rating'].value:.2f} · p{p['rating'].percentile:.0f}",
            f"{p['sales'].value:.1f} · p{p['sales'].percentile:.0f}",
            f"{p['conversion'].value:.1%} · p{p['conversion'].percentile:.0f}",
            f"{p['returns'].value:.1%} · p{p['returns'].percentile:.0f}",
            c.decision or "-",
        )
    Console(width=200).print(table)
    if not found:
        typer.echo("no candidates: no live product has enough evidence in this window")
    if csv_file:
        write_csv(shown, found, csv_file)
    if xlsx_file:
        write_xlsx(shown, found, xlsx_file)


def _decide(product_ref: str, status: str, note: str | None, month: str | None) -> None:
    from bot.sales import local_day
    from bot.storage.models import utcnow
    from bot.unggulan import decide

    built = build_app()
    try:
        now = utcnow()
        outcome = decide(
            built.db,
            product_ref,
            status,
            note,
            now,
            local_day(now, built.settings.timezone),
            _month(month),
            by="cli",
        )
    finally:
        built.close()
    if outcome == "not_found":
        typer.echo(f"no product {product_ref}", err=True)
        raise typer.Exit(1)
    if outcome == "not_candidate":
        typer.echo(f"{product_ref} is not a candidate this month (evidence, or not live)", err=True)
        raise typer.Exit(1)
    typer.echo(f"{product_ref}: {outcome}")


@unggulan_app.command("confirm")
def confirm(
    product_ref: str,
    note: str | None = typer.Option(None, "--note"),
    month: str | None = typer.Option(None, "--month", help="YYYY-MM (default: this month)"),
) -> None:
    """Confirm a candidate as produk unggulan of its regency and month; the owner hears once."""
    _decide(product_ref, "confirmed", note, month)


@unggulan_app.command("decline")
def decline(
    product_ref: str,
    note: str | None = typer.Option(None, "--note"),
    month: str | None = typer.Option(None, "--month", help="YYYY-MM (default: this month)"),
) -> None:
    """Decline a candidate for this month (with the reason in --note)."""
    _decide(product_ref, "declined", note, month)


@unggulan_app.command("unknown")
def unknown() -> None:
    """Marketplace events about products Pelapak does not know (kept, not applied)."""
    from bot.marketplace_events import unknown_report

    built = build_app()
    try:
        found = unknown_report(built.db)
    finally:
        built.close()
    for ref, kind, count in found:
        typer.echo(f"{ref}\t{kind}\t{count}")
