"""Sellers: registering, updating and erasing, with their outbox events."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from bot.storage.inbound import scrub_chat
from bot.storage.models import (
    ChannelAccount,
    ConsentRequest,
    Conversation,
    Facilitator,
    Notice,
    OutboxEvent,
    Product,
    Seller,
    UmkmRecord,
    utcnow,
)
from bot.storage.outbox import enqueue, seller_payload
from bot.storage.photos import erase_photos
from flows.registration import SELLER_FIELDS, shop_name_key

ERASED_PREFIX = "erased:"  # an erased account's platform id: a salted hash, names nobody
Audience = Callable[[Session, str, str | None], tuple[int, float]]


class SellerDirectory:
    """Answers the flows' questions about stored data within one session."""

    def __init__(
        self, session: Session, audience: Audience | None = None, timezone: str = "Asia/Jakarta"
    ) -> None:
        self.session = session
        self._audience = audience
        self.timezone = timezone

    def sales_figures(
        self, product_ids: Sequence[int], now: datetime
    ) -> dict[int, dict[int, dict[str, int]]]:
        from bot.sales import local_day, seller_windows

        return seller_windows(self.session, product_ids, local_day(now, self.timezone))

    def shop_name_taken(self, name: str, *, except_seller: int | None = None) -> bool:
        found = self.session.exec(
            select(Seller.id).where(Seller.shop_name_key == shop_name_key(name))
        ).first()
        return found is not None and found != except_seller

    def seller_with_phone(self, phone: str) -> dict[str, Any] | None:
        """The live or awaiting shop with this number; else the shop of the owner who chats
        from it (their shop registered under another number): either way, theirs already."""
        live = col(Seller.status).in_(("active", "awaiting_consent"))
        seller = self.session.exec(select(Seller).where(Seller.phone == phone, live)).first()
        if seller is None:
            seller = self.session.exec(
                select(Seller)
                .join(ChannelAccount, col(ChannelAccount.seller_id) == col(Seller.id))
                .where(ChannelAccount.phone == phone, live)
            ).first()
        return seller_snapshot(seller) if seller else None

    def imported_with_phone(self, phone: str) -> dict[str, Any] | None:
        record = self.session.exec(select(UmkmRecord).where(UmkmRecord.phone == phone)).first()
        return record.model_dump(mode="json") if record else None

    def facilitator_owners(self, facilitator_id: int) -> list[dict[str, Any]]:
        facilitator = self.session.get(Facilitator, facilitator_id)
        if facilitator is None:
            return []
        sellers = self.session.exec(
            select(Seller)
            .where(
                Seller.facilitator_code == facilitator.code,
                col(Seller.status).in_(("active", "awaiting_consent")),
            )
            .order_by(col(Seller.updated_at).desc())
        ).all()
        counts: dict[tuple[int, str], int] = {}
        ids = [s.id for s in sellers]
        for seller_id, status, count in self.session.exec(
            select(Product.seller_id, Product.status, func.count())
            .where(col(Product.seller_id).in_(ids), col(Product.status).not_in(("deleted",)))
            .group_by(col(Product.seller_id), col(Product.status))
        ):
            counts[(seller_id, status)] = count
        return [
            {
                "id": s.id,
                "shop_name": s.shop_name,
                "owner_name": s.owner_name,
                "status": s.status,
                "products": sum(n for (sid, st), n in counts.items() if sid == s.id),
                "live": counts.get((s.id or 0, "live"), 0),
            }
            for s in sellers
        ]

    def facilitator_leads(self, facilitator_id: int, limit: int) -> tuple[int, list[Any]]:
        registered = select(Seller.id).where(
            Seller.phone == UmkmRecord.phone, Seller.status != "erased"
        )
        # An owner who answered TOLAK to a registration is not offered to register again.
        refused = select(ConsentRequest.id).where(
            ConsentRequest.phone == UmkmRecord.phone, ConsentRequest.status == "declined"
        )
        query = select(UmkmRecord).where(
            UmkmRecord.facilitator_id == facilitator_id,
            ~registered.exists(),
            ~refused.exists(),
        )
        count = self.session.exec(select(func.count()).select_from(query.subquery())).one()
        leads = self.session.exec(query.order_by(col(UmkmRecord.id)).limit(limit)).all()
        return count, [lead.model_dump(mode="json") for lead in leads]

    def facilitator_exists(self, code: str) -> bool:
        found = self.session.exec(select(Facilitator.id).where(Facilitator.code == code)).first()
        return found is not None

    def facilitators(self) -> list[dict[str, Any]]:
        found = self.session.exec(
            select(Facilitator.code, Facilitator.name).order_by(col(Facilitator.id))
        )
        return [{"code": code, "name": name} for code, name in found]

    def audience(self, segment: str, value: str | None) -> tuple[int, float]:
        return self._audience(self.session, segment, value) if self._audience else (0, 0.0)


def seller_snapshot(seller: Seller) -> dict[str, Any]:
    """What a flow may read about a seller, as JSON-friendly values."""
    data = seller.model_dump()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data


# Copied as they are; the verified flag and the consent time are set with their rules.
_SELLER_FIELDS = tuple(k for k in SELLER_FIELDS if k not in ("phone_verified", "consent_at"))


def apply_seller_fields(seller: Seller, data: dict[str, Any]) -> None:
    for key in _SELLER_FIELDS:
        if key in data:
            setattr(seller, key, data[key])


def save_seller(
    session: Session,
    account: ChannelAccount,
    data: dict[str, Any],
    source: str,
    helped: Seller | None = None,
) -> Seller:
    """Create or update the account's seller (or the one a facilitator helps); publish it.

    A shop still waiting for its owner's consent is stored but not published.
    """
    seller = helped or (session.get(Seller, account.seller_id) if account.seller_id else None)
    now = utcnow()
    if seller is None:
        seller = Seller(
            source=source,
            registered_at=now,
            locale=account.locale,
            referral_code=account.referral_code,
        )
    apply_seller_fields(seller, data)
    seller.phone_verified = bool(data.get("phone_verified", seller.phone_verified))
    if data.get("consent_at"):
        seller.consent_at = datetime.fromisoformat(str(data["consent_at"]))
    if data.get("referral_code"):
        seller.referral_code = data["referral_code"]
    seller.shop_name_key = shop_name_key(seller.shop_name or "")
    seller.updated_at = now
    session.add(seller)
    session.flush()
    if helped is None:
        account.seller_id = seller.id
        session.add(account)
    if seller.status == "active":
        enqueue(session, "seller.upsert", seller.ref, seller_payload(seller), seller.id)
    return seller


def scrub_products(session: Session, seller: Seller, now: datetime) -> None:
    """Delete a seller's products, keeping nothing the owner wrote or photographed."""
    for product in session.exec(select(Product).where(Product.seller_id == seller.id)):
        product.status, product.updated_at = "deleted", now
        product.name = product.description = product.url = None
        product.photos = []
        session.add(product)


def scrub_seller(seller: Seller, now: datetime) -> None:
    """Blank everything personal about a seller and mark it erased."""
    for key in (
        "owner_name",
        "phone",
        "shop_name",
        "shop_name_key",
        "address",
        "nib",
        "latitude",
        "longitude",
        "referral_code",
        "district_code",
        "marketplace_url",
    ):
        setattr(seller, key, None)
    seller.status, seller.erased_at, seller.updated_at = "erased", now, now


def erase_seller(session: Session, account: ChannelAccount, current: str | None = None) -> int:
    """Erase everything personal (UU PDP); the marketplace is told with `seller.delete`.

    Every copy goes: the seller and products, outbox payloads (done ones too), notices,
    photos, the conversation, the raw updates already handled (and `current`, the platform
    id of the message being handled), and the accounts' platform ids, which become a salted
    hash: the rows name nobody and the person starts afresh if they come back. Works for an
    owner without a shop too (a draft). Returns how many photos were erased; their files go
    once the transaction has committed.
    """
    now = utcnow()
    # The shop's row first (PostgreSQL; SQLite has no FOR UPDATE), as a facilitator's save
    # for it takes it: neither then waits on rows the other holds.
    seller = (
        session.get(Seller, account.seller_id, with_for_update=True, populate_existing=True)
        if account.seller_id
        else None
    )
    accounts = [account]
    if seller is not None:
        accounts = list(
            session.exec(select(ChannelAccount).where(ChannelAccount.seller_id == seller.id))
        )
    photos = erase_photos(session, accounts, seller)
    if seller is not None:
        _forget_outbox(session, seller, now)
        _forget_in_notices(session, seller, [a.id for a in accounts])
        for request in session.exec(
            select(ConsentRequest).where(ConsentRequest.seller_id == seller.id)
        ):
            request.phone = ""
            session.add(request)
        scrub_products(session, seller, now)
        scrub_seller(seller, now)
        session.add(seller)
        enqueue(session, "seller.delete", seller.ref, {}, seller.id)
    for acct in accounts:
        _forget_account(session, acct, current, now)
    return photos


def _forget_outbox(session: Session, seller: Seller, now: datetime) -> None:
    """No event keeps the seller's data; what was not pushed yet never will be."""
    for event in session.exec(select(OutboxEvent).where(OutboxEvent.seller_id == seller.id)):
        if event.state in ("pending", "failed"):
            event.state = "superseded"
        event.payload, event.last_error, event.updated_at = {}, None, now
        session.add(event)


def _forget_in_notices(session: Session, seller: Seller, account_ids: list[int | None]) -> None:
    """The owner's notices go; others' (their facilitator's) no longer name the shop."""
    for notice in session.exec(select(Notice).where(col(Notice.account_id).in_(account_ids))):
        session.delete(notice)
    shop = seller.shop_name
    if not shop:
        return
    quoted = json.dumps(shop)[1:-1]  # as it is written inside the stored JSON
    for notice in session.exec(
        select(Notice).where(sa.cast(Notice.params, sa.String).contains(quoted))
    ):
        notice.params = {k: ("" if v == shop else v) for k, v in notice.params.items()}
        session.add(notice)


def _forget_account(
    session: Session, account: ChannelAccount, current: str | None, now: datetime
) -> None:
    scrub_chat(session, account.channel, account.external_id, current, now)
    salt = secrets.token_bytes(16)
    digest = hashlib.sha256(salt + f"{account.channel}:{account.external_id}".encode())
    account.external_id = ERASED_PREFIX + digest.hexdigest()[:56]
    account.phone = account.profile_name = account.referral_code = None
    account.seller_id = None
    session.add(account)
    conversation = session.exec(
        select(Conversation).where(Conversation.account_id == account.id)
    ).first()
    if conversation is not None:
        conversation.flow = conversation.step = None
        conversation.draft, conversation.meta = {}, {}
        session.add(conversation)


def latest_account(session: Session, seller_id: int | None) -> ChannelAccount | None:
    """The shop's account on the channel its owner wrote on last, where notices go.

    By the conversation's last message (saved with every one): when the person last wrote
    is kept on the account to the minute only, and two channels used within a minute would
    tie on it. An account that never wrote comes last."""
    return session.exec(
        select(ChannelAccount)
        .outerjoin(Conversation, col(Conversation.account_id) == col(ChannelAccount.id))
        .where(ChannelAccount.seller_id == seller_id)
        .order_by(
            col(Conversation.updated_at).desc().nulls_last(),
            col(ChannelAccount.last_inbound_at).desc().nulls_last(),
            col(ChannelAccount.id).desc(),
        )
    ).first()
