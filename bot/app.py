"""Composition root: builds settings, database, media store and runner. Nothing at import time."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.logs import configure as configure_logging
from bot.media import MediaStore
from bot.storage.database import Database

if TYPE_CHECKING:
    from bot.conversation import ConversationRunner


@dataclass
class App:
    settings: Settings
    db: Database
    media: MediaStore

    @cached_property
    def runner(self) -> ConversationRunner:
        """The conversations, built when first asked for: the commands that never chat
        (`db upgrade`, `worker`, `broadcast status`) do not load the flows."""
        from bot.conversation import ConversationRunner

        return ConversationRunner(self.db, self.settings)

    def close(self) -> None:
        self.db.dispose()


def build_app(settings: Settings | None = None, migrate: bool = True) -> App:
    """Wire the parts together; migrates the database to the newest schema."""
    settings = settings or Settings()
    configure_logging(settings.log_format)
    # One line per HTTP call (with URLs that carry tokens) is noise, and a leak risk.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # Below these levels the platform clients log request URLs (the Twilio Account SID, the
    # Telegram token), the owner's number and what was sent: personal data and secrets.
    for name in ("twilio", "twilio.http_client", "urllib3", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    logging.getLogger("telegram").setLevel(logging.INFO)
    db = Database(settings.database_url)
    if migrate:
        db.migrate()
    media = MediaStore(
        settings.media_dir,
        db,
        max_bytes=settings.max_upload_bytes,
        concurrency=settings.photo_concurrency,
    )
    return App(settings=settings, db=db, media=media)
