"""Notices the business sends owners (sync results...), taken at most once for delivery."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.storage.models import ChannelAccount, Notice, utcnow
from flows.messages import Money, Text, label_from_json

NOTICE: sa.Table = Notice.__table__  # type: ignore[attr-defined]

# Every message the business starts as a notice. WhatsApp carries these outside the 24-hour
# window only as approved templates (WHATSAPP_TEMPLATES), which `pelapak doctor` checks
# message by message: a notice not named here is refused when it is written, so none is
# added without its template being asked for.
NOTICE_MESSAGES = (
    "sync.product_live",
    "sync.product_rejected",
    "sync.product_needs_fix",
    "market.rejected",
    "market.rejected_fix",
    "market.delisted",
    "market.delisted_fix",
    "nudge.registration",
    "nudge.product",
    "perf.digest",
    "perf.digest_quiet",
    "unggulan.congrats",
    "consent.notice",
    "fac.consent_given_notice",
    "fac.consent_declined_notice",
    "fac.consent_change_notice",
)


def add(session: Session, account_id: int, msgid: str, params: dict[str, Any]) -> None:
    """A notice for one account, written in the caller's transaction."""
    if msgid not in NOTICE_MESSAGES:
        raise ValueError(f"{msgid!r} is not in NOTICE_MESSAGES (it needs a WhatsApp template)")
    session.add(Notice(account_id=account_id, msgid=msgid, params=params))


# Read on every message on PostgreSQL (see ConversationRunner._context), nearly always
# finding nothing: built once, in Core, with no ORM objects for what is only read and marked.
_UNSENT = (
    sa.select(NOTICE.c.id, NOTICE.c.msgid, NOTICE.c.params)
    .where(NOTICE.c.account_id == sa.bindparam("account_id"), NOTICE.c.sent_at.is_(None))
    .order_by(NOTICE.c.id)
)
_UNSENT_LOCKED = _UNSENT.with_for_update(skip_locked=True)
_MARK_TAKEN = (
    NOTICE.update()
    .where(NOTICE.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(sent_at=sa.bindparam("now"))
)


def take_for_account(session: Session, account_id: int, lock: bool) -> list[Text]:
    """Unsent notices of one account, marked sent in the caller's transaction."""
    session.flush()  # a notice this transaction wrote is one of them
    conn = session.connection()
    rows = conn.execute(_UNSENT_LOCKED if lock else _UNSENT, {"account_id": account_id}).all()
    if not rows:
        return []
    conn.execute(_MARK_TAKEN, {"ids": [row.id for row in rows], "now": utcnow()})
    return [_text(row.msgid, row.params) for row in rows]


def take_for_channel(
    session: Session, channel: str, limit: int, lock: bool
) -> list[tuple[ChannelAccount, Text, int]]:
    """Unsent notices for accounts on one channel (with their ids), marked taken."""
    query = (
        select(Notice, ChannelAccount)
        .join(ChannelAccount, col(ChannelAccount.id) == col(Notice.account_id))
        .where(ChannelAccount.channel == channel, col(Notice.sent_at).is_(None))
        .order_by(col(Notice.id))
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True, of=Notice)  # type: ignore[arg-type]
    rows = list(session.exec(query))
    texts = _take(session, [notice for notice, _ in rows])
    return [
        (account, text, notice.id or 0) for (notice, account), text in zip(rows, texts, strict=True)
    ]


def record_outcomes(session: Session, outcomes: dict[int, str]) -> None:
    """What became of each taken notice: sent, template, not_sent_<why>."""
    for notice in session.exec(select(Notice).where(col(Notice.id).in_(list(outcomes)))):
        notice.status = outcomes[notice.id or 0]
        session.add(notice)


def _take(session: Session, notices: list[Notice]) -> list[Text]:
    now = utcnow()
    for notice in notices:
        notice.sent_at = now
        session.add(notice)
    return [_text(n.msgid, n.params) for n in notices]


def _text(msgid: str, params: dict[str, Any]) -> Text:
    return Text(msgid, {k: _param(v) for k, v in params.items()})


def _param(value: object) -> object:
    """A parameter stored as a catalog text ({"msgid": ...}) is translated when rendered."""
    if isinstance(value, dict) and "rupiah" in value:
        return Money(int(value["rupiah"]))
    return label_from_json(value) if isinstance(value, dict) and "msgid" in value else value
