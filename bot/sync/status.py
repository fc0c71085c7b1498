"""What admins see of the sync queue, and re-queuing failures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlmodel import col, func, select

from bot.storage.database import Database
from bot.storage.models import OutboxEvent, utcnow


@dataclass
class SyncReport:
    counts: dict[str, int]
    oldest_pending_age: timedelta | None
    failures: list[OutboxEvent]


def sync_report(db: Database) -> SyncReport:
    with db.read_session() as session:
        counts = dict(
            session.exec(select(OutboxEvent.state, func.count()).group_by(OutboxEvent.state)).all()
        )
        oldest = session.exec(
            select(func.min(OutboxEvent.created_at)).where(OutboxEvent.state == "pending")
        ).one()
        failures = list(
            session.exec(
                select(OutboxEvent)
                .where(OutboxEvent.state == "failed")
                .order_by(col(OutboxEvent.id))
            )
        )
    if oldest is not None and oldest.tzinfo is None:
        from datetime import UTC

        oldest = oldest.replace(tzinfo=UTC)
    return SyncReport(counts, utcnow() - oldest if oldest else None, failures)


def requeue(db: Database, event_id: int | None) -> int:
    """Failed events back to pending, keeping their idempotency keys; None means all."""
    with db.session() as session:
        query = select(OutboxEvent).where(OutboxEvent.state == "failed")
        if event_id is not None:
            query = query.where(OutboxEvent.id == event_id)
        events = list(session.exec(query))
        for event in events:
            event.state, event.attempts = "pending", 0
            event.available_at, event.claimed_until = utcnow(), None
            session.add(event)
        return len(events)
