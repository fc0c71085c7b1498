"""Who sent which photo, and erasing an owner's photos (UU PDP).

Erasing deletes rows inside the owner's transaction and names the photos in `session.info`
under RELEASED; their files are removed only after that transaction commits (`MediaStore`
listens), each under the photo's lock and only if no row names it again by then. So a
rollback removes nothing, and a photo sent again meanwhile keeps its file. A crash between
the commit and the removal leaves a file that no row names, never a row without its file.

A photo is kept, rows and file, while its content is also another account's upload (not one
made for the erased shop) or shows on another seller's product.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from bot.storage.models import (
    ChannelAccount,
    Conversation,
    Photo,
    PhotoUpload,
    Product,
    Seller,
    utcnow,
)
from flows.messages import PhotoRef

RELEASED = "photos.released"  # session.info: sha256s whose rows the transaction deleted
_LOCK_SPACE = 0x50484F54  # "PHOT": the first key of PostgreSQL's two-key advisory locks
_LIKE_BATCH = 50
_SHA256 = re.compile(r"[0-9a-f]{64}")


def lock_photo(session: Session, sha256: str) -> None:
    """Hold one photo (its row and file) until the transaction ends.

    On PostgreSQL an advisory lock; SQLite's writers already run one at a time.
    """
    if session.get_bind().dialect.name == "postgresql":
        key = int(sha256[:8], 16) - 2**31  # a signed 32-bit key from the content hash
        session.execute(
            sa.text("SELECT pg_advisory_xact_lock(:space, :key)"),
            {"space": _LOCK_SPACE, "key": key},
        )


def record_uploads(session: Session, account: ChannelAccount, photos: Iterable[PhotoRef]) -> None:
    """Remember that this account sent these (stored) photos, and for which shop."""
    shas = {photo.sha256 for photo in photos}
    if not shas or account.id is None:
        return
    known = set(
        session.exec(
            select(PhotoUpload.sha256).where(
                PhotoUpload.account_id == account.id, col(PhotoUpload.sha256).in_(shas)
            )
        )
    )
    for sha in sorted(shas - known):
        session.add(
            PhotoUpload(
                account_id=account.id,
                sha256=sha,
                seller_id=account.acting_seller_id or account.seller_id,
                created_at=utcnow(),
            )
        )


def erase_photos(
    session: Session, accounts: Sequence[ChannelAccount], seller: Seller | None
) -> int:
    """Delete what these accounts sent and the seller's products show; returns how many of
    their photos were taken out of their data (what the owner is told).

    Their upload rows (and uploads made for the seller) always go; a photo's row and file go
    unless another shop sent the same bytes (that copy is theirs, and stays). Call before the
    products are scrubbed: their photo lists say what to look for.
    """
    account_ids = [a.id for a in accounts if a.id is not None]
    theirs: sa.ColumnElement[bool] = col(PhotoUpload.account_id).in_(account_ids)
    if seller is not None:
        theirs = or_(theirs, PhotoUpload.seller_id == seller.id)
    uploads = session.exec(select(PhotoUpload).where(theirs)).all()
    shas = {upload.sha256 for upload in uploads}
    if seller is not None:
        for photos in session.exec(select(Product.photos).where(Product.seller_id == seller.id)):
            shas.update(_shas(photos))
    if account_ids:  # drafts: a product not saved yet, or photos sent before uploads were kept
        for draft in session.exec(
            select(Conversation.draft).where(col(Conversation.account_id).in_(account_ids))
        ):
            shas.update(_shas(draft))
    for sha in sorted(shas):  # one order everywhere: two erasures never wait on each other
        lock_photo(session, sha)
    stored = session.exec(select(Photo.sha256).where(col(Photo.sha256).in_(shas))).all()
    gone = sorted(shas - _shared(session, shas, account_ids, seller))
    for upload in uploads:
        session.delete(upload)
    session.flush()  # uploads first: they refer to the photo rows
    rows = session.exec(select(Photo).where(col(Photo.sha256).in_(gone))).all() if gone else []
    for row in rows:
        session.delete(row)
    session.info.setdefault(RELEASED, set()).update(gone)
    return len(stored)


def forget_unconsented(
    session: Session, account: ChannelAccount, photos: Iterable[PhotoRef]
) -> int:
    """Photos from someone who has not agreed to our keeping their data are not kept.

    Their upload rows go; a photo's row (and, once committed, its file) goes unless another
    account sent the same bytes or a product shows them. Returns how many photos went.
    """
    shas = {photo.sha256 for photo in photos}
    if not shas or account.id is None:
        return 0
    for sha in sorted(shas):
        lock_photo(session, sha)
    for upload in session.exec(
        select(PhotoUpload).where(
            PhotoUpload.account_id == account.id, col(PhotoUpload.sha256).in_(shas)
        )
    ):
        session.delete(upload)
    session.flush()
    gone = sorted(shas - _shared(session, shas, [account.id], None))
    rows = session.exec(select(Photo).where(col(Photo.sha256).in_(gone))).all() if gone else []
    for row in rows:
        session.delete(row)
    session.info.setdefault(RELEASED, set()).update(gone)
    return len(rows)


def _shared(
    session: Session, shas: set[str], account_ids: list[int], seller: Seller | None
) -> set[str]:
    """Which of these photos someone else also has: their upload, or their shop's product."""
    if not shas:
        return set()
    others = select(PhotoUpload.sha256).where(
        col(PhotoUpload.sha256).in_(shas), col(PhotoUpload.account_id).not_in(account_ids)
    )
    other_products = select(Product.photos)
    if seller is not None:
        others = others.where(
            or_(col(PhotoUpload.seller_id).is_(None), PhotoUpload.seller_id != seller.id)
        )
        other_products = other_products.where(Product.seller_id != seller.id)
    shared = set(session.exec(others))
    wanted = sorted(shas - shared)
    for start in range(0, len(wanted), _LIKE_BATCH):
        batch = wanted[start : start + _LIKE_BATCH]
        text = sa.cast(Product.photos, sa.String)
        query = other_products.where(or_(*(text.contains(sha) for sha in batch)))
        for photos in session.exec(query):
            shared.update(_shas(photos) & shas)
    return shared


def _shas(value: Any) -> set[str]:
    """Every photo named in a stored JSON value (product photos, a draft)."""
    return set(_walk_shas(value))


def _walk_shas(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        sha = value.get("sha256")
        if isinstance(sha, str) and _SHA256.fullmatch(sha):
            yield sha
        for item in value.values():
            yield from _walk_shas(item)
    elif isinstance(value, list):
        for item in value:
            yield from _walk_shas(item)
