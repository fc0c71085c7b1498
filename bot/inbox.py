"""Durable inbox: platform updates are stored before they are acknowledged, then processed
one at a time per chat, in the platform's order, with different chats running concurrently.

A crash after the platform got its 200 loses nothing: `recover()` at start-up, and `watch()`
every few seconds in every process, drain what was stored but not processed. A redelivered
update hits the unique key and is dropped.

Order. Each update is processed inside the conversation's transaction only if it is, at that
moment, the first unprocessed update of its chat (`Turn.claim`, under a per-chat lock that
every process on the database shares), and it is marked processed in that same transaction.
So several processes can drain one chat and still apply its updates once, one at a time, in
order. Telegram numbers every update of a bot one after another: an update waits (up to
`gap_hold` seconds) until every lower number has been stored, so updates that the network or
our own queue reordered are still applied in Telegram's order. An update that arrives after
that wait, when a later one of its chat was already applied, is applied when it arrives (as
the owner's newest message), and counted in the log as late.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from bot import logs, metrics
from bot.lifecycle import pause_unless_stopped
from bot.storage.database import Database
from bot.storage.locks import hold_until_commit
from bot.storage.models import InboundUpdate, utcnow

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3
INBOUND: sa.Table = InboundUpdate.__table__  # type: ignore[attr-defined]
# Built once: a statement object keeps its cache key, so each use only binds values.
_FIRST_UNPROCESSED = (
    sa.select(INBOUND.c.id)
    .where(
        INBOUND.c.channel == sa.bindparam("channel"),
        INBOUND.c.chat_key == sa.bindparam("chat_key"),
        INBOUND.c.processed_at.is_(None),
    )
    .order_by(INBOUND.c.seq)
    .limit(1)
)
# The durable insert of every update, in Core: the row object the drain works on is never in
# a session, so the ORM's unit of work (identity map, flush, refresh) is not paid for it.
_INSERT = INBOUND.insert().returning(INBOUND.c.id)
_INSERT_FIELDS = tuple(c.name for c in INBOUND.c if c.name != "id")
_FINISH = (
    INBOUND.update()  # Core: the ORM's bulk update costs several times the statement
    .where(INBOUND.c.id.in_(sa.bindparam("ids", expanding=True)))
    .values(processed_at=sa.bindparam("now"), attempts=INBOUND.c.attempts + 1)
)


@dataclass(frozen=True)
class Turn:
    """One update's (or album's) place in its chat, checked and closed in the caller's
    transaction: the conversation's own."""

    channel: str
    chat_key: str
    row_ids: tuple[int, ...]
    claims: list[bool] = field(default_factory=list, compare=False)  # what claim() found

    def claim(self, session: Session) -> bool:
        """Take the chat's lock; True when these rows are still its first unprocessed ones."""
        hold_until_commit(session, f"in:{self.channel}:{self.chat_key}")
        claimed = self._first_unprocessed(session)
        self.claims.append(claimed)
        return claimed

    @property
    def claimed(self) -> bool:
        """Whether the last claim of this turn succeeded (its transaction may still fail)."""
        return bool(self.claims) and self.claims[-1]

    def _first_unprocessed(self, session: Session) -> bool:
        first = (
            session.connection()
            .execute(_FIRST_UNPROCESSED, {"channel": self.channel, "chat_key": self.chat_key})
            .scalar()
        )
        return first is not None and first in self.row_ids

    def finish(self, session: Session, now: datetime) -> None:
        session.connection().execute(_FINISH, {"ids": list(self.row_ids), "now": now})


Handler = Callable[[list[InboundUpdate], Turn], Awaitable[None]]


class SequenceGate:
    """For platforms that number updates one after another (Telegram): the highest number
    below which every update has been stored (or waited for long enough)."""

    def __init__(self) -> None:
        self.floor: int | None = None
        self.start: int | None = None  # the floor the first update set: assumed, not seen
        self._above: set[int] = set()

    def note(self, seq: int) -> None:
        if self.floor is None:
            self.floor = self.start = seq - 1
        if seq > self.floor:
            self._above.add(seq)
        self._advance()

    def give_up_below(self, seq: int) -> None:
        """Stop waiting for what is missing below `seq`: it is late."""
        if self.floor is None or self.floor < seq - 1:
            self.floor = seq - 1
            self._above = {s for s in self._above if s > self.floor}
        self._advance()

    @property
    def highest(self) -> int:
        """The highest number seen (the floor when nothing above it was)."""
        return max(self._above, default=self.floor if self.floor is not None else 0)

    def ready(self, seq: int) -> bool:
        return self.floor is None or seq <= self.floor + 1

    def seen_below(self, seq: int) -> bool:
        """Ready because every lower number was seen stored (or waited for), not because
        this process started after it: updates stored then by other processes may still be
        coming in, and only the database says what comes first."""
        return self.ready(seq) and self.start is not None and seq - 1 > self.start

    def missing_below(self, seq: int) -> tuple[int, int] | None:
        """The open range (floor, seq) still to be seen, or None."""
        if self.ready(seq) or self.floor is None:
            return None
        return self.floor, seq

    def _advance(self) -> None:
        assert self.floor is not None
        while self.floor + 1 in self._above:
            self.floor += 1
            self._above.discard(self.floor)


class Inbox:
    def __init__(
        self,
        db: Database,
        channel: str,
        handler: Handler,
        settle_seconds: float = 0.2,
        album_seconds: float = 1.0,
        concurrency: int = 16,
        sequential: bool = False,
        gap_hold_seconds: float = 1.0,
        look_every: float = 0.1,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handler = handler
        self.settle = settle_seconds  # paid only when a chat's updates arrive together
        self.album = album_seconds  # how long the parts of one album may straggle
        self.gap_hold = gap_hold_seconds
        self.gate = SequenceGate() if sequential else None
        # Telegram: how often the updates stored by other processes are looked up while some
        # update waits for lower numbers; one look serves every waiting update.
        self.look_every = look_every
        self._look: asyncio.Task[None] | None = None
        self._looked_at = float("-inf")
        self._arrived: dict[str, float] = {}
        self._stored = asyncio.Event()
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # Rows this process stored and has not seen processed yet, per chat: the drain takes
        # them from here instead of reading them back (the claim checks them in the database).
        self._fresh: dict[str, list[InboundUpdate]] = {}
        self._slots = asyncio.Semaphore(concurrency)
        self._tasks: set[asyncio.Task[None]] = set()

    async def accept(
        self,
        update_id: str,
        seq: int,
        chat_key: str,
        payload: dict[str, Any],
        group_key: str | None = None,
    ) -> bool:
        """Store an update durably; False when it was already stored (a redelivery)."""
        row = InboundUpdate(
            channel=self.channel,
            update_id=update_id,
            seq=seq,
            chat_key=chat_key,
            group_key=group_key,
            payload=payload,
        )
        try:
            await asyncio.to_thread(self._insert, row)
        except IntegrityError:
            metrics.UPDATES_DUPLICATE.labels(self.channel).inc()
            return False
        metrics.UPDATES_RECEIVED.labels(self.channel).inc()
        self._note_stored(seq)
        self._fresh.setdefault(chat_key, []).append(row)
        burst = time.monotonic() - self._arrived.get(chat_key, float("-inf")) < self.settle
        self._arrived[chat_key] = time.monotonic()
        self.schedule(chat_key, settle=burst, fresh=True)
        return True

    async def skip(self, update_id: str, seq: int) -> None:
        """An update that is not for a conversation (a group's): recorded as done, so the
        updates numbered after it do not wait for it, and a redelivery is dropped."""
        row = InboundUpdate(
            channel=self.channel,
            update_id=update_id,
            seq=seq,
            chat_key="",
            payload={},
            processed_at=utcnow(),
        )
        with contextlib.suppress(IntegrityError):
            await asyncio.to_thread(self._insert, row)
        self._note_stored(seq)

    def _note_stored(self, seq: int) -> None:
        if self.gate is not None:
            self.gate.note(seq)
        self._stored.set()
        self._stored = asyncio.Event()

    def _insert(self, row: InboundUpdate) -> None:
        values = {name: getattr(row, name) for name in _INSERT_FIELDS}
        with self.db.transaction() as connection:
            row.id = connection.execute(_INSERT, values).scalar_one()

    def schedule(self, chat_key: str, settle: bool = False, fresh: bool = False) -> None:
        """Drain `chat_key`: with `fresh`, the updates this process stored for it (and what
        the database shows once anything is unusual); else whatever the database holds."""
        task = asyncio.create_task(self._drain(chat_key, settle, fresh))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self, older_than: timedelta = timedelta(0)) -> int:
        """Schedule every chat with stored, unprocessed updates (after a restart, or those
        another process stored and could not finish)."""
        chats = await asyncio.to_thread(self._pending_chats, older_than)
        for chat_key in chats:
            if not self._locks[chat_key].locked():
                self.schedule(chat_key)
        return len(chats)

    async def watch(self, stop: asyncio.Event, every: float = 5.0) -> None:
        while not stop.is_set():
            try:
                await self.recover(timedelta(seconds=every))
            except Exception:
                log.exception("looking for stranded %s updates failed", self.channel)
            await pause_unless_stopped(stop, every)

    def _pending_chats(self, older_than: timedelta) -> list[str]:
        with self.db.read_session() as session:
            return list(
                session.exec(
                    select(InboundUpdate.chat_key)
                    .where(
                        InboundUpdate.channel == self.channel,
                        col(InboundUpdate.processed_at).is_(None),
                        col(InboundUpdate.received_at) <= utcnow() - older_than,
                    )
                    .distinct()
                )
            )

    def _pending(self, chat_key: str) -> list[InboundUpdate]:
        with self.db.read_session() as session:
            return list(
                session.exec(
                    select(InboundUpdate)
                    .where(
                        InboundUpdate.channel == self.channel,
                        InboundUpdate.chat_key == chat_key,
                        col(InboundUpdate.processed_at).is_(None),
                    )
                    .order_by(col(InboundUpdate.seq))
                )
            )

    def _stored_between(self, low: int, high: int) -> list[int]:
        with self.db.read_session() as session:
            return list(
                session.exec(
                    select(InboundUpdate.seq).where(
                        InboundUpdate.channel == self.channel,
                        col(InboundUpdate.seq) > low,
                        col(InboundUpdate.seq) < high,
                    )
                )
            )

    def _give_up(self, ids: list[int]) -> None:
        """Updates that failed MAX_ATTEMPTS times are set aside, so the chat moves on."""
        with self.db.session() as session:
            session.execute(
                sa.update(InboundUpdate)
                .where(
                    col(InboundUpdate.id).in_(ids), col(InboundUpdate.attempts) >= MAX_ATTEMPTS - 1
                )
                .values(processed_at=utcnow())
            )
            session.execute(
                sa.update(InboundUpdate)
                .where(col(InboundUpdate.id).in_(ids))
                .values(attempts=InboundUpdate.attempts + 1)
            )

    async def _drain(self, chat_key: str, settle: bool = False, fresh: bool = False) -> None:
        try:
            await self._drain_chat(chat_key, settle, fresh)
        except Exception:
            # The database hiccuped: the updates are stored, so try this chat again shortly.
            log.exception("draining the %s inbox failed; retrying", self.channel)
            asyncio.get_running_loop().call_later(1.0, self.schedule, chat_key)

    async def _wait_for_earlier(self, row: InboundUpdate) -> bool:
        """Telegram: hold an update until the updates numbered before it are stored.
        True when it had to wait (something earlier may have arrived meanwhile)."""
        gate = self.gate
        if gate is None or gate.ready(row.seq):
            return False
        deadline = time.monotonic() + self.gap_hold
        while not gate.ready(row.seq):
            await self._look_below(row.seq)  # another process may have stored them
            if gate.ready(row.seq):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                log.info("%s update %s waited for earlier ones; going on", self.channel, row.seq)
                gate.give_up_below(row.seq)
                break
            stored = self._stored
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stored.wait(), timeout=min(left, 0.1))
        return True

    async def _look_below(self, seq: int) -> None:
        """Note the numbers that other processes stored below `seq` (and below every other
        update waiting here). One read at a time, at most one every `look_every` seconds,
        whatever the number of updates waiting: each of them waking at every store to read
        again made the reads grow with the square of the backlog."""
        gate = self.gate
        assert gate is not None
        if self._look is None or self._look.done():
            if time.monotonic() - self._looked_at < self.look_every:
                return  # the next look sees what was stored since
            missing = gate.missing_below(max(seq, gate.highest))
            if missing is None:
                return
            self._looked_at = time.monotonic()
            self._look = asyncio.create_task(self._read_stored(*missing))
        await asyncio.shield(self._look)

    async def _read_stored(self, low: int, high: int) -> None:
        stored = await asyncio.to_thread(self._stored_between, low, high)
        assert self.gate is not None
        for seq in stored:
            self.gate.note(seq)
        if stored:  # waiters the look did not start for may be free now too
            self._stored.set()
            self._stored = asyncio.Event()

    async def _from_memory(self, chat_key: str) -> list[InboundUpdate] | None:
        """The lowest stored-here update of the chat when it may go as it is (not part of an
        album, nothing missing below it); None when the database has to say.

        Telegram: when lower numbers are still missing (the updates of many chats arriving
        together, a little out of order), it waits for them here, as `_next_batch` would, and
        goes on from memory if no earlier update of this chat came in meanwhile."""
        while True:
            fresh = self._fresh.get(chat_key)
            if not fresh:
                return None
            row = min(fresh, key=lambda r: r.seq)
            gate = self.gate
            if row.group_key:
                return None
            if gate is None:
                return [row]
            if gate.start is None or row.seq - 1 <= gate.start:
                return None  # this process started after the updates below it: ask the database
            if gate.seen_below(row.seq):
                return [row]
            await self._wait_for_earlier(row)
            if not gate.seen_below(row.seq):
                return None

    def _forget(self, chat_key: str, row_ids: tuple[int, ...]) -> None:
        fresh = self._fresh.get(chat_key)
        if fresh is None:
            return
        fresh[:] = [r for r in fresh if r.id not in row_ids]
        if not fresh:
            del self._fresh[chat_key]

    async def _next_batch(self, chat_key: str) -> list[InboundUpdate] | None:
        """The chat's first unprocessed update (or album), once it may go; None when done."""
        while True:
            rows = await asyncio.to_thread(self._pending, chat_key)
            if not rows:
                return None
            if await self._wait_for_earlier(rows[0]):
                continue  # an earlier update of this chat may have arrived meanwhile
            if not rows[0].group_key:
                return rows[:1]
            waited = utcnow() - rows[0].received_at
            if waited >= timedelta(seconds=self.album):
                return [r for r in rows if r.group_key == rows[0].group_key]
            await asyncio.sleep(self.album - waited.total_seconds())

    async def _drain_chat(self, chat_key: str, settle: bool, fresh: bool = False) -> None:
        """Process the chat's updates one at a time. Started by `accept` (`fresh`), it takes
        the updates this process stored from memory, with no read, and stops when they are
        done: updates another process stored are drained there (or by `watch`). Anything
        unusual (a claim that failed, a failure, an album, a gap) and it reads the database
        until the chat has nothing left, as a drain started by `recover` does throughout."""
        async with self._locks[chat_key]:
            if fresh and chat_key not in self._fresh:
                return  # an earlier drain of the chat took this update: no settle to pay
            if settle:
                await asyncio.sleep(self.settle)
            seen: dict[int, int] = defaultdict(int)
            while True:
                batch = await self._from_memory(chat_key) if fresh else None
                if batch is None:
                    if fresh and chat_key not in self._fresh:
                        return  # what this process stored for the chat is done
                    fresh = False
                    batch = await self._next_batch(chat_key)
                    if batch is None:
                        return
                turn = Turn(self.channel, chat_key, tuple(r.id for r in batch if r.id))
                seen[turn.row_ids[0]] += 1
                if seen[turn.row_ids[0]] > 3:  # another process holds it, or it is stuck
                    await asyncio.sleep(0.2 * seen[turn.row_ids[0]])
                    if seen[turn.row_ids[0]] > 10:
                        return  # `watch` comes back to it
                failed = False
                logs.bind(channel=self.channel, update_id=batch[0].update_id)
                started = time.perf_counter()
                async with self._slots:
                    try:
                        await self.handler(batch, turn)
                    except Exception:
                        failed = True
                        log.exception(
                            "processing %s update %s failed", self.channel, batch[0].update_id
                        )
                metrics.handled(self.channel, started, failed)
                self._forget(chat_key, turn.row_ids)
                if failed or not turn.claimed:
                    fresh = False  # the database decides what is left
                if failed:
                    await asyncio.to_thread(self._give_up, list(turn.row_ids))
                    await asyncio.sleep(0.5 * batch[0].attempts + 0.5)

    async def close(self) -> None:
        """Let work in progress finish."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
