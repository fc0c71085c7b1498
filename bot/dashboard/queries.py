"""What the dashboard shows, as aggregate queries that stay fast on 100,000 sellers.

The funnel keeps bot/stats.py's definitions (a test checks both give the same numbers): a
person is counted once per stage they reached; facilitators' own accounts and numbers we wrote
to that never wrote back are not people in the funnel.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from bot.stats import STAGES
from bot.storage.models import (
    AuditLog,
    Broadcast,
    BroadcastDelivery,
    ChannelAccount,
    ConsentRequest,
    Conversation,
    Facilitator,
    OutboxEvent,
    Product,
    Seller,
    UmkmRecord,
)
from flows.regions import EAST_JAVA, regencies

LISTED = ("draft", "deleted")  # product states that are not (yet) a product for the funnel
PAGE = 50
STEPS = ("awaiting_consent", "registered", "first_product", "live")


def _helpers() -> Any:
    return select(Facilitator.account_id).where(col(Facilitator.account_id).is_not(None))


def _has_product(listed_only: bool = True) -> Any:
    query = select(Product.id).where(Product.seller_id == Seller.id)
    if listed_only:
        query = query.where(col(Product.status).not_in(LISTED))
    return query.exists()


def _is_live() -> Any:
    return (
        select(Product.id).where(Product.seller_id == Seller.id, Product.status == "live").exists()
    )


def funnel_totals(session: Session, facilitator_code: str | None = None) -> dict[str, int]:
    """started, consented, registered, first_product, live: for everyone or one facilitator."""
    person = (
        select(ChannelAccount.id)
        .where(ChannelAccount.seller_id == Seller.id, col(ChannelAccount.id).not_in(_helpers()))
        .exists()
    )
    sellers = select(func.count()).where(Seller.status == "active", person)
    if facilitator_code is not None:
        sellers = sellers.where(Seller.facilitator_code == facilitator_code)
    registered = session.exec(sellers).one()
    first_product = session.exec(sellers.where(_has_product())).one()
    live = session.exec(sellers.where(_is_live())).one()
    active_seller = (
        select(Seller.id)
        .where(Seller.id == ChannelAccount.seller_id, Seller.status == "active")
        .exists()
    )
    others = (
        select(func.count())
        .select_from(ChannelAccount)
        .where(
            col(ChannelAccount.id).not_in(_helpers()),
            col(ChannelAccount.last_inbound_at).is_not(None),
            ~active_seller,
        )
    )
    if facilitator_code is not None:
        others = others.where(ChannelAccount.referral_code == facilitator_code)
    started_only = session.exec(others).one()
    consent = Conversation.draft["consent_version"].as_string()  # type: ignore[index]
    consented_only = session.exec(
        others.join(Conversation, col(Conversation.account_id) == col(ChannelAccount.id)).where(
            consent.is_not(None), consent != ""
        )
    ).one()
    return {
        "started": registered + started_only,
        "consented": registered + consented_only,
        "registered": registered,
        "first_product": first_product,
        "live": live,
    }


def _day(session: Session, column: Any, zone: str) -> Any:
    """The calendar day in the programme's time zone of a stored UTC time."""
    if session.get_bind().dialect.name == "sqlite":
        offset = datetime.now(ZoneInfo(zone)).utcoffset() or timedelta(0)
        return func.date(column, f"{int(offset.total_seconds() // 60):+d} minutes")
    return func.date(func.timezone(zone, column))


@dataclass
class Daily:
    days: list[date]
    registrations: list[int]
    live: list[int]


def daily(
    session: Session, now: datetime, zone: str, facilitator_code: str | None = None, days: int = 90
) -> Daily:
    """Registrations and products that went live, per day, over the last `days` days."""
    today = now.astimezone(ZoneInfo(zone)).date()
    first = today - timedelta(days=days - 1)
    since = now - timedelta(days=days + 1)
    reg_day = _day(session, Seller.registered_at, zone)
    registrations = select(reg_day, func.count()).where(
        Seller.status == "active", col(Seller.registered_at) >= since
    )
    live_day = _day(session, Product.updated_at, zone)
    live = (
        select(live_day, func.count())
        .join(Seller, col(Seller.id) == col(Product.seller_id))
        .where(Product.status == "live", col(Product.updated_at) >= since)
    )
    if facilitator_code is not None:
        registrations = registrations.where(Seller.facilitator_code == facilitator_code)
        live = live.where(Seller.facilitator_code == facilitator_code)
    by_day: dict[str, list[int]] = {}
    for index, query in enumerate((registrations.group_by(reg_day), live.group_by(live_day))):
        for day, count in session.exec(query):
            by_day.setdefault(str(day), [0, 0])[index] = count
    every = [first + timedelta(days=i) for i in range(days)]
    return Daily(
        days=every,
        registrations=[by_day.get(d.isoformat(), [0, 0])[0] for d in every],
        live=[by_day.get(d.isoformat(), [0, 0])[1] for d in every],
    )


@dataclass
class RegencyRow:
    code: str
    name: str
    imported: int = 0
    registered: int = 0
    live: int = 0
    products: int = 0
    facilitators: int = 0

    @property
    def coverage(self) -> float:
        return self.registered / self.imported if self.imported else 0.0


def _grouped(session: Session, query: Any) -> dict[str, int]:
    return {str(code): int(count) for code, count in session.exec(query) if code}


def regency_table(session: Session) -> list[RegencyRow]:
    """Every East Java regency (zeros included), then any other regency that has data."""
    rows = {
        code: RegencyRow(code, r.full_name)
        for code, r in regencies().items()
        if r.province_code == EAST_JAVA
    }
    active = Seller.status == "active"
    figures: dict[str, dict[str, int]] = {
        "imported": _grouped(
            session,
            select(UmkmRecord.regency_code, func.count()).group_by(UmkmRecord.regency_code),
        ),
        "registered": _grouped(
            session,
            select(Seller.regency_code, func.count()).where(active).group_by(Seller.regency_code),
        ),
        "live": _grouped(
            session,
            select(Seller.regency_code, func.count())
            .where(active, _is_live())
            .group_by(Seller.regency_code),
        ),
        "products": _grouped(
            session,
            select(Seller.regency_code, func.count())
            .select_from(Product)
            .join(Seller, col(Seller.id) == col(Product.seller_id))
            .where(active, col(Product.status).not_in(LISTED))
            .group_by(Seller.regency_code),
        ),
        "facilitators": _grouped(
            session,
            select(Facilitator.regency_code, func.count()).group_by(Facilitator.regency_code),
        ),
    }
    for name, counts in figures.items():
        for code, count in counts.items():
            if code not in rows:
                known = regencies().get(code)
                rows[code] = RegencyRow(code, known.full_name if known else code)
            setattr(rows[code], name, count)
    return sorted(rows.values(), key=lambda r: r.code)


@dataclass
class FacilitatorRow:
    id: int
    code: str
    name: str
    regency: str
    joined_at: datetime | None
    last_active: datetime | None
    registered: int = 0
    awaiting_consent: int = 0
    live: int = 0
    products: int = 0
    leads: int = 0


def facilitator_table(session: Session) -> list[FacilitatorRow]:
    rows: dict[str, FacilitatorRow] = {}
    query = select(Facilitator, ChannelAccount.last_inbound_at).join(
        ChannelAccount, col(ChannelAccount.id) == col(Facilitator.account_id), isouter=True
    )
    for f, last in session.exec(query.order_by(col(Facilitator.code))):
        regency = regencies().get(f.regency_code)
        rows[f.code] = FacilitatorRow(
            f.id or 0,
            f.code,
            f.name,
            regency.full_name if regency else f.regency_code,
            f.joined_at,
            last,
        )
    code = Seller.facilitator_code
    figures: tuple[tuple[str, Any], ...] = (
        ("registered", select(code, func.count()).where(Seller.status == "active")),
        ("awaiting_consent", select(code, func.count()).where(Seller.status == "awaiting_consent")),
        ("live", select(code, func.count()).where(Seller.status == "active", _is_live())),
        (
            "products",
            select(code, func.count())
            .select_from(Product)
            .join(Seller, col(Seller.id) == col(Product.seller_id))
            .where(Seller.status == "active", col(Product.status).not_in(LISTED)),
        ),
    )
    for name, figure in figures:
        for key, count in _grouped(session, figure.group_by(code)).items():
            if key in rows:
                setattr(rows[key], name, count)
    by_id = {r.id: r for r in rows.values()}
    leads = select(UmkmRecord.facilitator_id, func.count()).group_by(col(UmkmRecord.facilitator_id))
    for facilitator_id, count in session.exec(leads):
        if facilitator_id in by_id:
            by_id[facilitator_id].leads = count
    return list(rows.values())


@dataclass
class ShopRow:
    id: int
    shop_name: str
    owner_name: str
    regency: str
    category: str | None
    step: str
    registered_at: datetime
    facilitator_code: str | None
    products: int = 0


@dataclass
class Search:
    q: str = ""
    regency: str = ""
    category: str = ""
    step: str = ""
    page: int = 1
    rows: list[ShopRow] = field(default_factory=list)
    more: bool = False


def search_shops(session: Session, search: Search, facilitator_code: str | None) -> Search:
    """One page of shops, newest first, matching every filter given."""
    query = select(Seller).where(col(Seller.status).in_(("active", "awaiting_consent")))
    if facilitator_code is not None:
        query = query.where(Seller.facilitator_code == facilitator_code)
    words = " ".join(search.q.split())
    if words:
        pattern = f"%{words.replace('%', '').replace('_', ' ')}%"
        query = query.where(
            sa.or_(col(Seller.shop_name).ilike(pattern), col(Seller.owner_name).ilike(pattern))
        )
    if search.regency:
        query = query.where(Seller.regency_code == search.regency)
    if search.category:
        query = query.where(Seller.category == search.category)
    if search.step == "awaiting_consent":
        query = query.where(Seller.status == "awaiting_consent")
    elif search.step == "registered":
        query = query.where(Seller.status == "active", ~_has_product())
    elif search.step == "first_product":
        query = query.where(Seller.status == "active", _has_product(), ~_is_live())
    elif search.step == "live":
        query = query.where(Seller.status == "active", _is_live())
    page = max(1, search.page)
    found = list(
        session.exec(
            query.order_by(col(Seller.registered_at).desc(), col(Seller.id).desc())
            .offset((page - 1) * PAGE)
            .limit(PAGE + 1)
        )
    )
    search.more = len(found) > PAGE
    found = found[:PAGE]
    ids = [s.id for s in found]
    statuses: dict[int, set[str]] = {}
    counts: dict[int, int] = {}
    if ids:
        for seller_id, status, count in session.exec(
            select(Product.seller_id, Product.status, func.count())
            .where(col(Product.seller_id).in_(ids))
            .group_by(col(Product.seller_id), col(Product.status))
        ):
            statuses.setdefault(seller_id, set()).add(status)
            if status not in LISTED:
                counts[seller_id] = counts.get(seller_id, 0) + count
    search.rows = [
        ShopRow(
            id=s.id or 0,
            shop_name=s.shop_name or "-",
            owner_name=s.owner_name or "-",
            regency=regency_name(s.regency_code),
            category=s.category,
            step=step_of(s.status, statuses.get(s.id or 0, set())),
            registered_at=s.registered_at,
            facilitator_code=s.facilitator_code,
            products=counts.get(s.id or 0, 0),
        )
        for s in found
    ]
    return search


def regency_name(code: str | None) -> str:
    known = regencies().get(code or "")
    return known.full_name if known else (code or "-")


def east_java_options() -> list[tuple[str, str]]:
    """Every East Java regency and city as (code, name), for the filters' select boxes."""
    return [
        (code, r.full_name)
        for code, r in sorted(regencies().items())
        if r.province_code == EAST_JAVA
    ]


def step_of(status: str, product_statuses: set[str]) -> str:
    if status == "awaiting_consent":
        return "awaiting_consent"
    if "live" in product_statuses:
        return "live"
    if product_statuses - set(LISTED):
        return "first_product"
    return "registered"


@dataclass
class ShopPage:
    seller: Seller
    step: str
    products: list[Product]
    events: list[OutboxEvent]
    consent: ConsentRequest | None
    consent_facilitator: Facilitator | None


def shop_page(session: Session, seller_id: int, facilitator_code: str | None) -> ShopPage | None:
    """A shop with its products, sync history and consent record; None if not theirs to see."""
    seller = session.get(Seller, seller_id)
    if seller is None or seller.status == "erased":
        return None
    if facilitator_code is not None and seller.facilitator_code != facilitator_code:
        return None
    products = list(
        session.exec(
            select(Product)
            .where(Product.seller_id == seller_id, Product.status != "deleted")
            .order_by(col(Product.id))
        )
    )
    events = list(
        session.exec(
            select(OutboxEvent)
            .where(OutboxEvent.seller_id == seller_id)
            .order_by(col(OutboxEvent.id).desc())
            .limit(100)
        )
    )
    consent = session.exec(
        select(ConsentRequest).where(ConsentRequest.seller_id == seller_id)
    ).first()
    helper = session.get(Facilitator, consent.facilitator_id) if consent else None
    return ShopPage(
        seller,
        step_of(seller.status, {p.status for p in products}),
        products,
        events,
        consent,
        helper,
    )


def failed_events(session: Session, limit: int = 200) -> list[tuple[OutboxEvent, Seller | None]]:
    rows = session.exec(
        select(OutboxEvent, Seller)
        .join(Seller, col(Seller.id) == col(OutboxEvent.seller_id), isouter=True)
        .where(OutboxEvent.state == "failed")
        .order_by(col(OutboxEvent.updated_at).desc())
        .limit(limit)
    )
    return list(rows)


def sync_counts(session: Session) -> dict[str, int]:
    return dict(
        session.exec(select(OutboxEvent.state, func.count()).group_by(OutboxEvent.state)).all()
    )


PROGRESS = ("pending", "sent", "failed", "unknown", "opted_out", "cancelled")


def broadcast_rows(session: Session) -> list[tuple[Broadcast, dict[str, int]]]:
    broadcasts = list(session.exec(select(Broadcast).order_by(col(Broadcast.id).desc()).limit(100)))
    ids = [b.id for b in broadcasts]
    counts: dict[int, dict[str, int]] = {b.id or 0: dict.fromkeys(PROGRESS, 0) for b in broadcasts}
    if ids:
        for broadcast_id, status, count in session.exec(
            select(BroadcastDelivery.broadcast_id, BroadcastDelivery.status, func.count())
            .where(col(BroadcastDelivery.broadcast_id).in_(ids))
            .group_by(col(BroadcastDelivery.broadcast_id), col(BroadcastDelivery.status))
        ):
            key = {
                "claimed": "pending",
                "sending": "pending",
                "skipped_opted_out": "opted_out",
            }.get(status, status)
            if key in counts[broadcast_id]:
                counts[broadcast_id][key] += count
    return [(b, counts[b.id or 0]) for b in broadcasts]


def audit_rows(session: Session, limit: int = 200) -> list[AuditLog]:
    return list(session.exec(select(AuditLog).order_by(col(AuditLog.id).desc()).limit(limit)))


def leads(session: Session, facilitator_id: int, limit: int = 200) -> list[UmkmRecord]:
    """Imported businesses given to a facilitator that have not registered yet."""
    registered = select(Seller.id).where(
        Seller.phone == UmkmRecord.phone, col(Seller.status).in_(("active", "awaiting_consent"))
    )
    return list(
        session.exec(
            select(UmkmRecord)
            .where(UmkmRecord.facilitator_id == facilitator_id, ~registered.exists())
            .order_by(col(UmkmRecord.business_name))
            .limit(limit)
        )
    )


# --- exports ---------------------------------------------------------------------------------

SHOP_COLUMNS = (
    "ref",
    "shop_name",
    "owner_name",
    "phone",
    "category",
    "regency_code",
    "regency",
    "district_code",
    "status",
    "facilitator_code",
    "registered_at_wib",
    "products",
    "live_products",
)
PRODUCT_COLUMNS = (
    "ref",
    "shop_ref",
    "shop_name",
    "regency_code",
    "regency",
    "name",
    "category",
    "price_rupiah",
    "stock",
    "weight_grams",
    "status",
    "url",
    "created_at_wib",
)


def shop_export(session: Session, regency: str | None, zone: str) -> Iterator[list[Any]]:
    """Shops of one regency (or all), one row at a time from a server-side cursor."""
    from bot.dashboard.format import mask_phone

    local = ZoneInfo(zone)
    listed = (
        select(
            Product.seller_id,
            func.count().label("products"),
            func.sum(sa.case((col(Product.status) == "live", 1), else_=0)).label("live"),
        )
        .where(col(Product.status).not_in(LISTED))
        .group_by(col(Product.seller_id))
        .subquery()
    )
    query = (
        select(Seller, listed.c.products, listed.c.live)
        .join(listed, listed.c.seller_id == Seller.id, isouter=True)
        .where(col(Seller.status).in_(("active", "awaiting_consent")))
        .order_by(col(Seller.regency_code), col(Seller.id))
        .execution_options(yield_per=1000)
    )
    if regency:
        query = query.where(Seller.regency_code == regency)
    for s, products, live in session.exec(query):
        yield [
            s.ref,
            s.shop_name,
            s.owner_name,
            mask_phone(s.phone),
            s.category,
            s.regency_code,
            regency_name(s.regency_code),
            s.district_code,
            s.status,
            s.facilitator_code,
            s.registered_at.astimezone(local).strftime("%Y-%m-%d %H:%M"),
            int(products or 0),
            int(live or 0),
        ]


def product_export(session: Session, regency: str | None, zone: str) -> Iterator[list[Any]]:
    local = ZoneInfo(zone)
    query = (
        select(Product, Seller.ref, Seller.shop_name, Seller.regency_code)
        .join(Seller, col(Seller.id) == col(Product.seller_id))
        .where(
            col(Product.status).not_in(LISTED),
            col(Seller.status).in_(("active", "awaiting_consent")),
        )
        .order_by(col(Seller.regency_code), col(Product.id))
        .execution_options(yield_per=1000)
    )
    if regency:
        query = query.where(Seller.regency_code == regency)
    for p, shop_ref, shop_name, regency_code in session.exec(query):
        yield [
            p.ref,
            shop_ref,
            shop_name,
            regency_code,
            regency_name(regency_code),
            p.name,
            p.category,
            p.price,
            p.stock,
            p.weight_grams,
            p.status,
            p.url,
            p.created_at.astimezone(local).strftime("%Y-%m-%d %H:%M"),
        ]


__all__ = ["STAGES"]
