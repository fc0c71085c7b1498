"""Prometheus metrics. The code moves the counters and histograms below as things happen; the
gauges of what is waiting (inbox backlog, sync events, broadcast deliveries) are read from the
database when /metrics is scraped, so every process reports the same, shared truth.

Counters live in prometheus_client's default registry (with the process's CPU and memory);
they count what this process did since it started.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from typing import ParamSpec, TypeVar

import sqlalchemy as sa
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlmodel import col

from bot.storage.database import Database
from bot.storage.models import BroadcastDelivery, InboundUpdate, OutboxEvent, utcnow

CHANNELS = ("telegram", "whatsapp")
P = ParamSpec("P")
R = TypeVar("R")

UPDATES_RECEIVED = Counter(
    "pelapak_updates_received", "Platform updates stored in the inbox", ["channel"]
)
UPDATES_DUPLICATE = Counter(
    "pelapak_updates_duplicate", "Redelivered updates dropped by the inbox", ["channel"]
)
UPDATES_PROCESSED = Counter(
    "pelapak_updates_processed", "Inbox batches handled without an error", ["channel"]
)
UPDATES_FAILED = Counter(
    "pelapak_updates_failed", "Inbox batches whose handler raised", ["channel"]
)
PROCESSING_SECONDS = Histogram(
    "pelapak_update_processing_seconds",
    "Time to handle one inbox batch (conversation, photos and replies)",
    ["channel"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
MESSAGES_SENT = Counter(
    "pelapak_messages_sent",
    "Outgoing messages by result: sent, failed, template_missing (WhatsApp, outside 24 h)",
    ["channel", "result"],
)
SYNC_PUSHES = Counter(
    "pelapak_sync_pushes", "Marketplace pushes by event kind and outcome", ["kind", "result"]
)
BROADCAST_MESSAGES = Counter(
    "pelapak_broadcast_messages", "Broadcast messages by outcome", ["channel", "result"]
)

for _channel in CHANNELS:  # series exist from the start, so rate() sees the first increase
    for _counter in (UPDATES_RECEIVED, UPDATES_PROCESSED, UPDATES_FAILED):
        _counter.labels(_channel)
    MESSAGES_SENT.labels(_channel, "sent")
    MESSAGES_SENT.labels(_channel, "failed")
MESSAGES_SENT.labels("whatsapp", "template_missing")


def sent(channel: str, result: str = "sent") -> None:
    MESSAGES_SENT.labels(channel, result).inc()


def counts_failure(
    channel: str,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Awaitable[R]]]:
    """Count a send that raises as one failed message (the ones before it counted as sent)."""

    def wrap(send: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
        @functools.wraps(send)
        async def counted(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return await send(*args, **kwargs)
            except Exception:
                MESSAGES_SENT.labels(channel, "failed").inc()
                raise

        return counted

    return wrap


def handled(channel: str, started: float, failed: bool) -> None:
    """One inbox batch done; `started` is its time.perf_counter() at the start."""
    PROCESSING_SECONDS.labels(channel).observe(time.perf_counter() - started)
    (UPDATES_FAILED if failed else UPDATES_PROCESSED).labels(channel).inc()


def pushed(kind: str, outcome: object) -> None:
    """A sync push ended: Done, Retry, Rejected or Unauthorized."""
    SYNC_PUSHES.labels(kind, type(outcome).__name__.lower()).inc()


class DatabaseGauges(Collector):
    """What is waiting, read from the shared database at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("pelapak_database_up", "1 when the database answered the scrape")
        backlog = GaugeMetricFamily(
            "pelapak_inbox_backlog", "Stored updates not processed yet", labels=["channel"]
        )
        oldest = GaugeMetricFamily(
            "pelapak_inbox_oldest_seconds",
            "Age of the oldest stored update not processed yet",
            labels=["channel"],
        )
        sync = GaugeMetricFamily("pelapak_sync_events", "Outbox events by state", labels=["state"])
        broadcasts = GaugeMetricFamily(
            "pelapak_broadcast_deliveries", "Broadcast recipients by state", labels=["state"]
        )
        try:
            with self.db.read_session() as session:
                waiting = session.execute(
                    sa.select(
                        col(InboundUpdate.channel),
                        sa.func.count(),
                        sa.func.min(InboundUpdate.received_at),
                    )
                    .where(col(InboundUpdate.processed_at).is_(None))
                    .group_by(InboundUpdate.channel)
                ).all()
                states = session.execute(
                    sa.select(col(OutboxEvent.state), sa.func.count()).group_by(OutboxEvent.state)
                ).all()
                deliveries = session.execute(
                    sa.select(col(BroadcastDelivery.status), sa.func.count()).group_by(
                        BroadcastDelivery.status
                    )
                ).all()
        except sa.exc.SQLAlchemyError:
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        counts = {channel: (count, since) for channel, count, since in waiting}
        now = utcnow()
        for channel in sorted({*CHANNELS, *counts}):
            count, since = counts.get(channel, (0, None))
            backlog.add_metric([channel], count)
            oldest.add_metric([channel], _age(now, since))
        for state in sorted({"pending", "done", "failed", "superseded", *dict(states)}):
            sync.add_metric([state], dict(states).get(state, 0))
        for state, count in sorted(deliveries):
            broadcasts.add_metric([state], count)
        yield from (up, backlog, oldest, sync, broadcasts)


def _age(now: datetime, since: datetime | None) -> float:
    if since is None:
        return 0.0
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return max(0.0, (now - since).total_seconds())


def exposition(db: Database) -> bytes:
    """The text a /metrics scrape returns: this process's counters, then the shared gauges."""
    shared = CollectorRegistry(auto_describe=False)
    shared.register(DatabaseGauges(db))
    return generate_latest(REGISTRY) + generate_latest(shared)
