"""Durable inbox: platform updates are stored before they are acknowledged, then processed
one at a time per chat, in the platform's order, with different chats running concurrently.

A crash after the platform got its 200 loses nothing: `recover()` at start-up drains what was
stored but not processed. A redelivered update hits the unique key and is dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot import logs, metrics
from bot.storage.database import Database
from bot.storage.models import InboundUpdate, utcnow

log = logging.getLogger(__name__)
Handler = Callable[[list[InboundUpdate]], Awaitable[None]]
MAX_ATTEMPTS = 3


class Inbox:
    def __init__(
        self,
        db: Database,
        channel: str,
        handler: Handler,
        settle_seconds: float = 0.2,
        album_seconds: float = 1.0,
        concurrency: int = 16,
    ) -> None:
        self.db = db
        self.channel = channel
        self.handler = handler
        self.settle = settle_seconds  # lets concurrently delivered updates all land first
        self.album = album_seconds  # how long the parts of one album may straggle
        self._locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
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
        self.schedule(chat_key)
        return True

    def _insert(self, row: InboundUpdate) -> None:
        with self.db.session() as session:
            session.add(row)

    def schedule(self, chat_key: str) -> None:
        task = asyncio.create_task(self._drain(chat_key))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def recover(self) -> int:
        """Schedule every chat with stored, unprocessed updates (after a restart)."""
        chats = await asyncio.to_thread(self._pending_chats)
        for chat_key in chats:
            self.schedule(chat_key)
        return len(chats)

    def _pending_chats(self) -> list[str]:
        with self.db.read_session() as session:
            return list(
                session.exec(
                    select(InboundUpdate.chat_key)
                    .where(
                        InboundUpdate.channel == self.channel,
                        col(InboundUpdate.processed_at).is_(None),
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

    def _finish(self, ids: list[int], failed: bool) -> None:
        with self.db.session() as session:
            for row in session.exec(select(InboundUpdate).where(col(InboundUpdate.id).in_(ids))):
                row.attempts += 1
                if not failed or row.attempts >= MAX_ATTEMPTS:
                    row.processed_at = utcnow()
                session.add(row)

    async def _drain(self, chat_key: str) -> None:
        try:
            await self._drain_chat(chat_key)
        except Exception:
            # The database hiccuped: the updates are stored, so try this chat again shortly.
            log.exception("draining the %s inbox failed; retrying", self.channel)
            asyncio.get_running_loop().call_later(1.0, self.schedule, chat_key)

    async def _drain_chat(self, chat_key: str) -> None:
        async with self._locks[chat_key]:
            await asyncio.sleep(self.settle)
            while True:
                rows = await asyncio.to_thread(self._pending, chat_key)
                if not rows:
                    return
                batch = rows[:1]
                if rows[0].group_key:
                    waited = utcnow() - rows[0].received_at
                    if waited < timedelta(seconds=self.album):
                        await asyncio.sleep(self.album - waited.total_seconds())
                        continue
                    batch = [r for r in rows if r.group_key == rows[0].group_key]
                failed = False
                logs.bind(channel=self.channel, update_id=batch[0].update_id)
                started = time.perf_counter()
                async with self._slots:
                    try:
                        await self.handler(batch)
                    except Exception:
                        failed = True
                        log.exception(
                            "processing %s update %s failed", self.channel, batch[0].update_id
                        )
                metrics.handled(self.channel, started, failed)
                await asyncio.to_thread(self._finish, [r.id for r in batch if r.id], failed)
                if failed:
                    await asyncio.sleep(0.5 * batch[0].attempts + 0.5)

    async def close(self) -> None:
        """Let work in progress finish."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
