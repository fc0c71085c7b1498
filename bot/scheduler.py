"""APScheduler 3 with its job store in the app's own database: exactly one scheduler runs."""

from __future__ import annotations

from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.config import Settings
from bot.reminders import run_nudges
from bot.storage.database import normalize_url

NUDGE_EVERY_MINUTES = 10


def build_scheduler(settings: Settings) -> AsyncIOScheduler:
    """Jobs: nudges every 10 minutes (they skip quiet hours themselves)."""
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
    return scheduler
