"""Who may do what: admins (from settings or `pelapak admin add`) and facilitators."""

from __future__ import annotations

import math
import re
import secrets
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from bot.config import Settings
from bot.storage.models import (
    Admin,
    ChannelAccount,
    Facilitator,
    InviteAttempt,
    UmkmRecord,
    utcnow,
)
from flows.facilitator import INVITE_ALPHABET, INVITE_LENGTH, addressed, invite_code
from flows.messages import Text, t
from flows.parsing import parse_phone
from flows.regions import regencies

# Wrong invite codes one account may type in a sliding window; then every code waits.
INVITE_TRIES = 5
INVITE_WINDOW = timedelta(hours=1)
FACILITATOR_CODE = re.compile(r"PDP-[0-9]{4}-[0-9]{3}", re.IGNORECASE)
# What a Telegram deep link may carry after ?start= (letters, digits, _ and -, up to 64).
_REFERRAL = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_admin(
    session: Session, settings: Settings, account: ChannelAccount, listed: bool | None = None
) -> bool:
    """Admins come from ADMIN_TELEGRAM_IDS / ADMIN_WHATSAPP_NUMBERS or the admin table
    (`listed`: whether the table has them, when the caller read it already)."""
    telegram_id = account.external_id if account.channel == "telegram" else ""
    if telegram_id.isdigit() and int(telegram_id) in settings.admin_telegram_ids:
        return True
    if account.channel == "whatsapp":
        numbers = {parse_phone(n) for n in settings.admin_whatsapp_numbers}
        if account.external_id in numbers:
            return True
    if listed is not None:
        return listed
    found = session.exec(
        select(Admin.id).where(
            Admin.channel == account.channel, Admin.external_id == account.external_id
        )
    ).first()
    return found is not None


def add_admin(session: Session, channel: str, external_id: str) -> Admin:
    """Idempotent: adding the same person twice keeps one row."""
    if channel == "console":  # the identity `pelapak chat --as` uses: a number, else the name
        external_id = parse_phone(external_id) or external_id.strip()
        if not 1 <= len(external_id) <= 64:
            raise ValueError("a console name is 1 to 64 characters")
    elif channel == "whatsapp":
        phone = parse_phone(external_id)
        if phone is None:
            raise ValueError(f"not a phone number: {external_id!r}")
        external_id = phone
    elif not external_id.isdigit():
        raise ValueError(f"a Telegram user id is a number, not {external_id!r}")
    existing = session.exec(
        select(Admin).where(Admin.channel == channel, Admin.external_id == external_id)
    ).first()
    if existing is not None:
        return existing
    admin = Admin(channel=channel, external_id=external_id)
    session.add(admin)
    session.flush()
    return admin


def facilitator_of(session: Session, account: ChannelAccount) -> Facilitator | None:
    if account.id is None:
        return None
    return session.exec(select(Facilitator).where(Facilitator.account_id == account.id)).first()


def _invite_code() -> str:
    """A fresh invite code: a letter and a digit at least, so one typed alone is told from a
    word (`flows.facilitator.invite_code`)."""
    while True:
        code = "".join(secrets.choice(INVITE_ALPHABET) for _ in range(INVITE_LENGTH))
        if invite_code(code) == code:
            return code


def add_facilitator(session: Session, name: str, regency_code: str) -> Facilitator:
    """A new facilitator with a public code (PDP-3515-001) and a one-time invite code."""
    if regency_code not in regencies():
        raise ValueError(f"unknown regency code {regency_code!r}")
    name = " ".join(name.split())
    if not 2 <= len(name) <= 100:
        raise ValueError("a name is 2 to 100 characters")
    count = session.exec(select(func.count()).where(Facilitator.regency_code == regency_code)).one()
    facilitator = Facilitator(
        code=f"PDP-{regency_code}-{count + 1:03d}",
        name=name,
        regency_code=regency_code,
        invite_code=_invite_code(),
    )
    session.add(facilitator)
    session.flush()
    return facilitator


def join(
    session: Session, account: ChannelAccount, invite_code: str, now: datetime | None = None
) -> Facilitator | None:
    """Claim an invite: it works once, for one account (again for the same one)."""
    facilitator = session.exec(
        select(Facilitator).where(Facilitator.invite_code == invite_code.strip().upper())
    ).first()
    if facilitator is None:
        return None
    if facilitator.account_id not in (None, account.id):
        return None
    facilitator.account_id = account.id
    facilitator.joined_at = facilitator.joined_at or now or utcnow()
    session.add(facilitator)
    return facilitator


def invite_lock_left(session: Session, account: ChannelAccount, now: datetime) -> timedelta:
    """How long this account must wait before trying an invite code again (zero: it may)."""
    if account.id is None:
        return timedelta(0)
    recent = list(
        session.exec(
            select(InviteAttempt.at)
            .where(InviteAttempt.account_id == account.id, InviteAttempt.at > now - INVITE_WINDOW)
            .order_by(col(InviteAttempt.at).desc())
            .limit(INVITE_TRIES)
        )
    )
    if len(recent) < INVITE_TRIES:
        return timedelta(0)
    return recent[-1] + INVITE_WINDOW - now  # until the oldest of them leaves the window


def join_reply(session: Session, account: ChannelAccount, invite_code: str, now: datetime) -> Text:
    """Claim an invite, at most INVITE_TRIES wrong codes an hour per account; what to say."""
    wait = invite_lock_left(session, account, now)
    if wait > timedelta(0):
        return t("fac.invite_locked", minutes=max(1, math.ceil(wait.total_seconds() / 60)))
    joined = join(session, account, invite_code, now)
    if joined is None:
        session.add(InviteAttempt(account_id=account.id or 0, at=now))
        return t("fac.invite_unknown")
    return t("fac.joined", name=addressed(joined.name), code=joined.code)


def lead_referral(session: Session, account: ChannelAccount, payload: str) -> str | None:
    """What a `/start PAYLOAD` link records about where a new owner came from, if anything.

    Only before they register (a shop keeps the referral it registered with). A facilitator's
    public code counts only when that facilitator exists, and records a lead, never their shop;
    anything that cannot come from a link is ignored.
    """
    payload = payload.strip()
    if account.seller_id or not _REFERRAL.fullmatch(payload):
        return None
    if FACILITATOR_CODE.fullmatch(payload):
        code = payload.upper()
        known = session.exec(select(Facilitator.id).where(Facilitator.code == code)).first()
        return code if known is not None else None
    return payload


def assign_leads(session: Session, facilitator: Facilitator, regency_code: str | None) -> int:
    """Give a facilitator the imported businesses of a regency that nobody has yet."""
    records = session.exec(
        select(UmkmRecord).where(
            UmkmRecord.regency_code == (regency_code or facilitator.regency_code),
            col(UmkmRecord.facilitator_id).is_(None),
        )
    ).all()
    for record in records:
        record.facilitator_id = facilitator.id
        session.add(record)
    return len(records)


def telegram_roles(
    session: Session, settings: Settings, only: int | None = None
) -> dict[int, tuple[set[str], str]]:
    """Telegram chats of facilitators and admins: their roles and language."""
    people: dict[int, tuple[set[str], str]] = {}

    def add(external_id: str, role: str, locale: str) -> None:
        if external_id.isdigit() and (only is None or int(external_id) == only):
            people.setdefault(int(external_id), (set(), locale))[0].add(role)

    locales = {
        a.external_id: a.locale
        for a in session.exec(select(ChannelAccount).where(ChannelAccount.channel == "telegram"))
        if only is None or a.external_id == str(only)
    }
    for account in session.exec(
        select(ChannelAccount)
        .join(Facilitator, col(Facilitator.account_id) == col(ChannelAccount.id))
        .where(ChannelAccount.channel == "telegram")
    ):
        add(account.external_id, "facilitator", account.locale)
    admins = [str(i) for i in settings.admin_telegram_ids]
    admins += list(session.exec(select(Admin.external_id).where(Admin.channel == "telegram")))
    for external_id in admins:
        add(external_id, "admin", locales.get(external_id, settings.default_locale))
    return people
