"""At-least-once and unordered: however the marketplace splits, shuffles and repeats the same
events, what is stored is what one clean delivery in order stores.

(What the owner is told can differ, rightly: a status that arrives after a later one is not
announced. tests/test_marketplace_webhook.py checks the owner hears each change once, in order.)
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, delete, select

from bot.app import App
from bot.marketplace_events import Event, check_batch, ingest
from bot.storage.models import (
    ListingStatus,
    MarketplaceEvent,
    Notice,
    Product,
    ProductStats,
)
from tests.marketplace import make_shop, stats_event, status_event

DAYS = [date(2026, 11, 20), date(2026, 11, 21)]
STATUSES = ["live", "pending_review", "rejected", "delisted"]


@st.composite
def event_pool(draw: Any, refs: list[str]) -> list[dict[str, Any]]:
    """Up to 12 distinct events: stats (with corrections of the same period) and statuses."""
    count = draw(st.integers(1, 12))
    minutes = draw(st.lists(st.integers(0, 2000), min_size=count, max_size=count, unique=True))
    events = []
    for n, minute in enumerate(minutes):
        ref = draw(st.sampled_from(refs))
        at = datetime(2026, 11, 22, 0, 0) + timedelta(minutes=minute)
        if draw(st.booleans()):
            views = draw(st.integers(0, 50))
            reviews = draw(st.integers(0, 3))
            events.append(
                stats_event(
                    f"ev-stats-{n:04}",
                    ref,
                    draw(st.sampled_from(DAYS)),
                    views=views,
                    orders=draw(st.integers(0, 5)),
                    units=draw(st.integers(0, 9)),
                    revenue=draw(st.integers(0, 500000)),
                    ratings=(reviews, reviews * draw(st.integers(1, 5))),
                    returns=draw(st.integers(0, 2)),
                    at=at,
                )
            )
        else:
            status = draw(st.sampled_from(STATUSES))
            reasons = ["Photo is blurry"] if status in ("rejected", "delisted") else []
            events.append(
                status_event(
                    f"ev-status-{n:04}",
                    ref,
                    status,
                    at.strftime("%Y-%m-%dT%H:%M:%S+07:00"),
                    url=f"https://m/{n}" if status == "live" else None,
                    reasons=reasons,
                )
            )
    return events


def checked(events: list[dict[str, Any]]) -> list[Event]:
    found = check_batch({"events": events})
    assert isinstance(found, list), found
    return found


def state(app: App) -> dict[str, Any]:
    with app.db.read_session() as session:
        return {
            "ids": sorted(session.exec(select(MarketplaceEvent.event_id)).all()),
            "stats": sorted(
                (
                    s.product_ref,
                    s.period_start,
                    s.views,
                    s.orders,
                    s.units_sold,
                    s.revenue,
                    s.ratings_count,
                    s.ratings_sum,
                    s.returns,
                    s.event_id,
                )
                for s in session.exec(select(ProductStats))
            ),
            "status": sorted(
                (s.product_ref, s.status, s.url, tuple(s.reasons), s.event_id)
                for s in session.exec(select(ListingStatus))
            ),
            "products": sorted(
                (p.ref, p.status, p.url, p.reason) for p in session.exec(select(Product))
            ),
        }


def reset(app: App, refs: list[str]) -> None:
    with app.db.session() as session:
        for table in (MarketplaceEvent, ProductStats, ListingStatus, Notice):
            session.exec(delete(table))  # type: ignore[call-overload]
        for product in session.exec(select(Product).where(col(Product.ref).in_(refs))):
            product.status, product.url, product.reason = "pending", None, None
            session.add(product)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_shuffled_and_repeated_batches_store_what_a_clean_delivery_stores(
    app: App, data: st.DataObject
) -> None:
    refs = _shop(app)
    pool = data.draw(event_pool([*refs, "P_unknown_one"]))
    reset(app, refs)
    in_order = sorted(pool, key=lambda e: (e["occurred_at"], e["id"]))
    ingest(app.db, checked(in_order))
    clean = state(app)

    reset(app, refs)
    repeats = data.draw(st.lists(st.sampled_from(pool), max_size=10))
    shuffled = data.draw(st.permutations([*pool, *repeats]))
    cuts = sorted(data.draw(st.lists(st.integers(1, len(shuffled)), max_size=4, unique=True)))
    batches = [shuffled[a:b] for a, b in zip([0, *cuts], [*cuts, len(shuffled)], strict=True)]
    for batch in (b for b in batches if b):
        ingest(app.db, checked(batch))
    for batch in data.draw(st.lists(st.sampled_from([b for b in batches if b]), max_size=2)):
        stored = ingest(app.db, checked(batch))  # a whole batch again: all duplicates
        assert stored.accepted == 0 and stored.duplicates == len(batch)
    assert state(app) == clean


def _shop(app: App) -> list[str]:
    with app.db.read_session() as session:
        refs = [p.ref for p in session.exec(select(Product).order_by(col(Product.id)))]
    if refs:
        return refs
    return make_shop(app.db, products=("Keripik A", "Keripik B"), status="pending")[1]
