"""Signing in without passwords: single-use links, signed session cookies, CSRF, the audit log.

A link is a random token (only its SHA-256 is stored) that works once within LINK_TTL. Using
it starts a session: the cookie carries another random token and an HMAC of it under the
deployment's key, the table its hash, the CSRF token and when it was last used; a session
unused for IDLE_TIMEOUT is over.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from bot.config import Settings, reveal
from bot.roles import is_admin
from bot.storage.database import Database
from bot.storage.models import (
    AuditLog,
    ChannelAccount,
    DashboardKey,
    DashboardLink,
    DashboardSession,
    Facilitator,
)
from flows.parsing import parse_phone

LINK_TTL = timedelta(minutes=15)
IDLE_TIMEOUT = timedelta(hours=12)
TOUCH_EVERY = timedelta(minutes=1)  # last_seen_at is written at most this often
COOKIE = "pelapak_admin"


class NotAllowed(ValueError):
    """This person is neither an admin nor a facilitator."""


@dataclass(frozen=True)
class Who:
    """The signed-in person: an admin, or a facilitator who sees only their own shops."""

    session_id: int
    role: str
    channel: str
    external_id: str
    facilitator_id: int | None
    facilitator_code: str | None
    facilitator_name: str | None
    csrf: str
    locale: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def actor(self) -> str:
        if self.facilitator_code and not self.is_admin:
            return f"facilitator {self.facilitator_code}"
        return f"admin {self.channel}:{self.external_id}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def signing_key(db: Database, settings: Settings) -> bytes:
    """DASHBOARD_SECRET, else a random key made once and kept in the database."""
    configured = reveal(settings.dashboard_secret)
    if configured:
        return configured.encode()
    with db.session() as session:
        row = session.get(DashboardKey, "cookie")
        if row is None:
            row = DashboardKey(name="cookie", value=secrets.token_urlsafe(48))
            session.add(row)
    with db.read_session() as session:  # a concurrent first use may have won: take theirs
        stored = session.get(DashboardKey, "cookie")
        return (stored.value if stored else row.value).encode()


def sign(key: bytes, token: str) -> str:
    mac = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    return f"{token}.{mac}"


def unsign(key: bytes, value: str) -> str | None:
    token, _, mac = value.rpartition(".")
    expected = hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    return token if token and hmac.compare_digest(mac, expected) else None


def identify(channel: str, external_id: str) -> tuple[str, str]:
    """The identity as the tables keep it: a WhatsApp number in E.164, a console number too."""
    external_id = external_id.strip()
    if channel == "whatsapp":
        phone = parse_phone(external_id)
        if phone is None:
            raise NotAllowed(f"not a phone number: {external_id!r}")
        return channel, phone
    if channel == "console":
        return channel, parse_phone(external_id) or external_id
    if channel != "telegram" or not external_id.isdigit():
        raise NotAllowed(f"a Telegram user id is a number, not {external_id!r}")
    return channel, external_id


def role_of(
    session: Session, settings: Settings, channel: str, external_id: str
) -> tuple[str, Facilitator | None]:
    """'admin' or 'facilitator' (with the facilitator), else NotAllowed."""
    account = session.exec(
        select(ChannelAccount).where(
            ChannelAccount.channel == channel, ChannelAccount.external_id == external_id
        )
    ).first()
    probe = account or ChannelAccount(channel=channel, external_id=external_id)
    facilitator = (
        session.exec(select(Facilitator).where(Facilitator.account_id == account.id)).first()
        if account is not None and account.id is not None
        else None
    )
    if is_admin(session, settings, probe):
        return "admin", facilitator
    if facilitator is not None:
        return "facilitator", facilitator
    raise NotAllowed(f"{channel} {external_id} is neither an admin nor a facilitator")


def issue_link(
    session: Session, settings: Settings, channel: str, external_id: str, now: datetime
) -> str:
    """A new sign-in token for this admin or facilitator (NotAllowed for anyone else)."""
    channel, external_id = identify(channel, external_id)
    role, facilitator = role_of(session, settings, channel, external_id)
    token = secrets.token_urlsafe(32)
    session.add(
        DashboardLink(
            token_hash=_hash(token),
            role=role,
            channel=channel,
            external_id=external_id,
            facilitator_id=facilitator.id if facilitator else None,
            created_at=now,
            expires_at=now + LINK_TTL,
        )
    )
    session.flush()
    return token


def link_url(settings: Settings, token: str) -> str:
    base = settings.public_base_url or f"http://{settings.host}:{settings.port}"
    return f"{base.rstrip('/')}/admin/login/{token}"


def redeem(db: Database, token: str, locale: str, now: datetime) -> str | None:
    """Use a link once: a new session's token, or None (unknown, used or expired)."""
    with db.session() as session:
        query = select(DashboardLink).where(DashboardLink.token_hash == _hash(token))
        if not db.is_sqlite:
            query = query.with_for_update()
        link = session.exec(query).first()
        if link is None or link.used_at is not None or link.expires_at <= now:
            return None
        link.used_at = now
        session.add(link)
        session_token = secrets.token_urlsafe(32)
        session.add(
            DashboardSession(
                token_hash=_hash(session_token),
                csrf=secrets.token_urlsafe(24),
                role=link.role,
                channel=link.channel,
                external_id=link.external_id,
                facilitator_id=link.facilitator_id,
                locale=locale,
                created_at=now,
                last_seen_at=now,
            )
        )
        actor = f"{link.role} {link.channel}:{link.external_id}"
        session.add(AuditLog(at=now, actor=actor, action="sign_in"))
        return session_token


def current(db: Database, token: str, now: datetime) -> Who | None:
    """The session this token belongs to, if it is still on; using it keeps it on."""
    with db.session() as session:
        found = session.exec(
            select(DashboardSession).where(DashboardSession.token_hash == _hash(token))
        ).first()
        if found is None or found.ended_at is not None:
            return None
        if now - found.last_seen_at > IDLE_TIMEOUT:
            found.ended_at = now
            session.add(found)
            return None
        if now - found.last_seen_at > TOUCH_EVERY:
            found.last_seen_at = now
            session.add(found)
        facilitator = (
            session.get(Facilitator, found.facilitator_id) if found.facilitator_id else None
        )
        return Who(
            session_id=found.id or 0,
            role=found.role,
            channel=found.channel,
            external_id=found.external_id,
            facilitator_id=found.facilitator_id,
            facilitator_code=facilitator.code if facilitator else None,
            facilitator_name=facilitator.name if facilitator else None,
            csrf=found.csrf,
            locale=found.locale,
        )


def end(db: Database, session_id: int, now: datetime) -> None:
    with db.session() as session:
        found = session.get(DashboardSession, session_id)
        if found is not None:
            found.ended_at = now
            session.add(found)


def set_locale(db: Database, session_id: int, locale: str) -> None:
    with db.session() as session:
        found = session.get(DashboardSession, session_id)
        if found is not None:
            found.locale = locale
            session.add(found)


def audit(db: Database, who: Who, action: str, target: str | None = None, **detail: Any) -> None:
    with db.session() as session:
        session.add(AuditLog(actor=who.actor, action=action, target=target, detail=detail))


def dashboard_link_reply(
    session: Session, settings: Settings, account: ChannelAccount, now: datetime
) -> Any:
    """What /dasbor answers: a fresh sign-in link, or why there is none."""
    from flows.messages import t

    try:
        token = issue_link(session, settings, account.channel, account.external_id, now)
    except NotAllowed:
        return t("dash.chat.not_allowed")
    minutes = int(LINK_TTL.total_seconds() // 60)
    return t("dash.chat.link", url=link_url(settings, token), minutes=minutes)
