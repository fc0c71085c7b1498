"""Produk unggulan candidates for tests: snack shops with 60 days of figures, stored through
the marketplace's real event path (`check_batch`, `ingest`)."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import select

from bot.marketplace_events import check_batch, ingest
from bot.sales import local_day
from bot.storage.database import Database
from bot.storage.models import Facilitator, Seller, utcnow
from tests.marketplace import make_shop, stats_event

# name: regency, daily views, orders, units, reviews/day, stars per review
PLAN = {
    "Keripik Juara": ("3515", 40, 2, 3, 1, 5),
    "Keripik Lumayan": ("3515", 40, 1, 1, 1, 4),
    "Keripik Baru": ("3515", 5, 0, 0, 0, 0),  # no evidence: never a candidate
    "Keripik Kota": ("3578", 400, 20, 30, 5, 5),
}


def seed_candidates(
    db: Database, category: str = "makanan", facilitator: str = "Dewi Lestari"
) -> dict[str, str]:
    """Three snack shops in Sidoarjo (Keripik Juara helped by PDP-3515-001, the facilitator
    made with `facilitator` as name unless that code exists), one in Surabaya; daily figures
    for the last 60 days. The product refs by name."""
    refs = {}
    today = local_day(utcnow())
    events = []
    for n, (name, (regency, views, orders, units, reviews, stars)) in enumerate(PLAN.items()):
        _, (ref,) = make_shop(
            db,
            phone=f"+62812000000{n:02}",
            regency=regency,
            category=category,
            products=(name,),
            shop=name,
        )
        refs[name] = ref
        for day in range(1, 61):
            events.append(
                stats_event(
                    f"ev-{n}-{day:03}",
                    ref,
                    today - timedelta(days=day),
                    views=views,
                    orders=orders,
                    units=units,
                    revenue=units * 15000,
                    ratings=(reviews, reviews * stars),
                )
            )
    with db.session() as session:
        code = "PDP-3515-001"
        if session.exec(select(Facilitator).where(Facilitator.code == code)).first() is None:
            session.add(
                Facilitator(code=code, name=facilitator, regency_code="3515", invite_code="INV1")
            )
        seller = session.exec(select(Seller).where(Seller.shop_name == "Keripik Juara")).one()
        seller.facilitator_code = code
        session.add(seller)
    for start in range(0, len(events), 500):
        batch = check_batch({"events": events[start : start + 500]})
        assert isinstance(batch, list)
        ingest(db, batch)
    return refs
