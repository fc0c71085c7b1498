"""Broadcasts: a message from admins to a segment, sent at each channel's rate, exactly once.

Recipients become `broadcast_delivery` rows once, in one transaction, when sending starts
(unique per broadcast and account). The sender claims a batch (the next one is fetched while
the current one goes out), and sends each message on a fixed schedule, never faster than the
rate, waiting out 429s. Before a message goes out, one small transaction records the
previous message's outcome and marks this one `sending`; that write fits in the gap the rate
leaves. Stopping (SIGTERM, `stop` set) finishes the message in flight and gives the rest
back. After a process is killed outright, claimed messages that were never attempted go back
to `pending` and the one marked `sending` becomes `unknown` (sent or not, Telegram cannot tell
us): reported, never resent. So a restart sends nobody twice and misses nobody, except that
at most one message per channel is in doubt.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, func, select

from bot import metrics
from bot.config import Settings
from bot.storage.database import Database
from bot.storage.models import (
    Admin,
    Broadcast,
    BroadcastDelivery,
    ChannelAccount,
    Conversation,
    Facilitator,
    Product,
    Seller,
    utcnow,
)

if TYPE_CHECKING:
    from bot.channels.telegram_api import BotAPI

MAX_TEXT = 4000  # one message on every channel (Telegram takes 4096)
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
    db: Database,
    segment: str,
    text: str,
    value: str | None = None,
    send_at: datetime | None = None,
    now: datetime | None = None,
) -> int:
    """A broadcast from the command line; a time already past is refused."""
    if send_at is not None and send_at < (now or utcnow()) - timedelta(minutes=1):
        raise ValueError("that time is in the past; leave out --at to send now")
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
    if not text.strip():
        raise ValueError("the text is empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"the text is {len(text)} characters; at most {MAX_TEXT}")
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
    """The owners' accounts a segment names, on the channels the business can write to.

    Only people who agreed to Pelapak keeping their data: an owner with an active shop, or
    someone who said yes to the consent question and is still registering. Never someone
    who declined or erased their data, a facilitator or an admin.
    """
    # Here, not at the top: bot.storage.sellers loads the flows, which `pelapak broadcast
    # status` has no use for.
    from bot.storage.sellers import ERASED_PREFIX

    facilitators = select(Facilitator.id).where(Facilitator.account_id == ChannelAccount.id)
    admins = select(Admin.id).where(
        Admin.channel == ChannelAccount.channel, Admin.external_id == ChannelAccount.external_id
    )
    shop, talk = aliased(Seller), aliased(Conversation)  # the segments join these too
    owns_shop = (
        select(shop.id)
        .where(shop.id == col(ChannelAccount.seller_id), shop.status == "active")
        .correlate(ChannelAccount)
        .exists()
    )
    agreed = (
        select(talk.id)
        .where(
            talk.account_id == col(ChannelAccount.id),
            sa.cast(talk.draft, sa.String).contains('"consent_at"'),
        )
        .correlate(ChannelAccount)
        .exists()
    )
    query = select(ChannelAccount).where(
        col(ChannelAccount.channel).in_(BUSINESS_CHANNELS),
        ~facilitators.exists(),
        ~admins.exists(),
        ~col(ChannelAccount.external_id).startswith(ERASED_PREFIX),
        sa.or_(owns_shop, agreed),
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


class ReplyMeter:
    """Counts the replies a channel sent in the last second, so broadcasts can make room."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._sent: deque[float] = deque()
        self.clock = clock

    def note(self) -> None:
        self._sent.append(self.clock())

    def per_second(self) -> int:
        horizon = self.clock() - 1.0
        while self._sent and self._sent[0] < horizon:
            self._sent.popleft()
        return len(self._sent)


@dataclass(frozen=True)
class Headroom:
    """The platform's overall limit, shared with the replies counted by `replies`."""

    limit: float
    replies: ReplyMeter


class BroadcastSender:
    """Sends one channel's share of a broadcast at `rate` messages per second.

    With `headroom`, it also stays under the platform's overall limit minus the replies sent
    in the last second: conversations come first.
    """

    def __init__(
        self,
        db: Database,
        channel: str,
        send: Send,
        rate: float,
        batch: int = 100,
        headroom: Headroom | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.db = db
        self.close = close  # releases what `send` holds (its connections) after each run
        self.clock = clock  # injected so pacing can be tested without wall-clock timing
        self.sleep = sleep
        self.channel = channel
        self.send = send
        # 2% under the limit: several requests are in flight, they reach the platform with
        # some jitter, and it counts them as they arrive.
        self.interval = 1.02 / rate
        self.batch = batch
        self.headroom = headroom

    def current_interval(self) -> float | None:
        """The gap before the next start now; None while replies use the whole limit."""
        if self.headroom is None:
            return self.interval
        spare = self.headroom.limit - self.headroom.replies.per_second()
        return max(self.interval, 1.02 / spare) if spare >= 1 else None

    async def run(self, broadcast_id: int, stop: asyncio.Event | None = None) -> dict[str, int]:
        try:
            return await self._run(broadcast_id, stop)
        finally:
            if self.close is not None:
                await self.close()

    async def _run(self, broadcast_id: int, stop: asyncio.Event | None) -> dict[str, int]:
        await asyncio.to_thread(_materialize, self.db, broadcast_id)
        text = await asyncio.to_thread(self._text, broadcast_id)
        run = _Run(self, text)
        try:
            await self._pace(broadcast_id, run, stop)
        except BaseException:
            # the sends on their way finish (or fail) before `close` takes their client away
            await asyncio.gather(*run.in_flight, return_exceptions=True)
            raise
        return await asyncio.to_thread(delivery_counts, self.db, broadcast_id)

    async def _pace(self, broadcast_id: int, run: _Run, stop: asyncio.Event | None) -> None:
        """Start every claimed message on the grid until none is left (or `stop`)."""
        upcoming = asyncio.create_task(asyncio.to_thread(self._claim, broadcast_id))
        claimed: list[Claimed] = []
        while stop is None or not stop.is_set():
            if not claimed and not run.retry:
                claimed = await upcoming
                if not claimed:
                    if run.retry:  # a 429 handed one back while we looked for more
                        continue
                    if not run.in_flight:
                        break
                    await asyncio.wait(run.in_flight)  # a 429 may still hand one back
                    continue
                claimed.reverse()  # pop() from the end takes them in order
                upcoming = asyncio.create_task(asyncio.to_thread(self._claim, broadcast_id))
            item = run.retry.popleft() if run.retry else claimed.pop()
            following = [*run.retry, *reversed(claimed[-run.ahead :])][: run.ahead]
            await run.start(item, following)
        await asyncio.gather(*run.in_flight)  # finish what is already going out
        await run.settle()
        unsent = [d for d, _ in (*claimed, *run.retry, *(await upcoming))]
        await asyncio.to_thread(self._release, unsent, run.take_outcomes())
        await asyncio.to_thread(self._finish_if_done, broadcast_id)

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
            opted_out = [d.id for d, a in rows if a.opted_out]  # since the broadcast was made
            claimed = [(d.id or 0, a) for d, a in rows if not a.opted_out]
            table = BroadcastDelivery.__table__  # type: ignore[attr-defined]
            for ids, status in (
                (opted_out, "skipped_opted_out"),
                ([i for i, _ in claimed], "claimed"),
            ):
                if ids:
                    session.execute(table.update().where(table.c.id.in_(ids)).values(status=status))
            return claimed

    def _going_out(self, delivery_ids: list[int], outcomes: list[Outcome]) -> None:
        """Record finished messages and mark the next ones as going out, in one transaction.

        Plain SQL on a connection (no ORM session): this runs once per message.
        """
        table = BroadcastDelivery.__table__  # type: ignore[attr-defined]
        with self.db.engine.begin() as connection:
            if not self.db.is_sqlite:
                # Durable once PostgreSQL has it (our process dying loses nothing); not waiting
                # for the disk keeps this write well inside the gap the rate leaves.
                connection.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            for outcome in outcomes:
                connection.execute(_recorded(outcome))
            connection.execute(
                table.update().where(table.c.id.in_(delivery_ids)).values(status="sending")
            )

    def _release(self, unsent: list[int], outcomes: list[Outcome]) -> None:
        """Stopping: record what finished and give back what was not sent."""
        with self.db.session() as session:
            for outcome in outcomes:
                session.execute(_recorded(outcome))
            if unsent:
                session.execute(
                    sa.update(BroadcastDelivery)
                    .where(
                        col(BroadcastDelivery.id).in_(unsent),
                        col(BroadcastDelivery.status).in_(("claimed", "sending")),
                    )
                    .values(status="pending")
                )

    def _finish_if_done(self, broadcast_id: int) -> None:
        with self.db.session() as session:
            left = session.exec(
                select(func.count())
                .select_from(BroadcastDelivery)
                .where(
                    BroadcastDelivery.broadcast_id == broadcast_id,
                    col(BroadcastDelivery.status).in_(("pending", "claimed", "sending")),
                )
            ).one()
            broadcast = session.get(Broadcast, broadcast_id)
            if broadcast is not None and left == 0 and broadcast.status == "sending":
                broadcast.status, broadcast.finished_at = "done", utcnow()
                session.add(broadcast)


Outcome = tuple[int, str, str | None]  # delivery id, sent | failed, error
Claimed = tuple[int, ChannelAccount]  # delivery id, recipient


class _Run:
    """One sender's pacing: message starts on a grid `interval` apart, several in flight.

    Messages are marked `sending` (with the outcomes finished so far) before they start, a
    few at a time (`ahead`: one at Telegram's rates, more only above 50/s), and the write for
    the next few runs while the current ones go out, so the database never holds up the rate.
    After a crash only the messages in flight and those already marked are in doubt (they
    become `unknown`, never resent). A 429 pushes every later start back by its retry_after
    and hands the message back to be sent again.
    """

    MAX_IN_FLIGHT = 32

    def __init__(self, sender: BroadcastSender, text: str) -> None:
        self.sender = sender
        self.text = text
        self.ahead = max(1, math.ceil(1 / sender.interval / 50))
        self.next_at = sender.clock()
        self.in_flight: set[asyncio.Task[None]] = set()
        self.retry: deque[Claimed] = deque()
        self.outcomes: list[Outcome] = []
        self.marked: set[int] = set()
        self.marking: asyncio.Task[None] | None = None

    def take_outcomes(self) -> list[Outcome]:
        taken, self.outcomes = self.outcomes, []
        return taken

    async def settle(self) -> None:
        """Wait for a marking write in progress."""
        if self.marking is not None:
            await self.marking
            self.marking = None

    async def _mark(self, ids: list[int]) -> None:
        await asyncio.to_thread(self.sender._going_out, ids, self.take_outcomes())
        self.marked.update(ids)

    async def start(self, item: Claimed, following: list[Claimed]) -> None:
        """Start sending `item`; `following` are the next ones, to mark ahead of time."""
        while len(self.in_flight) >= self.MAX_IN_FLIGHT:
            await asyncio.wait(self.in_flight, return_when=asyncio.FIRST_COMPLETED)
        if item[0] not in self.marked or (self.marking is not None and self.marking.done()):
            await self.settle()
            if item[0] not in self.marked:
                await self._mark([item[0], *(f[0] for f in following[: self.ahead - 1])])
        while True:
            while (wait := self.next_at - self.sender.clock()) > 0:  # a 429 may move it
                await self.sender.sleep(wait)
            interval = self.sender.current_interval()
            if interval is not None:
                break
            await self.sender.sleep(0.05)  # replies are using the whole limit: they go first
        # Keep to the grid (a start that woke up a little late does not slow the whole run)
        # but never catch up by more than one slot: no bursts after a stall or a 429.
        now = self.sender.clock()
        on_grid = now - self.next_at < interval
        self.next_at = (self.next_at if on_grid else now) + interval
        task = asyncio.create_task(self._send(item))
        self.in_flight.add(task)
        task.add_done_callback(self.in_flight.discard)
        unmarked = [f[0] for f in following[: self.ahead] if f[0] not in self.marked]
        if unmarked and self.marking is None:
            self.marking = asyncio.create_task(self._mark(unmarked))

    async def _send(self, item: Claimed) -> None:
        delivery_id, account = item
        result = await self.sender.send(account, self.text)
        metrics.BROADCAST_MESSAGES.labels(self.sender.channel, type(result).__name__.lower()).inc()
        if isinstance(result, Wait):
            self.next_at = max(self.next_at, self.sender.clock() + result.seconds)
            self.retry.append(item)
        elif isinstance(result, Sent):
            self.outcomes.append((delivery_id, "sent", None))
        else:
            self.outcomes.append((delivery_id, "failed", result.reason[:500]))


def _recorded(done: Outcome) -> sa.Update:
    """The statement that stores one message's outcome."""
    delivery_id, status, error = done
    return (
        sa.update(BroadcastDelivery)
        .where(col(BroadcastDelivery.id) == delivery_id)
        .values(status=status, error=error, sent_at=utcnow() if status == "sent" else None)
    )


def recover_cut_off(db: Database) -> int:
    """After a crash: claimed but never tried goes back to pending; the one message that was
    going out may or may not have arrived, so it becomes `unknown` and is never resent."""
    with db.session() as session:
        session.execute(
            sa.update(BroadcastDelivery)
            .where(col(BroadcastDelivery.status) == "claimed")
            .values(status="pending")
        )
        result = session.execute(
            sa.update(BroadcastDelivery)
            .where(col(BroadcastDelivery.status) == "sending")
            .values(status="unknown")
        )
        return int(getattr(result, "rowcount", 0) or 0)


def segment_label(segment: str, value: str | None) -> str:
    """`everyone`, `regency:3515`: the way `broadcast create --segment` takes it."""
    return f"{segment}:{value}" if value else segment


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


def telegram_sender(api: BotAPI) -> Send:
    """Send through the Bot API client the replies use (`BotAPI`); a 429 becomes a wait."""
    from telegram.error import RetryAfter, TelegramError

    async def send(account: ChannelAccount, text: str) -> SendResult:
        if not account.external_id.isdigit():  # not a Telegram chat (any more)
            return Failed("no chat id")
        try:
            await api.call("sendMessage", {"chat_id": int(account.external_id), "text": text})
        except RetryAfter as exc:
            retry = exc.retry_after
            return Wait(retry.total_seconds() if hasattr(retry, "total_seconds") else float(retry))
        except TelegramError as exc:
            metrics.sent("telegram", "failed")
            return Failed(str(exc))
        metrics.sent("telegram")
        return Sent()

    return send


def whatsapp_sender(channel: Any) -> Send:
    """WhatsApp: the 24-hour window, templates and opt-out rules of the channel apply."""

    async def send(account: ChannelAccount, text: str) -> SendResult:
        from flows.messages import t

        status = await asyncio.to_thread(
            channel.send_business, account, t("broadcast.text", text=text)
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


def build_senders(app: Any, replies: ReplyMeter | None = None) -> list[BroadcastSender]:
    """A sender per configured channel, each at its configured rate.

    `replies` counts the Telegram replies this process sends; broadcasts then leave room for
    them under Telegram's overall limit.
    """
    from bot.channels.telegram_api import BotAPI

    settings = app.settings
    senders = []
    if settings.telegram_bot_token:
        token = settings.telegram_bot_token.get_secret_value()
        api = BotAPI(  # a hung Telegram is given up on after 5 s, as PTB's Bot did
            token, settings.telegram_api_base_url, connections=_Run.MAX_IN_FLIGHT, read_timeout=5.0
        )
        headroom = Headroom(settings.telegram_max_messages_per_second, replies) if replies else None
        senders.append(
            BroadcastSender(
                app.db,
                "telegram",
                telegram_sender(api),
                settings.broadcast_telegram_rate,
                headroom=headroom,
                close=api.close,
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


async def run_broadcasts(
    app: Any, stop: asyncio.Event, every: float = 30.0, replies: ReplyMeter | None = None
) -> None:
    """The long-running loop in `pelapak run`: send broadcasts as they fall due."""
    from bot.lifecycle import pause_unless_stopped

    senders = build_senders(app, replies)
    while senders and not stop.is_set():
        await send_due(app.db, senders, stop)
        await pause_unless_stopped(stop, every)
