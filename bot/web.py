"""HTTP app: platform webhooks and health, in one Starlette app."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.app import App
from bot.channels.telegram import TelegramChannel

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024


def create_web_app(app: App, telegram: TelegramChannel | None = None) -> Starlette:
    """The web app; channel start-up and shutdown ride on its lifespan."""

    async def health(_: Request) -> Response:
        return JSONResponse({"ok": True})

    async def telegram_webhook(request: Request) -> Response:
        secret = app.settings.telegram_webhook_secret or ""
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if telegram is None or not secret or not hmac.compare_digest(given, secret):
            return Response(status_code=403)
        body = await request.body()
        if len(body) > MAX_BODY:
            return Response(status_code=413)
        try:
            data = json.loads(body)
        except ValueError:
            return Response(status_code=400)
        if not isinstance(data, dict):
            return Response(status_code=400)
        await telegram.accept(data)  # stored durably before Telegram hears 200
        return Response(status_code=200)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if telegram is not None:
            base = app.settings.public_base_url
            await telegram.start(f"{base.rstrip('/')}/telegram/webhook" if base else None)
        try:
            yield
        finally:
            if telegram is not None:
                await telegram.stop()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
