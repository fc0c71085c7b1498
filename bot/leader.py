"""Once-per-deployment work (the scheduler, broadcasts) runs in one process of several.

The leader holds a lease row in the database and renews it every `renew` seconds; when it
dies, the lease runs out after `ttl` seconds and the next process to look takes over. The
row is locked while it is read and written, so two processes never both lead.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot.lifecycle import pause_unless_stopped
from bot.outgoing import process_name
from bot.storage.database import Database
from bot.storage.models import Leadership, utcnow

log = logging.getLogger(__name__)


class Lease:
    def __init__(
        self,
        db: Database,
        name: str = "scheduler",
        ttl: float = 20.0,
        clock: Callable[[], datetime] = utcnow,
        holder: str | None = None,
    ) -> None:
        self.db = db
        self.name = name
        self.ttl = timedelta(seconds=ttl)
        self.clock = clock
        self.holder = holder or process_name()

    def hold(self) -> bool:
        """Take or renew the lease; True while this process leads."""
        now = self.clock()
        try:
            with self.db.session() as session:
                query = select(Leadership).where(Leadership.name == self.name)
                if not self.db.is_sqlite:
                    query = query.with_for_update()
                row = session.exec(query).first()
                if row is None:
                    row = Leadership(name=self.name, holder=self.holder, expires_at=now)
                elif row.holder != self.holder and row.expires_at > now:
                    return False
                row.holder, row.expires_at = self.holder, now + self.ttl
                session.add(row)
                return True
        except IntegrityError:  # another process created the row first
            return False

    def release(self) -> None:
        with self.db.session() as session:
            row = session.get(Leadership, self.name)
            if row is not None and row.holder == self.holder:
                session.delete(row)


Work = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


async def lead(lease: Lease, work: Work, stop: asyncio.Event, renew: float = 5.0) -> None:
    """Run `work` while this process holds the lease; stop it when the lease is lost."""
    running: asyncio.Task[None] | None = None
    resign = asyncio.Event()
    while not stop.is_set():
        try:
            leading = await asyncio.to_thread(lease.hold)
        except Exception:
            log.warning("could not reach the database to renew the %s lease", lease.name)
            leading = False
        if leading and running is None:
            log.info("this process now runs the %s", lease.name)
            resign = asyncio.Event()
            running = asyncio.create_task(work(resign))
        elif not leading and running is not None:
            log.warning("another process took over the %s", lease.name)
            resign.set()
            await asyncio.gather(running, return_exceptions=True)
            running = None
        await pause_unless_stopped(stop, renew)
    if running is not None:
        resign.set()
        await asyncio.gather(running, return_exceptions=True)
        await asyncio.to_thread(lease.release)
