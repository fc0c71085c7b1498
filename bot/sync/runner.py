"""Building the sync worker from settings, and the admin alert it raises."""

from __future__ import annotations

import logging

import httpx

from bot.app import App
from bot.config import reveal
from bot.i18n import Renderer
from bot.sync.client import MarketplaceClient
from bot.sync.worker import SyncWorker
from flows.messages import t

log = logging.getLogger(__name__)


def build_worker(app: App) -> SyncWorker | None:
    """The worker for MARKETPLACE_API_URL, or None when no marketplace is configured."""
    settings = app.settings
    if not settings.marketplace_api_url:
        return None
    client = MarketplaceClient(
        settings.marketplace_api_url,
        reveal(settings.marketplace_api_key),
        timeout=settings.sync_timeout_seconds,
        pool_size=settings.sync_concurrency,
    )

    def alert_admins(reason: str) -> None:
        """Tell admins on Telegram that pushing is paused (credentials refused)."""
        if not (settings.telegram_bot_token and settings.admin_telegram_ids):
            return
        text = Renderer(settings.default_locale, settings.timezone)(
            t("sync.admin_unauthorized", reason=reason)
        )
        token = reveal(settings.telegram_bot_token)
        url = f"{settings.telegram_api_base_url}{token}/sendMessage"
        for admin in settings.admin_telegram_ids:
            try:
                httpx.post(url, data={"chat_id": admin, "text": text}, timeout=10)
            except httpx.HTTPError:
                log.warning("could not alert admin %s", admin)

    return SyncWorker(
        app.db,
        app.media,
        client,
        concurrency=settings.sync_concurrency,
        on_unauthorized=alert_admins,
    )
