"""Shops a facilitator registers: kept unpublished until their owner agrees.

The owner agrees on their own phone (SETUJU from an account whose number the channel
vouches for) or by handing the facilitator the one-time code we sent to that number. Only
then are `seller.upsert` and the shop's products queued for the marketplace.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_
from sqlmodel import Session, col, select

from bot import notices
from bot.storage.context import state_of
from bot.storage.models import (
    ChannelAccount,
    ConsentRequest,
    Conversation,
    Facilitator,
    Notice,
    Product,
    Seller,
)
from bot.storage.outbox import enqueue, product_payload, seller_payload
from bot.storage.photos import erase_photos
from bot.storage.sellers import apply_seller_fields, scrub_products, scrub_seller
from flows.messages import t
from flows.registration import CONSENT_VERSION, shop_name_key
from flows.router import closed_for_refusal

MAX_CODE_ATTEMPTS = 5


def _hash(request_seller_ref: str, code: str) -> str:
    return hashlib.sha256(f"{request_seller_ref}:{code}".encode()).hexdigest()


@dataclass(frozen=True)
class Registered:
    seller: Seller
    code: str  # sent to the owner; never stored in clear


def register_for_owner(
    session: Session,
    facilitator: Facilitator,
    data: dict[str, Any],
    now: datetime,
    code_valid_for: timedelta,
    whatsapp_enabled: bool,
) -> Registered:
    """Store the shop as awaiting consent and tell the owner on their own number."""
    seller = Seller(
        status="awaiting_consent",
        source="facilitator",
        facilitator_code=facilitator.code,
        registered_at=now,
    )
    apply_seller_fields(seller, data)
    seller.phone_verified = False  # typed by someone else: the owner's answer proves it
    seller.shop_name_key = shop_name_key(seller.shop_name or "")
    seller.updated_at = now
    session.add(seller)
    session.flush()
    code = f"{secrets.randbelow(10**6):06d}"
    request = ConsentRequest(
        seller_id=seller.id or 0,
        facilitator_id=facilitator.id or 0,
        phone=seller.phone or "",
        code_hash=_hash(seller.ref, code),
        created_at=now,
        expires_at=now + code_valid_for,
    )
    session.add(request)
    _notify_owner(session, seller, facilitator.name, code, whatsapp_enabled, now)
    return Registered(seller, code)


def readdress(
    session: Session,
    seller: Seller,
    old_phone: str,
    now: datetime,
    code_valid_for: timedelta,
    whatsapp_enabled: bool,
) -> bool:
    """The facilitator corrected the number of a shop awaiting consent: the request moves.

    The old number's copy is withdrawn (unsent notices, and the request no longer shows or
    takes SETUJU there), a new code replaces the old one, and the new number is told as a
    new request is. False when there was no open request to move.
    """
    found = _pending(session, seller.id or 0)
    if found is None:
        return False
    request, _ = found
    _withdraw_request_notices(session, old_phone, seller, now)
    facilitator = session.get(Facilitator, request.facilitator_id)
    code = f"{secrets.randbelow(10**6):06d}"
    request.phone = seller.phone or ""
    request.code_hash = _hash(seller.ref, code)
    request.attempts = 0
    request.created_at, request.expires_at = now, now + code_valid_for
    session.add(request)
    _notify_owner(
        session, seller, facilitator.name if facilitator else "", code, whatsapp_enabled, now
    )
    return True


def _notify_owner(
    session: Session,
    seller: Seller,
    facilitator_name: str,
    code: str,
    whatsapp_enabled: bool,
    now: datetime,
) -> None:
    params = {
        "facilitator": facilitator_name,
        "shop": seller.shop_name or "",
        "code": code,
        "seller_id": seller.id,  # not shown: which request it is, whatever the shop is renamed
    }
    for account in _owner_accounts(session, seller.phone or "", whatsapp_enabled, now):
        notices.add(session, account.id or 0, t("consent.notice").msgid, params)


def _owner_accounts(
    session: Session, phone: str, whatsapp_enabled: bool, now: datetime
) -> list[ChannelAccount]:
    """Where the owner can be told: their accounts with that number, else WhatsApp to it."""
    accounts = list(
        session.exec(
            select(ChannelAccount).where(
                ChannelAccount.phone == phone, col(ChannelAccount.channel) != "console"
            )
        )
    )
    if not any(a.channel == "whatsapp" for a in accounts) and whatsapp_enabled:
        account = session.exec(
            select(ChannelAccount).where(
                ChannelAccount.channel == "whatsapp", ChannelAccount.external_id == phone
            )
        ).first()
        if account is None:
            account = ChannelAccount(channel="whatsapp", external_id=phone, created_at=now)
        account.phone = phone
        session.add(account)
        session.flush()
        accounts.append(account)
    return accounts


def _untold_code_consent() -> ColumnElement[bool]:
    """Given with the code the owner handed over, and no account of the owner has the shop yet."""
    return and_(
        col(ConsentRequest.status) == "given",
        col(ConsentRequest.via) == "code",
        col(Seller.status) == "active",
        ~exists().where(col(ChannelAccount.seller_id) == col(Seller.id)),
    )


def owner_not_yet_told(session: Session, seller_id: int) -> bool:
    """The shop became theirs by the code; their first message hears it (see below)."""
    return (
        session.exec(
            select(ConsentRequest.id)
            .join(Seller, col(Seller.id) == col(ConsentRequest.seller_id))
            .where(ConsentRequest.seller_id == seller_id, _untold_code_consent())
        ).first()
        is not None
    )


def pending_request_for(session: Session, account: ChannelAccount) -> dict[str, Any] | None:
    """The registration waiting for this person's answer, as the consent flow shows it.

    Also one the facilitator already settled with the code the owner handed over, while no
    account of the owner has the shop yet: their first message is answered as a SETUJU would
    be (the code and SETUJU may race; whichever lands first, the owner is thanked once).
    """
    if not account.phone or account.seller_id:
        return None
    found = session.exec(
        select(ConsentRequest, Seller, Facilitator)
        .join(Seller, col(Seller.id) == col(ConsentRequest.seller_id))
        .join(Facilitator, col(Facilitator.id) == col(ConsentRequest.facilitator_id))
        .where(
            ConsentRequest.phone == account.phone,
            or_(
                and_(
                    col(ConsentRequest.status) == "pending",
                    col(Seller.status) == "awaiting_consent",
                ),
                _untold_code_consent(),
            ),
        )
        .order_by(col(ConsentRequest.id).desc())
    ).first()
    if found is None:
        return None
    request, seller, facilitator = found
    products = session.exec(
        select(Product.id).where(Product.seller_id == seller.id, Product.status != "deleted")
    ).all()
    return {
        "seller_id": seller.id,
        "given": request.status == "given",
        "shop_name": seller.shop_name,
        "facilitator_name": facilitator.name,
        "products": len(products),
        "seller": {
            key: getattr(seller, key)
            for key in (
                "owner_name",
                "phone",
                "shop_name",
                "category",
                "regency_code",
                "district_code",
                "address",
                "nib",
            )
        },
    }


def _pending(session: Session, seller_id: int) -> tuple[ConsentRequest, Seller] | None:
    """The open request, locked on PostgreSQL: SETUJU and a typed code may race. The shop's
    row is locked first, then its request, in the order a facilitator's message locks them
    (the shop they help first): the other order deadlocked an owner's SETUJU against the
    facilitator's /kode at the same moment."""
    locking = session.get_bind().dialect.name != "sqlite"
    seller = session.get(
        Seller, seller_id, with_for_update=True if locking else None, populate_existing=locking
    )
    if seller is None or seller.status != "awaiting_consent":
        return None
    query = select(ConsentRequest).where(
        ConsentRequest.seller_id == seller_id, ConsentRequest.status == "pending"
    )
    if locking:
        query = query.with_for_update()
    request = session.exec(query).first()
    return (request, seller) if request is not None else None


def agree_as_owner(
    session: Session, account: ChannelAccount, seller_id: int, now: datetime
) -> Seller | None:
    """SETUJU from the owner's own number: the shop is theirs and goes out to the marketplace."""
    found = _pending(session, seller_id)
    if found is None:  # the facilitator's code got there first: it is theirs all the same
        seller = session.get(Seller, seller_id)
        if seller is None or seller.status != "active" or seller.phone != account.phone:
            return None
    elif not account.phone or found[0].phone != account.phone:
        return None
    else:
        request, seller = found
        _consented(session, request, seller, "owner", now)
    account.seller_id = seller.id
    seller.locale = account.locale
    session.add(account)
    return seller


CodeOutcome = str  # "ok" | "wrong" | "locked" | "expired" | "none"


def agree_by_code(
    session: Session, facilitator: Facilitator, seller_id: int, code: str, now: datetime
) -> tuple[CodeOutcome, int]:
    """The facilitator typed the owner's code; returns the outcome and attempts left."""
    found = _pending(session, seller_id)
    if found is None or found[0].facilitator_id != facilitator.id:
        return "none", 0
    request, seller = found
    left = MAX_CODE_ATTEMPTS - request.attempts
    if left <= 0:
        return "locked", 0
    if now > request.expires_at:
        return "expired", left
    if not hmac.compare_digest(request.code_hash, _hash(seller.ref, code)):
        request.attempts += 1
        session.add(request)
        return ("locked" if left <= 1 else "wrong"), left - 1
    _consented(session, request, seller, "code", now)
    return "ok", left


def _consented(
    session: Session, request: ConsentRequest, seller: Seller, via: str, now: datetime
) -> None:
    request.status, request.via, request.answered_at = "given", via, now
    seller.status = "active"
    seller.consent_version, seller.consent_at = CONSENT_VERSION, now
    seller.phone_verified = True  # they answered on it, or read us the code sent to it
    seller.updated_at = now
    session.add_all([request, seller])
    session.flush()
    enqueue(session, "seller.upsert", seller.ref, seller_payload(seller), seller.id)
    for product in session.exec(
        select(Product).where(Product.seller_id == seller.id, Product.status == "pending")
    ):
        enqueue(session, "product.upsert", product.ref, product_payload(product, seller), seller.id)
    if via != "code":  # the facilitator who typed the code is answered there and then
        shop = seller.shop_name or ""
        _tell_facilitator(session, request, t("fac.consent_given_notice").msgid, shop)
    _withdraw_request_notices(session, request.phone, seller, now)


def _withdraw_request_notices(session: Session, phone: str, seller: Seller, now: datetime) -> None:
    """The owner's copy of the request, not yet delivered, is moot once it is answered (or
    moved to another number)."""
    query = (
        select(Notice)
        .join(ChannelAccount, col(ChannelAccount.id) == col(Notice.account_id))
        .where(
            ChannelAccount.phone == phone,
            Notice.msgid == t("consent.notice").msgid,
            col(Notice.sent_at).is_(None),
        )
    )
    if session.get_bind().dialect.name != "sqlite":  # one being sent right now is left alone
        query = query.with_for_update(skip_locked=True, of=Notice)  # type: ignore[arg-type]
    for notice in session.exec(query):
        if notice.params.get("seller_id", seller.id) == seller.id:
            notice.sent_at, notice.status = now, "withdrawn"
            notice.params = {}  # never shown: the code in it goes too
            session.add(notice)


def decline(session: Session, account: ChannelAccount, seller_id: int, now: datetime) -> bool:
    """TOLAK from the owner's own number: everything the facilitator entered is erased."""
    found = _pending(session, seller_id)
    if found is None or not account.phone or found[0].phone != account.phone:
        return False
    request, seller = found
    shop = seller.shop_name or ""
    request.status, request.via, request.answered_at = "declined", "owner", now
    session.add(request)
    erase_photos(session, [], seller)  # what the facilitator sent for this shop goes too
    scrub_products(session, seller, now)
    for helper in session.exec(
        select(ChannelAccount).where(ChannelAccount.acting_seller_id == seller.id)
    ):
        helper.acting_seller_id = None
        session.add(helper)
        _close_helped_shop(session, helper)
    scrub_seller(seller, now)
    session.add(seller)
    _tell_facilitator(session, request, t("fac.consent_declined_notice").msgid, shop)
    _withdraw_request_notices(session, request.phone, seller, now)
    return True


def _close_helped_shop(session: Session, helper: ChannelAccount) -> None:
    """The shop's menu (or its product, or its change) open in the facilitator's chat closes."""
    conversation = session.exec(
        select(Conversation).where(Conversation.account_id == helper.id)
    ).first()
    if conversation is None:
        return
    state = state_of(conversation)
    closed = closed_for_refusal(state)
    if closed is not state:
        conversation.flow, conversation.step = closed.flow, closed.step
        conversation.draft, conversation.meta = closed.draft, closed.meta()
        session.add(conversation)


def ask_change(session: Session, account: ChannelAccount, seller_id: int, asked: str) -> bool:
    """SETUJU with a change from the owner's own number ("setuju tp namanya ganti jadi Siti
    Romlah"): the facilitator who registered the shop is told what the owner asked."""
    found = _pending(session, seller_id)
    if found is None or not account.phone or found[0].phone != account.phone:
        return False
    request, seller = found
    msgid = t("fac.consent_change_notice").msgid
    _tell_facilitator(session, request, msgid, seller.shop_name or "", asked=asked)
    return True


def _tell_facilitator(
    session: Session, request: ConsentRequest, msgid: str, shop: str, **more: str
) -> None:
    facilitator = session.get(Facilitator, request.facilitator_id)
    if facilitator is not None and facilitator.account_id:
        params = {"shop": shop, **more}
        notices.add(session, facilitator.account_id, msgid, params)
