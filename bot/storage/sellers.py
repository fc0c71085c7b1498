"""Sellers: registering, updating and erasing, with their outbox events."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from bot.storage.models import ChannelAccount, Conversation, OutboxEvent, Product, Seller, utcnow
from bot.storage.outbox import enqueue, seller_payload
from flows.registration import shop_name_key


class SellerDirectory:
    """Answers the flows' questions about stored sellers within one session."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def shop_name_taken(self, name: str, *, except_seller: int | None = None) -> bool:
        found = self.session.exec(
            select(Seller.id).where(Seller.shop_name_key == shop_name_key(name))
        ).first()
        return found is not None and found != except_seller


def seller_snapshot(seller: Seller) -> dict[str, Any]:
    """What a flow may read about a seller, as JSON-friendly values."""
    data = seller.model_dump()
    for key, value in data.items():
        if isinstance(value, datetime):
            data[key] = value.isoformat()
    return data


def save_seller(
    session: Session, account: ChannelAccount, data: dict[str, Any], source: str
) -> Seller:
    """Create or update the account's seller and queue `seller.upsert`."""
    seller = session.get(Seller, account.seller_id) if account.seller_id else None
    now = utcnow()
    if seller is None:
        seller = Seller(
            source=source,
            registered_at=now,
            locale=account.locale,
            referral_code=account.referral_code,
        )
    for key in (
        "owner_name",
        "phone",
        "shop_name",
        "category",
        "province_code",
        "regency_code",
        "district_code",
        "address",
        "nib",
        "latitude",
        "longitude",
        "consent_version",
    ):
        if key in data:
            setattr(seller, key, data[key])
    seller.phone_verified = bool(data.get("phone_verified", seller.phone_verified))
    if data.get("consent_at"):
        seller.consent_at = datetime.fromisoformat(str(data["consent_at"]))
    if data.get("referral_code"):
        seller.referral_code = data["referral_code"]
    seller.shop_name_key = shop_name_key(seller.shop_name or "")
    seller.updated_at = now
    session.add(seller)
    session.flush()
    account.seller_id = seller.id
    session.add(account)
    enqueue(session, "seller.upsert", seller.ref, seller_payload(seller), seller.id)
    return seller


def erase_seller(session: Session, account: ChannelAccount) -> None:
    """Erase everything personal (UU PDP); the marketplace is told with `seller.delete`."""
    now = utcnow()
    seller = session.get(Seller, account.seller_id) if account.seller_id else None
    accounts = [account]
    if seller is not None:
        accounts = list(
            session.exec(select(ChannelAccount).where(ChannelAccount.seller_id == seller.id))
        )
        for event in session.exec(
            select(OutboxEvent).where(
                OutboxEvent.seller_id == seller.id, OutboxEvent.state == "pending"
            )
        ):
            event.state, event.payload, event.updated_at = "superseded", {}, now
            session.add(event)
        for product in session.exec(select(Product).where(Product.seller_id == seller.id)):
            product.status, product.updated_at = "deleted", now
            product.name = product.description = None
            product.photos = []
            session.add(product)
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
        ):
            setattr(seller, key, None)
        seller.status, seller.erased_at, seller.updated_at = "erased", now, now
        session.add(seller)
        enqueue(session, "seller.delete", seller.ref, {}, seller.id)
    for acct in accounts:
        acct.phone = acct.profile_name = acct.referral_code = None
        acct.seller_id = None
        session.add(acct)
        conversation = session.exec(
            select(Conversation).where(Conversation.account_id == acct.id)
        ).first()
        if conversation is not None:
            conversation.flow = conversation.step = None
            conversation.draft, conversation.meta = {}, {}
            session.add(conversation)
