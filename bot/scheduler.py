"""APScheduler 3 with its job store in the app's own database: exactly one scheduler runs."""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.digest import run_sales_digest
from bot.reminders import run_nudges
from bot.storage.database import Database, normalize_url
from bot.storage.inbound import scrub_processed
from bot.storage.models import utcnow

NUDGE_EVERY_MINUTES = 10
RETENTION_EVERY_MINUTES = 30


def forget_old_inbound(db: Database, now: datetime, retention_hours: float) -> int:
    """Scrub the raw payloads of updates processed more than `retention_hours` before `now`."""
    with db.session() as session:
        return scrub_processed(session, now - timedelta(hours=retention_hours))


_databases: dict[str, Database] = {}


def run_inbound_retention(database_url: str, retention_hours: float) -> int:
    """The scheduled job (referenced by name, so it survives in the job store)."""
    db = _databases.setdefault(database_url, Database(database_url))
    return forget_old_inbound(db, utcnow(), retention_hours)


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    """Jobs: nudges every 10 minutes (they skip quiet hours themselves); raw updates past
    INBOUND_RETENTION_HOURS scrubbed every 30 minutes; the weekly sales digest tried every 30
    minutes (it goes out on Mondays from 09:00 WIB, once a week per owner)."""
    url = normalize_url(settings.database_url)
    scheduler = AsyncIOScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=url)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 600},
        timezone=settings.timezone,
    )
    scheduler.add_job(
        run_nudges,
        "interval",
        minutes=NUDGE_EVERY_MINUTES,
        id="nudges",
        args=[url, settings.timezone],
        replace_existing=True,
    )
    scheduler.add_job(
        run_inbound_retention,
        "interval",
        minutes=RETENTION_EVERY_MINUTES,
        id="inbound_retention",
        args=[url, settings.inbound_retention_hours],
        replace_existing=True,
    )
    scheduler.add_job(
        run_sales_digest,
        "interval",
        minutes=RETENTION_EVERY_MINUTES,
        id="sales_digest",
        args=[url, settings.timezone],
        replace_existing=True,
    )
    return scheduler
