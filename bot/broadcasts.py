"""Broadcasts: a message from admins to a segment, sent at each channel's rate, exactly once.

Recipients become `broadcast_delivery` rows once, in one transaction, when sending starts
(unique per broadcast and account). The sender claims a batch, sends each message on a fixed
schedule (never faster than the rate), waits out 429s, and records the outcome. Stopping
(SIGTERM, `stop` set) finishes the message in flight and gives the rest of the batch back,
so a restart sends nobody twice and misses nobody. A process killed outright can leave at
most the one message in flight as `unknown` (sent or not, Telegram cannot tell us); those
are reported, not resent.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from bot.config import Settings
from bot.storage.database import Database
from bot.storage.models import (
    Broadcast,
    BroadcastDelivery,
    ChannelAccount,
    Conversation,
    Facilitator,
    Product,
    Seller,
    utcnow,
)

SEGMENTS = ("everyone", "no_product", "stalled", "regency", "category", "facilitator")
BUSINESS_CHANNELS = ("telegram", "whatsapp")


@dataclass(frozen=True)
class Sent:
    pass


@dataclass(frozen=True)
class Wait:
    """Rate-limited: wait this many seconds, then try the same recipient again."""

    seconds: float


@dataclass(frozen=True)
class Failed:
    reason: str


SendResult = Sent | Wait | Failed
Send = Callable[[ChannelAccount, str], Awaitable[SendResult]]


def create_broadcast(
    db: Database, segment: str, text: str, value: str | None = None, send_at: datetime | None = None
) -> int:
    with db.session() as session:
        return add_broadcast(session, segment, text, value, send_at)


def add_broadcast(
    session: Session,
    segment: str,
    text: str,
    value: str | None = None,
    send_at: datetime | None = None,
) -> int:
    """A broadcast, sent by `pelapak run` (or `pelapak broadcast send`) once it is due."""
    if segment not in SEGMENTS:
        raise ValueError(f"unknown segment {segment!r}; one of {', '.join(SEGMENTS)}")
    if segment != "everyone" and segment != "no_product" and not value:
        raise ValueError(f"segment {segment!r} needs a value")
    broadcast = Broadcast(
        text=text, segment=segment, segment_value=value, send_at=send_at or utcnow()
    )
    session.add(broadcast)
    session.flush()
    return broadcast.id or 0


def audience(
    session: Session, segment: str, value: str | None, settings: Settings
) -> tuple[int, float]:
    """How many a broadcast reaches (opted-out left out) and the seconds sending takes."""
    reachable = [a for a in recipients(session, segment, value) if not a.opted_out]
    rates = {
        "telegram": settings.broadcast_telegram_rate,
        "whatsapp": settings.broadcast_whatsapp_rate,
    }
    per_channel = Counter(a.channel for a in reachable)
    # channels send side by side: the slowest one decides
    seconds = max(
        (estimate_seconds(n, rates[channel]) for channel, n in per_channel.items()), default=0.0
    )
    return len(reachable), seconds


def recipients(session: Session, segment: str, value: str | None) -> list[ChannelAccount]:
    """The owners' accounts a segment names, on the channels the business can write to."""
    facilitators = select(Facilitator.id).where(Facilitator.account_id == ChannelAccount.id)
    query = select(ChannelAccount).where(
        col(ChannelAccount.channel).in_(BUSINESS_CHANNELS), ~facilitators.exists()
    )
    seller_join = col(Seller.id) == col(ChannelAccount.seller_id)
    if segment == "no_product":
        has_product = (
            select(Product.id)
            .where(Product.seller_id == Seller.id, col(Product.status).not_in(("draft", "deleted")))
            .exists()
        )
        query = query.join(Seller, seller_join).where(Seller.status == "active", ~has_product)
    elif segment == "stalled":
        query = query.join(
            Conversation, col(Conversation.account_id) == col(ChannelAccount.id)
        ).where(Conversation.step == value)
    elif segment in ("regency", "category", "facilitator"):
        column = {
            "regency": Seller.regency_code,
            "category": Seller.category,
            "facilitator": Seller.facilitator_code,
        }[segment]
        query = query.join(Seller, seller_join).where(Seller.status == "active", column == value)
    return list(session.exec(query.order_by(col(ChannelAccount.id))))


def _materialize(db: Database, broadcast_id: int) -> None:
    with db.session() as session:
        broadcast = session.get(Broadcast, broadcast_id)
        if broadcast is None or broadcast.status != "scheduled":
            return
        for account in recipients(session, broadcast.segment, broadcast.segment_value):
            session.add(
                BroadcastDelivery(
                    broadcast_id=broadcast_id,
                    account_id=account.id or 0,
                    channel=account.channel,
                    status="skipped_opted_out" if account.opted_out else "pending",
                )
            )
        broadcast.status = "sending"
        session.add(broadcast)


class BroadcastSender:
    """Sends one channel's share of a broadcast at `rate` messages per second."""

    def __init__(
        self, db: Database, channel: str, send: Send, rate: float, batch: int = 100
    ) -> None:
        self.db = db
        self.channel = channel
        self.send = send
        self.interval = 1.0 / rate
        self.batch = batch

    async def run(self, broadcast_id: int, stop: asyncio.Event | None = None) -> dict[str, int]:
        await asyncio.to_thread(_materialize, self.db, broadcast_id)
        text = await asyncio.to_thread(self._text, broadcast_id)
        next_at = time.monotonic()
        while stop is None or not stop.is_set():
            claimed = await asyncio.to_thread(self._claim, broadcast_id)
            if not claimed:
                break
            outcomes: dict[int, tuple[str, str | None]] = {}
            for delivery_id, account in claimed:
                if stop is not None and stop.is_set():
                    break
                while True:
                    next_at = max(next_at, time.monotonic())
                    await asyncio.sleep(next_at - time.monotonic())
                    next_at += self.interval
                    result = await self.send(account, text)
                    if isinstance(result, Wait):
                        next_at = time.monotonic() + result.seconds
                        continue
                    break
                outcomes[delivery_id] = (
                    ("sent", None) if isinstance(result, Sent) else ("failed", result.reason[:500])
                )
            await asyncio.to_thread(self._record, outcomes, [d for d, _ in claimed])
        await asyncio.to_thread(self._finish_if_done, broadcast_id)
        return await asyncio.to_thread(delivery_counts, self.db, broadcast_id)

    def _text(self, broadcast_id: int) -> str:
        with self.db.read_session() as session:
            broadcast = session.get(Broadcast, broadcast_id)
            return broadcast.text if broadcast else ""

    def _claim(self, broadcast_id: int) -> list[tuple[int, ChannelAccount]]:
        with self.db.session() as session:
            query = (
                select(BroadcastDelivery, ChannelAccount)
                .join(ChannelAccount, col(ChannelAccount.id) == col(BroadcastDelivery.account_id))
                .where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    BroadcastDelivery.channel == self.channel,
                    BroadcastDelivery.status == "pending",
                )
                .order_by(col(BroadcastDelivery.id))
                .limit(self.batch)
            )
            if not self.db.is_sqlite:
                query = query.with_for_update(skip_locked=True, of=BroadcastDelivery)  # type: ignore[arg-type]
            rows = list(session.exec(query))
            for delivery, account in rows:
                if account.opted_out:  # opted out after the broadcast was created
                    delivery.status = "skipped_opted_out"
                else:
                    delivery.status = "claimed"
                session.add(delivery)
            return [(d.id or 0, a) for d, a in rows if d.status == "claimed"]

    def _record(self, outcomes: dict[int, tuple[str, str | None]], claimed: list[int]) -> None:
        now = utcnow()
        with self.db.session() as session:
            for delivery in session.exec(
                select(BroadcastDelivery).where(col(BroadcastDelivery.id).in_(claimed))
            ):
                status, error = outcomes.get(delivery.id or 0, ("pending", None))
                delivery.status, delivery.error = status, error  # not reached: back to pending
                if status == "sent":
                    delivery.sent_at = now
                session.add(delivery)

    def _finish_if_done(self, broadcast_id: int) -> None:
        with self.db.session() as session:
            left = session.exec(
                select(func.count())
                .select_from(BroadcastDelivery)
                .where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    col(BroadcastDelivery.status).in_(("pending", "claimed")),
                )
            ).one()
            broadcast = session.get(Broadcast, broadcast_id)
            if broadcast is not None and left == 0 and broadcast.status == "sending":
                broadcast.status, broadcast.finished_at = "done", utcnow()
                session.add(broadcast)


def recover_cut_off(db: Database) -> int:
    """After a crash: deliveries left `claimed` may or may not have gone out. Never resend."""
    with db.session() as session:
        result = session.execute(
            sa.update(BroadcastDelivery)
            .where(col(BroadcastDelivery.status) == "claimed")
            .values(status="unknown")
        )
        return int(getattr(result, "rowcount", 0) or 0)


def delivery_counts(db: Database, broadcast_id: int) -> dict[str, int]:
    with db.read_session() as session:
        rows = session.exec(
            select(BroadcastDelivery.status, func.count())
            .where(BroadcastDelivery.broadcast_id == broadcast_id)
            .group_by(BroadcastDelivery.status)
        ).all()
        return {status: count for status, count in rows}


def estimate_seconds(count: int, rate: float) -> float:
    return count / rate if rate > 0 else 0.0


def telegram_sender(bot: Any) -> Send:
    """Send through a python-telegram-bot Bot; a 429 becomes a wait."""
    from telegram.error import RetryAfter, TelegramError

    async def send(account: ChannelAccount, text: str) -> SendResult:
        try:
            await bot.send_message(int(account.external_id), text)
        except RetryAfter as exc:
            retry = exc.retry_after
            return Wait(retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry))
        except TelegramError as exc:
            return Failed(str(exc))
        return Sent()

    return send


def whatsapp_sender(channel: Any) -> Send:
    """WhatsApp: the 24-hour window, templates and opt-out rules of the channel apply."""

    async def send(account: ChannelAccount, text: str) -> SendResult:
        from flows.messages import Text

        status = await asyncio.to_thread(
            channel.send_business, account, Text("broadcast.text", {"text": text})
        )
        return Sent() if status in ("sent", "template") else Failed(status)

    return send


def due_broadcasts(db: Database) -> list[int]:
    with db.read_session() as session:
        due = session.exec(
            select(Broadcast)
            .where(
                col(Broadcast.status).in_(("scheduled", "sending")),
                col(Broadcast.send_at) <= utcnow(),
            )
            .order_by(col(Broadcast.id))
        )
        return [b.id for b in due if b.id is not None]


async def send_due(
    db: Database, senders: list[BroadcastSender], stop: asyncio.Event | None = None
) -> int:
    """Send every due broadcast, each channel at its own rate, concurrently."""
    recover_cut_off(db)
    due = await asyncio.to_thread(due_broadcasts, db)
    for broadcast_id in due:
        await asyncio.to_thread(_materialize, db, broadcast_id)
        await asyncio.gather(*(s.run(broadcast_id, stop) for s in senders))
    return len(due)


def build_senders(app: Any) -> list[BroadcastSender]:
    """A sender per configured channel, each at its configured rate."""
    from telegram import Bot

    settings = app.settings
    senders = []
    if settings.telegram_bot_token:
        bot = Bot(settings.telegram_bot_token, base_url=settings.telegram_api_base_url)
        senders.append(
            BroadcastSender(
                app.db, "telegram", telegram_sender(bot), settings.broadcast_telegram_rate
            )
        )
    if settings.twilio_account_sid and settings.twilio_auth_token:
        from bot.channels.whatsapp import WhatsAppChannel

        channel = WhatsAppChannel(settings, app.db, app.runner, app.media)
        senders.append(
            BroadcastSender(
                app.db, "whatsapp", whatsapp_sender(channel), settings.broadcast_whatsapp_rate
            )
        )
    return senders


async def run_broadcasts(app: Any, stop: asyncio.Event, every: float = 30.0) -> None:
    """The long-running loop in `pelapak run`: send broadcasts as they fall due."""
    from bot.lifecycle import pause_unless_stopped

    senders = build_senders(app)
    while senders and not stop.is_set():
        await send_due(app.db, senders, stop)
        await pause_unless_stopped(stop, every)
