"""Produk unggulan: candidates per regency and category for a month, admins' decisions, the
owner congratulated once, and the export for the province's curation board."""

from __future__ import annotations

import calendar
import csv
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from bot import notices
from bot.ranking import PARTS, Method, Ranked, rank
from bot.sales import ranking_figures
from bot.spreadsheet import csv_row, keep_text
from bot.storage.database import Database
from bot.storage.locks import hold_until_commit
from bot.storage.models import (
    Facilitator,
    Product,
    ProdukUnggulan,
    Seller,
)
from bot.storage.sellers import latest_account
from flows.messages import t
from flows.regions import regencies

CONGRATS = t("unggulan.congrats")
MONTH = re.compile(r"20\d{2}-(0[1-9]|1[0-2])")  # YYYY-MM, as --month and the dashboard take it


def usable_month(value: str | None, today: date) -> bool:
    """A YYYY-MM that has begun: products are rated on figures that exist, never a month to
    come (whose window would be the same days as this month's)."""
    return value is not None and bool(MONTH.fullmatch(value)) and value <= f"{today:%Y-%m}"


@dataclass(frozen=True)
class Candidate:
    ranked: Ranked
    product_id: int
    name: str
    shop: str
    url: str | None
    photos: tuple[str, ...]
    facilitator: str  # "PDP-3515-001 Dewi Lestari", or ""
    decision: str  # confirmed | declined | "" (not decided yet)
    note: str
    decided_by: str  # "admin console:ana", "cli", or "" (not decided yet, or before it was kept)
    decided_at: datetime | None

    @property
    def regency_name(self) -> str:
        found = regencies().get(self.ranked.figures.regency)
        return found.full_name if found else self.ranked.figures.regency


def month_window(month: str | None, today: date, days: int) -> tuple[str, date, date]:
    """The month (YYYY-MM) and its window: `days` days ending on its last day, or yesterday
    while the month is still running."""
    if month is None:
        month = today.strftime("%Y-%m")
    year, number = (int(part) for part in month.split("-"))
    last = date(year, number, calendar.monthrange(year, number)[1])
    end = min(last, today - timedelta(days=1))
    return month, end - timedelta(days=days - 1), end


def candidates(
    db: Database,
    today: date,
    month: str | None = None,
    regency: str | None = None,
    category: str | None = None,
    method: Method | None = None,
    media_base: str | None = None,
) -> tuple[str, list[Candidate]]:
    """The month and its candidates, by regency, category, then rank."""
    method = method or Method()
    month, start, end = month_window(month, today, method.window_days)
    with db.read_session() as session:
        figures = ranking_figures(session, start, end, regency, category)
        ids = {f.ref: pid for f, pid in figures}
        groups = rank([f for f, _ in figures], method)
        ranked = [r for g in groups for r in g.ranked]
        details = _details(session, [ids[r.figures.ref] for r in ranked], month, media_base)
    found = [Candidate(r, ids[r.figures.ref], **details[ids[r.figures.ref]]) for r in ranked]
    return month, found


def _details(
    session: Session, product_ids: list[int], month: str, media_base: str | None
) -> dict[int, dict[str, Any]]:
    if not product_ids:
        return {}
    rows = session.exec(
        select(Product, Seller)
        .join(Seller, col(Seller.id) == col(Product.seller_id))
        .where(col(Product.id).in_(product_ids))
    ).all()
    facilitators = {f.code: f.name for f in session.exec(select(Facilitator))}
    decisions = {
        d.product_id: d
        for d in session.exec(
            select(ProdukUnggulan).where(
                ProdukUnggulan.month == month, col(ProdukUnggulan.product_id).in_(product_ids)
            )
        )
    }
    base = (media_base or "").rstrip("/")
    found = {}
    for product, seller in rows:
        code = seller.facilitator_code or ""
        decided = decisions.get(product.id)
        found[product.id or 0] = {
            "name": product.name or "",
            "shop": seller.shop_name or "",
            "url": product.url,
            "photos": tuple(f"{base}/media/{p['sha256']}.jpg" for p in product.photos or []),
            "facilitator": f"{code} {facilitators.get(code, '')}".strip(),
            "decision": decided.status if decided else "",
            "note": (decided.note or "") if decided else "",
            "decided_by": (decided.decided_by or "") if decided else "",
            "decided_at": decided.decided_at if decided else None,
        }
    return found


def decide(
    db: Database,
    product_ref: str,
    status: str,
    note: str | None,
    now: datetime,
    today: date,
    month: str | None = None,
    method: Method | None = None,
    by: str | None = None,
) -> str:
    """Record an admin's decision on a candidate: "confirmed", "declined", "not_found" or
    "not_candidate" (under the evidence minimum, not live, or no figures).

    Deciding again replaces the status and note; the owner is congratulated on the first
    confirmation only. Two decisions on one product and month take turns (a lock held until
    commit), so two admins or a double click never congratulate twice."""
    assert status in ("confirmed", "declined")
    if month is not None and not usable_month(month, today):
        return "not_candidate"
    method = method or Method()
    month, start, end = month_window(month, today, method.window_days)
    with db.session() as session:
        hold_until_commit(session, f"unggulan:{product_ref}:{month}")
        product = session.exec(select(Product).where(Product.ref == product_ref)).first()
        seller = session.get(Seller, product.seller_id) if product else None
        if product is None or seller is None:
            return "not_found"
        category = product.category or seller.category
        figures = ranking_figures(session, start, end, seller.regency_code, category)
        ranked = next(
            (
                r
                for g in rank([f for f, _ in figures], method)
                for r in g.ranked
                if r.figures.ref == product_ref
            ),
            None,
        )
        if ranked is None:
            return "not_candidate"
        row = session.exec(
            select(ProdukUnggulan).where(
                ProdukUnggulan.product_ref == product_ref, ProdukUnggulan.month == month
            )
        ).first() or ProdukUnggulan(
            product_ref=product_ref,
            month=month,
            status=status,
            regency_code=ranked.figures.regency,
            category=ranked.figures.category,
        )
        row.product_id, row.status, row.note = product.id, status, (note or None)
        row.score, row.parts, row.decided_at = ranked.score, _parts(ranked), now
        row.decided_by = by
        if status == "confirmed" and row.congratulated_at is None:
            row.congratulated_at = now
            _congratulate(session, seller, product, ranked)
        session.add(row)
        return status


def _parts(ranked: Ranked) -> dict[str, Any]:
    f = ranked.figures
    return {
        "rank": ranked.rank,
        "parts": ranked.explain(),
        "figures": {
            "views": f.views,
            "orders": f.orders,
            "units_sold": f.units_sold,
            "revenue": f.revenue,
            "ratings_count": f.ratings_count,
            "ratings_sum": f.ratings_sum,
            "returns": f.returns,
        },
    }


def _congratulate(session: Session, seller: Seller, product: Product, ranked: Ranked) -> None:
    account = latest_account(session, seller.id)
    if account is None or account.id is None:
        return
    found = regencies().get(ranked.figures.regency)
    params = {
        "name": product.name or "",
        "regency": found.full_name if found else ranked.figures.regency,
    }
    notices.add(session, account.id, CONGRATS.msgid, params)


# --- the export ---------------------------------------------------------------------------

HEADER = (
    "month",
    "regency_code",
    "regency",
    "category",
    "rank",
    "score",
    "product_ref",
    "product",
    "shop",
    "facilitator",
    "product_url",
    "photos",
    "views",
    "orders",
    "units_sold",
    "revenue_rupiah",
    "reviews",
    "stars_average",
    "returns",
    *(f"{part}_{what}" for part in PARTS for what in ("value", "percentile")),
    "decision",
    "note",
)


def rows(month: str, found: list[Candidate]) -> list[list[Any]]:
    table = []
    for c in found:
        f, r = c.ranked.figures, c.ranked
        average = round(f.ratings_sum / f.ratings_count, 2) if f.ratings_count else None
        parts = [
            value
            for part in PARTS
            for value in (round(r.parts[part].value, 4), round(r.parts[part].percentile, 1))
        ]
        table.append(
            [
                month,
                f.regency,
                c.regency_name,
                f.category,
                r.rank,
                r.score,
                f.ref,
                c.name,
                c.shop,
                c.facilitator,
                c.url or "",
                " ".join(c.photos),
                f.views,
                f.orders,
                f.units_sold,
                f.revenue,
                f.ratings_count,
                average,
                f.returns,
                *parts,
                c.decision,
                c.note,
            ]
        )
    return table


def write_csv(month: str, found: list[Candidate], path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as out:
        writer = csv.writer(out)
        writer.writerow(HEADER)
        writer.writerows(csv_row(row) for row in rows(month, found))


def write_xlsx(month: str, found: list[Candidate], path: Path) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"Unggulan {month}"
    sheet.append(list(HEADER))
    for row in rows(month, found):
        sheet.append(row)
        keep_text(sheet[sheet.max_row])
        photos = row[HEADER.index("photos")]
        if photos:  # the cover photo as a link the board can click
            cell = sheet.cell(row=sheet.max_row, column=HEADER.index("photos") + 1)
            cell.hyperlink = photos.split(" ")[0]
    sheet.freeze_panes = "A2"
    book.save(path)
