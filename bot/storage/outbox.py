"""Outbox events: written in the same transaction as the change they publish."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.storage.models import OutboxEvent, Product, Seller, utcnow

# The contract's Seller.source lists telegram, whatsapp, facilitator and import; a source we
# store that it does not list goes out as the closest one: the console (demos, training, an
# operator at a desk) is a person registering on the owner's behalf, as a facilitator does.
SOURCE_FOR_CONTRACT = {"console": "facilitator"}


def contract_source(source: str) -> str:
    return SOURCE_FOR_CONTRACT.get(source, source)


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def seller_payload(seller: Seller) -> dict[str, Any]:
    """The contract's Seller body (contracts/marketplace-sync.yaml)."""
    return {
        "owner_name": seller.owner_name,
        "shop_name": seller.shop_name,
        "phone": seller.phone,
        "business_category": seller.category,
        "region": {
            "province_code": seller.province_code,
            "regency_code": seller.regency_code,
            "district_code": seller.district_code,
        },
        "address": seller.address,
        "nib": seller.nib,
        "registered_at": _iso(seller.registered_at),
        "consent": {"given_at": _iso(seller.consent_at), "version": seller.consent_version},
        "source": contract_source(seller.source),
        "facilitator_code": seller.facilitator_code,
        "locale": seller.locale,
    }


def product_payload(product: Product, seller: Seller) -> dict[str, Any]:
    """The contract's Product body."""
    return {
        "seller_ref": seller.ref,
        "name": product.name,
        "category": product.category,
        "price": {"amount": product.price, "currency": "IDR"},
        "stock": product.stock,
        "min_order": product.min_order,
        "weight_grams": product.weight_grams,
        "condition": product.condition,
        "description": product.description,
        "photos": [
            {"sha256": p["sha256"], "width": p["width"], "height": p["height"], "position": i}
            for i, p in enumerate(product.photos)
        ],
    }


def enqueue(
    session: Session, kind: str, aggregate_ref: str, payload: dict[str, Any], seller_id: int | None
) -> OutboxEvent:
    """Queue an event; an older pending event for the same thing is superseded by it."""
    now = utcnow()
    older = session.exec(
        select(OutboxEvent).where(
            OutboxEvent.aggregate_ref == aggregate_ref,
            OutboxEvent.state == "pending",
            col(OutboxEvent.kind).startswith(kind.split(".")[0]),
        )
    ).all()
    for event in older:
        event.state = "superseded"
        event.payload = {}
        event.updated_at = now
        session.add(event)
    event = OutboxEvent(
        kind=kind,
        aggregate_ref=aggregate_ref,
        payload=payload,
        seller_id=seller_id,
        available_at=now,
        created_at=now,
        updated_at=now,
    )
    session.add(event)
    return event
