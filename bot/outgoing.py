"""Durable replies: stored in the transaction that produced them, then sent from here.

`queue` adds a chat's replies inside the caller's transaction, so a crash between the commit
and the send delays them and never drops them. `Outgoing` sends them in order, one chat at a
time: a sender claims a chat's waiting replies for `claim_seconds` (under a per-chat lock
shared by every process on the database), sends them one by one and marks each sent as soon
as the platform took it. A sender that dies leaves a claim that runs out; `watch` in every
process takes such chats over. A reply whose send was cut off mid-call is the only one that
can go out twice: the platforms offer no way to ask whether it arrived.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import socket
import threading
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, col, select

from bot.lifecycle import pause_unless_stopped
from bot.storage.database import Database
from bot.storage.locks import hold_until_commit
from bot.storage.models import OutgoingMessage, utcnow

log = logging.getLogger(__name__)
OUTGOING: sa.Table = OutgoingMessage.__table__  # type: ignore[attr-defined]
# The statements of every reply, built once (a statement object keeps its cache key).
_WAITING = (
    sa.select(OUTGOING.c.id)
    .where(
        OUTGOING.c.channel == sa.bindparam("channel"),
        OUTGOING.c.chat_key == sa.bindparam("chat_key"),
        OUTGOING.c.sent_at.is_(None),
    )
    .limit(1)
)
_STORE = OUTGOING.insert()
_STORE_RETURNING = OUTGOING.insert().returning(OUTGOING.c.id, sort_by_parameter_order=True)
_FORGET_SENT = OUTGOING.delete().where(OUTGOING.c.id == sa.bindparam("row_id"))
_MARK_SENT = (
    OUTGOING.update()
    .where(OUTGOING.c.id == sa.bindparam("row_id"))
    .values(
        sent_at=sa.bindparam("now"),
        outcome=sa.bindparam("outcome"),
        claimed_by=None,
        claimed_until=None,
    )
)
_EXTEND_CLAIM = (  # only while still ours: after it ran out, another sender may have taken it
    OUTGOING.update()
    .where(
        OUTGOING.c.id.in_(sa.bindparam("ids", expanding=True)),
        OUTGOING.c.claimed_by == sa.bindparam("holder"),
        OUTGOING.c.sent_at.is_(None),
    )
    .values(claimed_until=sa.bindparam("until"))
)
MAX_ATTEMPTS = 6
T = TypeVar("T")
Item = TypeVar("Item")
BATCH = 10
DONE_KEPT = 10_000


@dataclass(frozen=True)
class Reply:
    """An outbound message rendered in the person's language, ready for a channel."""

    text: str
    choices: tuple[tuple[str, str], ...] = ()
    photo: str | None = None  # sha256 of a stored photo
    prompt: str | None = None  # message id of the question, for platform templates
    contact_button: str | None = None  # label of a "share my number" button
    location_button: str | None = None  # label of a "share my location" button
    msgids: tuple[str, ...] = ()  # the catalog ids of its lines, for tests and templates

    def to_json(self) -> dict[str, Any]:
        return {  # by hand: dataclasses.asdict copies deeply, a tenth of storing a reply
            "text": self.text,
            "choices": [list(choice) for choice in self.choices],
            "photo": self.photo,
            "prompt": self.prompt,
            "contact_button": self.contact_button,
            "location_button": self.location_button,
            "msgids": list(self.msgids),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Reply:
        return cls(
            text=str(data.get("text", "")),
            choices=tuple((str(c[0]), str(c[1])) for c in data.get("choices", ())),
            photo=data.get("photo"),
            prompt=data.get("prompt"),
            contact_button=data.get("contact_button"),
            location_button=data.get("location_button"),
            msgids=tuple(data.get("msgids", ())),
        )


@dataclass
class Queued:
    """A stored reply as its sender needs it (an `OutgoingMessage` read back serves too)."""

    id: int | None
    channel: str
    chat_key: str
    payload: dict[str, Any]
    forget_when_sent: bool
    claimed_by: str | None
    claimed_until: datetime | None

    def columns(self) -> dict[str, Any]:
        return {
            "channel": self.channel,
            "chat_key": self.chat_key,
            "payload": self.payload,
            "forget_when_sent": self.forget_when_sent,
            "claimed_by": self.claimed_by,
            "claimed_until": self.claimed_until,
        }


ReplyRow = Queued | OutgoingMessage


class ClaimLost(Exception):
    """Another sender took this chat's replies over while this one was sending."""


class Undeliverable(Exception):
    """The platform refused this message for good (bot blocked, chat gone): never retry."""


Deliver = Callable[[str, Reply], Awaitable[None]]


def queue(
    session: Session,
    channel: str,
    chat_key: str,
    replies: Iterable[Reply],
    now: datetime | None = None,
    forget_when_sent: bool = False,
    claim_seconds: float | None = None,
) -> int:
    """Store replies for `chat_key` in the caller's transaction; how many were stored.

    With `claim_seconds`, they are stored already claimed by this process when nothing else
    waits for that chat, so this process's sender sends them without a transaction of its
    own to claim them (the common case: one reply batch at a time per chat).
    """
    payloads = [reply.to_json() for reply in replies]
    if not payloads:
        return 0
    created = now or utcnow()
    claimed = claim_seconds is not None and not _anything_waiting(session, channel, chat_key)
    until = created + timedelta(seconds=claim_seconds or 0) if claimed else None
    rows = [
        Queued(
            id=None,
            channel=channel,
            chat_key=chat_key,
            payload=payload,
            forget_when_sent=forget_when_sent,
            claimed_by=PROCESS if claimed else None,
            claimed_until=until,
        )
        for payload in payloads
    ]
    # Core: the ORM's unit of work cost several times the insert itself
    values = [{**row.columns(), "created_at": created} for row in rows]
    connection = session.connection()
    if claimed:  # handed to this process's sender once committed (Outgoing._take)
        ids = connection.execute(_STORE_RETURNING, values).scalars().all()
        for row, row_id in zip(rows, ids, strict=True):
            row.id = row_id
        session.info.setdefault(CLAIMED, []).extend(rows)
    else:
        connection.execute(_STORE, values)
    return len(rows)


def _anything_waiting(session: Session, channel: str, chat_key: str) -> bool:
    """Core, without the ORM's autoflush: no reply of this transaction is pending yet, and
    the flush happens at the commit anyway."""
    found = session.connection().execute(_WAITING, {"channel": channel, "chat_key": chat_key})
    return found.first() is not None


def process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


PROCESS = process_name()  # who claims replies: this process (its senders share the name)
CLAIMED = "outgoing.claimed"  # session.info: replies stored already claimed by PROCESS


class GroupCommit(Generic[Item]):
    """Writes that many tasks wait for, committed together: what is added while a commit is
    on its way goes in the next one, so under load a transaction (and a thread hop) carries
    the writes of many chats instead of one. `add` returns once its item is committed, and
    raises what the commit raised."""

    RETRIES = (0.1, 0.5)  # seconds before trying a failed commit again

    def __init__(
        self,
        write: Callable[[list[Item]], None],
        run: Callable[[Callable[[list[Item]], None], list[Item]], Awaitable[None]],
    ) -> None:
        self._write = write
        self._run = run
        self._items: list[Item] = []
        self._committed: asyncio.Future[None] | None = None  # the next commit's
        self._writer: asyncio.Task[None] | None = None

    async def add(self, item: Item) -> None:
        self._items.append(item)
        loop = asyncio.get_running_loop()
        if self._committed is None or self._committed.get_loop() is not loop:
            self._committed = loop.create_future()  # (a new loop: the old one's is dead)
        committed = self._committed
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._commit_all())
        await asyncio.shield(committed)

    async def _commit_all(self) -> None:
        while self._items:
            items, self._items = self._items, []
            committed, self._committed = self._committed, None
            assert committed is not None
            try:
                await self._commit(items)
            except asyncio.CancelledError:
                committed.cancel()
                raise
            except Exception as exc:
                committed.set_exception(exc)
            else:
                committed.set_result(None)

    async def _commit(self, items: list[Item]) -> None:
        """The writes are idempotent, so a failed commit is tried again before it fails every
        item: one bad pooled connection should not fail (and resend) a batch of chats."""
        for wait in self.RETRIES:
            try:
                await self._run(self._write, items)
                return
            except Exception:
                log.warning("a group commit failed; trying again in %.1f s", wait, exc_info=True)
            await asyncio.sleep(wait)
        await self._run(self._write, items)


class Outgoing:
    """Sends one channel's stored replies, in order per chat, once across processes."""

    def __init__(
        self,
        db: Database,
        channel: str,
        deliver: Deliver,
        clock: Callable[[], datetime] = utcnow,
        claim_seconds: float = 20.0,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.channel = channel
        self.deliver = deliver
        self.clock = clock
        self.claim = timedelta(seconds=claim_seconds)
        self.holder = holder or PROCESS
        self._sending: set[str] = set()
        self._again: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._threads = ThreadPoolExecutor(max_workers=4, thread_name_prefix=f"out-{channel}")
        # Replies committed already claimed by this process, per chat: sent without reading
        # them back. Filled after the commit (on the committing thread), taken by the sender.
        self._handed: dict[str, list[ReplyRow]] = {}
        self._handed_lock = threading.Lock()
        # Ids this process recorded as sent (the newest few thousand): a reply handed over
        # after the sender had already read it from the database and sent it is not sent
        # again (the hand-over runs after the commit, a sender may read the rows before).
        self._done: dict[int, None] = {}
        self._marks = GroupCommit(self._record, self._db)
        if self.holder == PROCESS:
            db.after_commit(self._committed)

    def _committed(self, info: Mapping[Any, Any]) -> None:
        rows = [r for r in info.get(CLAIMED, ()) if r.channel == self.channel and r.id]
        if not rows:
            return
        with self._handed_lock:
            for row in rows:
                self._handed.setdefault(row.chat_key, []).append(row)

    def _take(self, chat_key: str) -> list[ReplyRow]:
        """The replies handed over for `chat_key` while this process's claim on them holds."""
        with self._handed_lock:
            rows = [r for r in self._handed.pop(chat_key, []) if r.id not in self._done]
        if rows and self._all_mine(rows):
            return sorted(rows, key=lambda r: r.id or 0)
        return []

    def notify(self, chat_key: str) -> None:
        """Replies for `chat_key` were committed: send them (now, or after the current batch)."""
        if chat_key in self._sending:
            self._again.add(chat_key)
            return
        self._sending.add(chat_key)
        task = asyncio.create_task(self._send_chat(chat_key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _send_chat(self, chat_key: str) -> None:
        try:
            while True:
                self._again.discard(chat_key)
                handed = self._take(chat_key)
                rows: Sequence[ReplyRow] = handed
                if not rows:
                    rows = await self._db(self._waiting, chat_key)  # a read: no write lock
                    if rows and not self._all_mine(rows):
                        rows = await self._db(self._claim, chat_key)
                if not rows:
                    if chat_key in self._again:
                        continue
                    return
                if not await self._send_rows(chat_key, rows):
                    return
                if handed and chat_key not in self._again:
                    # They were all the chat had waiting when they were stored, and what was
                    # stored since in this process came with a notify: nothing to read back.
                    # (What another process stored is sent by it, or by `watch`.)
                    return
        except Exception:
            log.exception("sending %s replies failed; will retry", self.channel)
        finally:
            self._sending.discard(chat_key)

    async def _send_rows(self, chat_key: str, rows: Sequence[ReplyRow]) -> bool:
        """Send in order; False when a failure or a lost claim stops this chat for now."""
        for index, row in enumerate(rows):
            if not self._held(row) and not await self._db(self._renew, rows[index:]):
                log.warning("another sender took over %s chat; leaving it to them", self.channel)
                return False
            try:
                await self._holding(
                    rows[index:], self.deliver(chat_key, Reply.from_json(row.payload))
                )
                outcome = "sent"
            except ClaimLost:
                log.warning("another sender took over %s chat mid-send; leaving it", self.channel)
                return False
            except Undeliverable as refused:
                log.warning("%s refused a reply for good: %s", self.channel, refused)
                outcome = "failed"
            except Exception:
                log.warning("sending a %s reply failed; retrying later", self.channel)
                left = [r.id for r in rows[index:] if r.id]
                attempts = await self._db(self._release, left)
                if attempts < MAX_ATTEMPTS:
                    delay = min(60.0, 0.5 * 2**attempts)
                    asyncio.get_running_loop().call_later(delay, self.notify, chat_key)
                    return False
                outcome = "failed"
            await self._mark(row, outcome)
        return True

    async def _holding(self, rows: Sequence[ReplyRow], send: Awaitable[None]) -> None:
        """Send while keeping the claim on `rows`: it is renewed every third of it while the
        send is on its way, so a slow send (the platform may take up to its read timeout,
        longer than the claim) does not outlive it and have another process send the same
        replies meanwhile. ClaimLost (the send cut short) when another sender took them
        over all the same: this process's loop was held up past the claim."""
        task = asyncio.ensure_future(send)
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=self.claim.total_seconds() / 3)
                if done:
                    return task.result()
                if not await self._db(self._renew, rows):
                    raise ClaimLost
        finally:
            task.cancel()

    async def _db(self, work: Callable[..., T], *args: Any) -> T:
        """Database work of the sender on its own threads, so a busy pool never delays
        marking a reply sent (the window in which a crash would send it twice)."""
        return await asyncio.get_running_loop().run_in_executor(
            self._threads, functools.partial(work, *args)
        )

    def _waiting(self, chat_key: str) -> list[OutgoingMessage]:
        with self.db.read_session() as session:
            return list(
                session.exec(
                    select(OutgoingMessage)
                    .where(
                        OutgoingMessage.channel == self.channel,
                        OutgoingMessage.chat_key == chat_key,
                        col(OutgoingMessage.sent_at).is_(None),
                    )
                    .order_by(col(OutgoingMessage.id))
                    .limit(BATCH)
                )
            )

    def _all_mine(self, rows: Sequence[ReplyRow]) -> bool:
        """Claimed by this process and still within the claim: send without claiming again."""
        now = self.clock()
        return all(
            r.claimed_by == self.holder and r.claimed_until is not None and r.claimed_until > now
            for r in rows
        )

    def _claim(self, chat_key: str) -> list[OutgoingMessage]:
        now = self.clock()
        with self.db.session() as session:
            hold_until_commit(session, f"out:{self.channel}:{chat_key}")
            rows = list(
                session.exec(
                    select(OutgoingMessage)
                    .where(
                        OutgoingMessage.channel == self.channel,
                        OutgoingMessage.chat_key == chat_key,
                        col(OutgoingMessage.sent_at).is_(None),
                    )
                    .order_by(col(OutgoingMessage.id))
                    .limit(BATCH)
                    # PostgreSQL: waits for a renewal of the claim in flight and sees it; read
                    # unlocked, the rows were taken over by their id while the holder renewed
                    # them, and both sent them. (SQLite runs one writer at a time.)
                    .with_for_update()
                )
            )
            if any(
                r.claimed_by not in (None, self.holder)
                and r.claimed_until is not None
                and r.claimed_until > now
                for r in rows
            ):
                return []  # another process is sending this chat; it will send these too
            for row in rows:
                row.claimed_by, row.claimed_until = self.holder, now + self.claim
                session.add(row)
            return rows

    def _held(self, row: ReplyRow) -> bool:
        """More than half of this process's claim on `row` is left, so nobody else can take
        it while it is sent. A sender whose loop was held up (a busy process) may come to
        replies with less left: sending them then could overlap another process's sender,
        which takes a chat over once the claim has run out, and the chat would get them
        twice and out of order."""
        until = row.claimed_until
        return until is not None and until - self.clock() > self.claim / 2

    def _renew(self, rows: Sequence[ReplyRow]) -> bool:
        """A full claim again on `rows`; False when they are no longer ours (the claim ran
        out and another sender took them)."""
        until = self.clock() + self.claim
        with self.db.transaction() as conn:
            kept = conn.execute(
                _EXTEND_CLAIM, {"ids": [r.id for r in rows], "holder": self.holder, "until": until}
            )
        for r in rows:
            r.claimed_until = until
        return int(kept.rowcount or 0) == len(rows)

    async def _mark(self, row: ReplyRow, outcome: str) -> None:
        """Record one reply's outcome before the chat's next reply goes (the claim on the rest
        is renewed, when it needs to be, before that one is sent)."""
        with self._handed_lock:
            self._done[row.id or 0] = None
            while len(self._done) > DONE_KEPT:
                del self._done[next(iter(self._done))]
        await self._marks.add((row, outcome))

    def _record(self, marks: list[tuple[ReplyRow, str]]) -> None:
        """The outcomes of replies of any chats, in one transaction."""
        now = self.clock()
        sent = [
            {"row_id": r.id, "now": now, "outcome": o} for r, o in marks if not r.forget_when_sent
        ]
        # the answer to an erasure names the chat: gone once sent
        forget = [{"row_id": r.id} for r, _ in marks if r.forget_when_sent]
        with self.db.transaction() as conn:
            if sent:
                conn.execute(_MARK_SENT, sent)
            if forget:
                conn.execute(_FORGET_SENT, forget)

    def _release(self, ids: list[int]) -> int:
        """Give the claim back after a failed send; the attempts of the first one."""
        with self.db.session() as session:
            session.execute(
                sa.update(OutgoingMessage)
                .where(col(OutgoingMessage.id).in_(ids))
                .values(claimed_by=None, claimed_until=None)
            )
            first = session.get(OutgoingMessage, ids[0])
            if first is None:
                return 0
            first.attempts += 1
            session.add(first)
            return first.attempts

    def waiting_chats(self, older_than: timedelta = timedelta(seconds=2)) -> list[str]:
        """Chats with replies nobody is sending: left by a crash, or never picked up."""
        now = self.clock()
        with self.db.read_session() as session:
            return list(
                session.exec(
                    select(OutgoingMessage.chat_key)
                    .where(
                        OutgoingMessage.channel == self.channel,
                        col(OutgoingMessage.sent_at).is_(None),
                        col(OutgoingMessage.created_at) <= now - older_than,
                        sa.or_(
                            col(OutgoingMessage.claimed_until).is_(None),
                            col(OutgoingMessage.claimed_until) <= now,
                            col(OutgoingMessage.claimed_by) == self.holder,
                        ),
                    )
                    .distinct()
                )
            )

    async def recover(self, older_than: timedelta = timedelta(0)) -> int:
        chats = await asyncio.to_thread(self.waiting_chats, older_than)
        for chat_key in chats:
            self.notify(chat_key)
        return len(chats)

    async def watch(self, stop: asyncio.Event, every: float = 5.0) -> None:
        """Every few seconds, take over chats whose replies wait unclaimed."""
        while not stop.is_set():
            try:
                await self.recover(timedelta(seconds=2))
            except Exception:
                log.exception("looking for waiting %s replies failed", self.channel)
            await pause_unless_stopped(stop, every)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
