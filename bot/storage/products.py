"""Products: drafts, confirmed listings and deletions, with their outbox events."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from bot.storage.models import Product, Seller, utcnow
from bot.storage.outbox import enqueue, product_payload
from flows.product import PRODUCT_FIELDS


def product_snapshots(session: Session, seller_id: int) -> tuple[dict[str, Any], ...]:
    """The seller's products (newest first) as the flows see them."""
    products = session.exec(
        select(Product)
        .where(Product.seller_id == seller_id, Product.status != "deleted")
        .order_by(col(Product.id).desc())  # newest first, and "1" stays the same product
    ).all()
    return tuple(
        {
            "id": p.id,
            "name": p.name,
            "price": p.price,
            "status": p.status,
            "url": p.url,
            "reason": p.reason,
            "data": {key: getattr(p, key) for key in PRODUCT_FIELDS},
        }
        for p in products
    )


def _owned(session: Session, seller: Seller, product_id: int | None) -> Product | None:
    if product_id is None:
        return None
    product = session.get(Product, product_id)
    if product is None or product.seller_id != seller.id or product.status == "deleted":
        return None
    return product


def _apply(product: Product, data: dict[str, Any]) -> None:
    for key in PRODUCT_FIELDS:
        if key in data and data[key] is not None:
            setattr(product, key, data[key])
    product.updated_at = utcnow()


def _gone(session: Session, seller: Seller, product_id: int | None) -> bool:
    """A product that was the seller's and is no longer (deleted meanwhile): never remade."""
    return product_id is not None and _owned(session, seller, product_id) is None


def save_product(
    session: Session, seller: Seller, data: dict[str, Any], product_id: int | None
) -> Product | None:
    """Confirm a listing: store it and queue `product.upsert` with a new version."""
    if _gone(session, seller, product_id):
        return None
    product = _owned(session, seller, product_id) or Product(seller_id=seller.id or 0)
    _apply(product, data)
    if product.stock and product.min_order > product.stock:  # one change merged with another's
        product.min_order = product.stock
    product.status, product.reason = "pending", None
    product.version += 1
    session.add(product)
    session.flush()
    if seller.status == "active":  # awaiting its owner's consent: queued when they agree
        enqueue(session, "product.upsert", product.ref, product_payload(product, seller), seller.id)
    return product


def save_product_draft(
    session: Session, seller: Seller, data: dict[str, Any], product_id: int | None
) -> Product | None:
    """Keep an unfinished product so 'Produk saya' can continue it."""
    if _gone(session, seller, product_id):
        return None
    product = _owned(session, seller, product_id) or Product(seller_id=seller.id or 0)
    _apply(product, data)
    if product.status != "live":
        product.status = "draft"
    session.add(product)
    session.flush()
    return product


def delete_product(session: Session, seller: Seller, product_id: int) -> None:
    product = _owned(session, seller, product_id)
    if product is None:
        return
    was_published = product.status != "draft" and seller.status == "active"
    product.status, product.updated_at = "deleted", utcnow()
    session.add(product)
    if was_published:
        enqueue(session, "product.delete", product.ref, {"seller_ref": seller.ref}, seller.id)
