"""The sync worker: pushes outbox events to the marketplace, exactly once in effect.

Claiming takes a lease (`claimed_until`) in a short transaction (PostgreSQL: `FOR UPDATE SKIP
LOCKED`, so several workers can run); the HTTP calls happen outside any transaction, each
with the event's own `Idempotency-Key`. A worker killed mid-batch only delays its events
until their lease runs out; the marketplace dedupes the replay by key. Only the oldest
pending event of a seller can be claimed, so one seller's events stay in order (seller
before products), while different sellers are pushed concurrently by a bounded pool.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select

from bot import metrics, notices
from bot.lifecycle import pause_unless_stopped
from bot.media import MediaStore
from bot.storage.database import Database
from bot.storage.models import OutboxEvent, Product, Seller, utcnow
from bot.storage.outbox import enqueue, seller_payload
from bot.sync.client import Done, MarketplaceClient, Outcome, Rejected, Retry, Unauthorized
from flows.messages import Text, t

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 900.0
PRODUCT_LIVE = t("sync.product_live")
PRODUCT_REJECTED = t("sync.product_rejected")
PRODUCT_NEEDS_FIX = t("sync.product_needs_fix")
# Marketplace field (contract) -> the word an owner types after "ubah" to fix it.
_CONTRACT_FIELD = {"weight": "weight_grams"}


@cache
def field_words() -> dict[str, str]:
    """Marketplace field -> the owner's word for it, from the product flow: loaded when a
    rejection names a field, not by every `pelapak worker` that finds nothing to push."""
    from flows.product import FIX_WORDS

    return {_CONTRACT_FIELD.get(field, field): word for word, field in FIX_WORDS.items()}


@dataclass
class Tally:
    done: int = 0
    retried: int = 0
    failed: int = 0
    paused: bool = False
    seen: set[int] = field(default_factory=set)


def backoff(attempts: int, after: float | None) -> float:
    """Seconds to wait: the server's Retry-After, else exponential with full jitter."""
    if after is not None:
        return after
    return random.uniform(0.5, 1.0) * min(MAX_BACKOFF_SECONDS, 2.0**attempts)


class SyncWorker:
    def __init__(
        self,
        db: Database,
        media: MediaStore,
        client: MarketplaceClient,
        concurrency: int = 8,
        lease: timedelta = timedelta(minutes=2),
        pause: timedelta = timedelta(minutes=1),
        clock: Callable[[], datetime] = utcnow,
        on_unauthorized: Callable[[str], Any] | None = None,
    ) -> None:
        self.db = db
        self.media = media
        self.client = client
        self.concurrency = concurrency
        self.lease = lease
        self.pause = pause
        self.clock = clock
        self.on_unauthorized = on_unauthorized
        self.paused_until: datetime | None = None

    # --- claiming ----------------------------------------------------------------------

    def claim(self, limit: int) -> list[OutboxEvent]:
        """Lease up to `limit` due events, at most one per seller (its oldest pending one)."""
        now = self.clock()
        earlier = aliased(OutboxEvent)
        blocked = (
            select(earlier.id)
            .where(
                earlier.seller_id == OutboxEvent.seller_id,
                # written out, not bound: the partial index of pending events
                # (ix_outbox_event_pending_seller) fits a plan made for any value
                earlier.state == sa.literal_column("'pending'"),
                sa.or_(
                    col(earlier.id) < col(OutboxEvent.id),
                    # a seller being (re)pushed holds back its products whatever their age
                    sa.and_(
                        col(earlier.kind).startswith("seller."),
                        col(OutboxEvent.kind).startswith("product."),
                    ),
                ),
            )
            .exists()
        )
        query = (
            select(OutboxEvent)
            .where(
                OutboxEvent.state == "pending",
                OutboxEvent.available_at <= now,
                sa.or_(
                    col(OutboxEvent.claimed_until).is_(None), col(OutboxEvent.claimed_until) < now
                ),
                ~blocked,
            )
            .order_by(col(OutboxEvent.id))
            .limit(limit)
        )
        if not self.db.is_sqlite:
            query = query.with_for_update(skip_locked=True, of=OutboxEvent)  # type: ignore[arg-type]
        with self.db.session() as session:
            events = list(session.exec(query))
            for event in events:
                event.claimed_until = now + self.lease
                session.add(event)
        return events

    # --- running -------------------------------------------------------------------------

    async def run_once(self) -> Tally:
        """Push everything that is due now, then return."""
        tally = Tally()
        while not self._paused():
            events = await asyncio.to_thread(self.claim, self.concurrency * 4)
            events = [e for e in events if e.id not in tally.seen]
            if not events:
                break
            await self._push_all(events, tally)
        tally.paused = self._paused()
        return tally

    async def run_forever(self, stop: asyncio.Event, idle: float = 1.0) -> None:
        while not stop.is_set():
            if self._paused():
                await pause_unless_stopped(stop, 5.0)
                continue
            events = await asyncio.to_thread(self.claim, self.concurrency * 4)
            if events:
                await self._push_all(events, Tally())
            else:
                await pause_unless_stopped(stop, idle)

    def _paused(self) -> bool:
        return self.paused_until is not None and self.clock() < self.paused_until

    async def _push_all(self, events: list[OutboxEvent], tally: Tally) -> None:
        slots = asyncio.Semaphore(self.concurrency)

        async def push(event: OutboxEvent) -> None:
            async with slots:
                if self._paused():
                    await asyncio.to_thread(self._release, event)
                    return
                tally.seen.add(event.id or 0)
                try:
                    outcome = await self._push(event)
                except Exception:
                    log.exception("pushing outbox event %s failed", event.id)
                    outcome = Retry("internal error")
                metrics.pushed(event.kind, outcome)
                await asyncio.to_thread(self._record, event, outcome, tally)

        await asyncio.gather(*(push(e) for e in events))

    async def _push(self, event: OutboxEvent) -> Outcome:
        key, ref = event.idempotency_key, event.aggregate_ref
        if event.kind == "seller.upsert":
            return await self.client.put_seller(ref, event.payload, key)
        if event.kind == "seller.delete":
            return await self.client.delete_seller(ref, key)
        if event.kind == "product.delete":
            return await self.client.delete_product(ref, key)
        if event.kind == "product.upsert":
            for index, photo in enumerate(event.payload.get("photos") or []):
                data = await asyncio.to_thread(self.media.read, photo["sha256"])
                if data is None:
                    return Rejected(0, "photo_missing", "photo file missing", {"photos": "missing"})
                outcome = await self.client.put_media(photo["sha256"], data, f"{key}.m{index}")
                if not isinstance(outcome, Done):
                    return outcome
            return await self.client.put_product(ref, event.payload, key)
        return Rejected(0, "unknown_kind", f"unknown event kind {event.kind}")

    # --- recording outcomes -------------------------------------------------------------------

    def _release(self, event: OutboxEvent) -> None:
        with self.db.session() as session:
            row = session.get(OutboxEvent, event.id)
            if row is not None and row.state == "pending":
                row.claimed_until = None
                session.add(row)

    def _record(self, event: OutboxEvent, outcome: Outcome, tally: Tally) -> None:
        now = self.clock()
        with self.db.session() as session:
            row = session.get(OutboxEvent, event.id)
            if row is None or row.state != "pending":
                return  # superseded or erased meanwhile: nothing to record
            row.claimed_until, row.updated_at = None, now
            if isinstance(outcome, Done):
                row.state, row.last_error = "done", None
                self._apply_done(session, row, outcome.body)
                tally.done += 1
            elif isinstance(outcome, Retry):
                row.attempts += 1
                row.available_at = now + timedelta(seconds=backoff(row.attempts, outcome.after))
                row.last_error = outcome.reason[:2000]
                tally.retried += 1
            elif isinstance(outcome, Unauthorized):
                self.paused_until = now + self.pause
                row.last_error = f"{outcome.status} {outcome.message}"[:2000]
                log.error(
                    "marketplace refused our credentials (%s); pausing all pushes", outcome.status
                )
                if self.on_unauthorized:
                    self.on_unauthorized(row.last_error)
            elif outcome.code == "seller_not_found" and row.kind.startswith("product."):
                self._repush_seller(session, row)
            else:
                row.state = "failed"
                row.last_error = _describe(outcome)[:2000]
                self._apply_rejected(session, row, outcome)
                tally.failed += 1
            session.add(row)

    def _repush_seller(self, session: Session, event: OutboxEvent) -> None:
        seller = session.get(Seller, event.seller_id) if event.seller_id else None
        if seller is None or seller.status != "active":
            event.state, event.last_error = "failed", "seller_not_found: seller erased"
            return
        enqueue(session, "seller.upsert", seller.ref, seller_payload(seller), seller.id)
        event.last_error = "seller_not_found: pushing the seller first"

    def _apply_done(self, session: Session, event: OutboxEvent, body: dict[str, Any]) -> None:
        if event.kind == "seller.upsert":
            seller = session.exec(select(Seller).where(Seller.ref == event.aggregate_ref)).first()
            if seller is not None:
                seller.marketplace_id = body.get("marketplace_id") or seller.marketplace_id
                seller.marketplace_url = body.get("url") or seller.marketplace_url
                session.add(seller)
            return
        if event.kind != "product.upsert":
            return
        product = session.exec(select(Product).where(Product.ref == event.aggregate_ref)).first()
        if product is None or product.status == "deleted":
            return
        product.marketplace_id = body.get("marketplace_id") or product.marketplace_id
        product.url = body.get("url") or product.url
        status = body.get("status")
        if status == "live":
            product.status, product.reason = "live", None
            self._notify(
                session,
                event,
                PRODUCT_LIVE,
                {"name": product.name or "", "url": product.url or "-"},
            )
        elif status == "rejected":
            reasons = "; ".join(str(r) for r in body.get("reasons") or []) or "-"
            product.status, product.reason = "needs_fix", reasons[:500]
            self._notify(
                session, event, PRODUCT_REJECTED, {"name": product.name or "", "reason": reasons}
            )
        session.add(product)

    def _apply_rejected(self, session: Session, event: OutboxEvent, outcome: Rejected) -> None:
        if event.kind != "product.upsert":
            return
        product = session.exec(select(Product).where(Product.ref == event.aggregate_ref)).first()
        if product is None or product.status == "deleted":
            return
        field_name, detail = next(iter(outcome.fields.items()), ("", outcome.message))
        word = field_words().get(field_name)
        product.status, product.reason = "needs_fix", f"{word or field_name}: {detail}"[:500]
        session.add(product)
        if word:
            self._notify(
                session,
                event,
                PRODUCT_NEEDS_FIX,
                {"name": product.name or "", "field": word, "detail": detail},
            )
        else:
            self._notify(
                session,
                event,
                PRODUCT_REJECTED,
                {"name": product.name or "", "reason": outcome.message},
            )

    def _notify(
        self, session: Session, event: OutboxEvent, message: Text, params: dict[str, Any]
    ) -> None:
        """Queue a notice for the seller on the channel they used most recently."""
        from bot.storage.sellers import latest_account  # it loads the flows: only when used

        account = latest_account(session, event.seller_id)
        if account is not None and account.id is not None:
            notices.add(session, account.id, message.msgid, params)


def _describe(outcome: Rejected) -> str:
    fields = ", ".join(f"{k}: {v}" for k, v in outcome.fields.items())
    return f"{outcome.status} {outcome.code}: {outcome.message}" + (
        f" ({fields})" if fields else ""
    )
