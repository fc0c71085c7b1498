"""Sums of the marketplace's figures over a window of days, in SQL.

A period row counts in a window when it lies wholly inside it. A weekly row is left out
when the same product also has daily rows inside that week, so the two never add up twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session

from bot.ranking import Figures
from bot.storage.models import Product, ProductStats, Seller

FIGURES = ("views", "orders", "units_sold", "revenue", "ratings_count", "ratings_sum", "returns")


def local_day(now: datetime, timezone: str = "Asia/Jakarta") -> date:
    return now.astimezone(ZoneInfo(timezone)).date()


def _not_double(stats: Any) -> Any:
    """Daily rows always; a weekly row only when no daily row of that product is inside it."""
    daily = ProductStats.__table__.alias("daily").c  # type: ignore[attr-defined]
    covered = (
        sa.select(sa.literal(1))
        .where(
            daily.product_id == stats.product_id,
            daily.period_start == daily.period_end,
            daily.period_start >= stats.period_start,
            daily.period_start <= stats.period_end,
        )
        .exists()
    )
    return sa.or_(stats.period_start == stats.period_end, ~covered)


def ranking_figures(
    session: Session,
    start: date,
    end: date,
    regency: str | None = None,
    category: str | None = None,
) -> list[tuple[Figures, int]]:
    """Each live product's totals between `start` and `end` (inclusive), with its id."""
    stats = ProductStats.__table__  # type: ignore[attr-defined]
    product, seller = Product.__table__, Seller.__table__  # type: ignore[attr-defined]
    category_of = sa.func.coalesce(product.c.category, seller.c.category)
    only: list[Any] = []
    if regency or category:
        # Sum only that regency's (category's) products, found by product_id's index; the
        # filter below the grouping would sum every product of the province first.
        chosen = sa.select(product.c.id).join(seller, seller.c.id == product.c.seller_id)
        if regency:
            chosen = chosen.where(seller.c.regency_code == regency)
        if category:
            chosen = chosen.where(category_of == category)
        only.append(stats.c.product_id.in_(chosen))
    totals = (
        sa.select(stats.c.product_id, *(sa.func.sum(stats.c[name]).label(name) for name in FIGURES))
        .where(
            stats.c.product_id.is_not(None),
            stats.c.period_start >= start,
            stats.c.period_end <= end,
            _not_double(stats.c),
            *only,
        )
        .group_by(stats.c.product_id)
        .subquery()
    )
    query = (
        sa.select(product.c.id, product.c.ref, seller.c.regency_code, category_of, totals)
        .select_from(totals)
        .join(product, product.c.id == totals.c.product_id)
        .join(seller, seller.c.id == product.c.seller_id)
        .where(product.c.status == "live", seller.c.status == "active")
        .where(seller.c.regency_code.is_not(None), category_of.is_not(None))
    )
    if regency:
        query = query.where(seller.c.regency_code == regency)
    if category:
        query = query.where(category_of == category)
    if session.get_bind().dialect.name == "postgresql":
        # The planner's cost for these sums (millions of rows it cannot count well) turns on
        # JIT compilation, which costs more than the query itself: ~1 s of 1.6 s for one
        # regency over a year of 30,000 products' daily figures.
        session.execute(sa.text("SET LOCAL jit = off"))
    rows = session.execute(query).all()
    return [
        (
            Figures(
                ref=row.ref,
                regency=row.regency_code,
                category=row[3],
                **{name: int(getattr(row, name) or 0) for name in FIGURES},
            ),
            int(row.id),
        )
        for row in rows
    ]


def seller_windows(
    session: Session, product_ids: Sequence[int], today: date, windows: Sequence[int] = (7, 30)
) -> dict[int, dict[int, dict[str, int]]]:
    """Per product, per window of days ending `today`: the summed figures (zeros when none)."""
    if not product_ids:
        return {}
    stats = ProductStats.__table__  # type: ignore[attr-defined]
    widest = today - timedelta(days=max(windows) - 1)
    columns = []
    for days in windows:
        first = today - timedelta(days=days - 1)
        for name in FIGURES:
            inside = sa.case((stats.c.period_start >= first, stats.c[name]), else_=0)
            columns.append(sa.func.sum(inside).label(f"{name}_{days}"))
    query = (
        sa.select(stats.c.product_id, *columns)
        .where(
            stats.c.product_id.in_(list(product_ids)),
            stats.c.period_start >= widest,
            stats.c.period_end <= today,
            _not_double(stats.c),
        )
        .group_by(stats.c.product_id)
    )
    found: dict[int, dict[int, dict[str, int]]] = {
        pid: {days: dict.fromkeys(FIGURES, 0) for days in windows} for pid in product_ids
    }
    for row in session.execute(query).mappings():
        for days in windows:
            found[row["product_id"]][days] = {
                name: int(row[f"{name}_{days}"] or 0) for name in FIGURES
            }
    return found
