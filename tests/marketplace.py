"""The marketplace's side of contract v1.1: events, batches signed its way, and our shops."""

from __future__ import annotations

import json
import time
from datetime import date, datetime, timedelta
from typing import Any

from sqlmodel import Session

from bot.marketplace_events import sign
from bot.storage.database import Database
from bot.storage.models import ChannelAccount, Product, Seller

SECRET = "whsec_test_0123456789abcdef"


def status_event(
    event_id: str, ref: str, status: str, at: str, url: str | None = None, **extra: Any
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": event_id,
        "type": "product.status",
        "occurred_at": at,
        "product_ref": ref,
        "status": status,
    }
    if url is not None:
        event["url"] = url
    event.update(extra)
    return event


def stats_event(
    event_id: str,
    ref: str,
    day: date,
    *,
    views: int = 0,
    orders: int = 0,
    units: int = 0,
    revenue: int = 0,
    ratings: tuple[int, int] = (0, 0),
    returns: int = 0,
    at: datetime | None = None,
    days: int = 1,
) -> dict[str, Any]:
    occurred = at or datetime(day.year, day.month, day.day, 20, 0) + timedelta(days=days)
    return {
        "id": event_id,
        "type": "product.stats",
        "occurred_at": occurred.strftime("%Y-%m-%dT%H:%M:%S+07:00"),
        "product_ref": ref,
        "period_start": day.isoformat(),
        "period_end": (day + timedelta(days=days - 1)).isoformat(),
        "views": views,
        "orders": orders,
        "units_sold": units,
        "revenue": {"amount": revenue, "currency": "IDR"},
        "ratings": {"count": ratings[0], "sum": ratings[1]},
        "returns": returns,
    }


def signed(
    events: list[dict[str, Any]], secret: str = SECRET, stamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers the marketplace sends for a batch."""
    body = json.dumps({"events": events}).encode()
    stamp = int(time.time()) if stamp is None else stamp
    header = f"t={stamp},v1={sign(secret, stamp, body)}"
    return body, {"Marketplace-Signature": header, "Content-Type": "application/json"}


def make_shop(
    db: Database,
    phone: str = "+6281234567890",
    *,
    regency: str = "3515",
    category: str = "makanan",
    products: tuple[str, ...] = ("Keripik Tempe Pedas",),
    status: str = "live",
    channel: str = "console",
    shop: str | None = None,
) -> tuple[int, list[str]]:
    """A registered owner (console account on their number) with live products: their
    seller id and product refs."""
    with db.session() as session:
        seller = Seller(
            owner_name="Sri Wahyuni",
            phone=phone,
            phone_verified=True,
            shop_name=shop or f"Toko {phone[-4:]}",
            shop_name_key=(shop or f"toko {phone[-4:]}").lower(),
            category=category,
            province_code="35",
            regency_code=regency,
            address="Jl. Raya Waru No. 12",
        )
        session.add(seller)
        session.flush()
        _account(session, seller, phone, channel)
        refs = []
        for name in products:
            product = Product(
                seller_id=seller.id or 0,
                status=status,
                name=name,
                category=category,
                price=25000,
                stock=24,
                weight_grams=250,
                condition="new",
                description="Keripik tempe renyah, pedas gurih, tanpa pengawet. " * 2,
                photos=[{"sha256": "a" * 64, "width": 800, "height": 800}],
                url=f"https://pasar.example/p/{name[:3]}" if status == "live" else None,
            )
            session.add(product)
            session.flush()
            refs.append(product.ref)
        return seller.id or 0, refs


def _account(session: Session, seller: Seller, phone: str, channel: str) -> None:
    session.add(
        ChannelAccount(
            channel=channel, external_id=phone, seller_id=seller.id, phone=phone, locale="id"
        )
    )
