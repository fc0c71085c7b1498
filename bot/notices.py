"""Notices the business sends owners (sync results...), taken at most once for delivery."""

from __future__ import annotations

from sqlmodel import Session, col, select

from bot.storage.models import ChannelAccount, Notice, utcnow
from flows.messages import Money, Text, label_from_json


def take_for_account(session: Session, account_id: int, lock: bool) -> list[Text]:
    """Unsent notices of one account, marked sent in the caller's transaction."""
    query = (
        select(Notice)
        .where(Notice.account_id == account_id, col(Notice.sent_at).is_(None))
        .order_by(col(Notice.id))
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return _take(session, list(session.exec(query)))


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
    return [Text(n.msgid, {k: _param(v) for k, v in n.params.items()}) for n in notices]


def _param(value: object) -> object:
    """A parameter stored as a catalog text ({"msgid": ...}) is translated when rendered."""
    if isinstance(value, dict) and "rupiah" in value:
        return Money(int(value["rupiah"]))
    return label_from_json(value) if isinstance(value, dict) and "msgid" in value else value
