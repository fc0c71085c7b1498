"""HTTP app: platform webhooks and health, in one Starlette app."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SHA256 = re.compile(r"[0-9a-f]{64}")
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def create_web_app(
    app: App, telegram: TelegramChannel | None = None, whatsapp: WhatsAppChannel | None = None
) -> Starlette:
    """The web app; channel start-up and shutdown ride on its lifespan."""

    def database_answers() -> bool:
        try:
            with app.db.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
            return True
        except Exception:
            log.warning("health: the database does not answer", exc_info=True)
            return False

    async def health(_: Request) -> Response:
        """200 while the database answers, 503 when it does not (a balancer takes us out)."""
        ok = await asyncio.to_thread(database_answers)
        return JSONResponse({"ok": ok, "database": ok}, status_code=200 if ok else 503)

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

    async def signed_form(request: Request) -> dict[str, str] | None:
        """The form Twilio posted, or None when the signature does not match."""
        if whatsapp is None:
            return None
        body = await request.body()
        if len(body) > MAX_BODY:
            return None
        form = {k: v for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)}
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        signature = request.headers.get("X-Twilio-Signature", "")
        return form if whatsapp.signature_ok(path, form, signature) else None

    async def whatsapp_webhook(request: Request) -> Response:
        form = await signed_form(request)
        if form is None or whatsapp is None:
            return Response(status_code=403)
        await whatsapp.accept(form)  # stored durably before Twilio hears 200
        return Response(EMPTY_TWIML, media_type="application/xml")

    async def whatsapp_status(request: Request) -> Response:
        form = await signed_form(request)
        if form is None or whatsapp is None:
            return Response(status_code=403)
        await whatsapp.record_status(form)
        return Response(status_code=204)

    async def media(request: Request) -> Response:
        """Stored photos, for WhatsApp to fetch when we send one (named by SHA-256).

        Never read as anything but a JPEG: no sniffing, and no script, style or frame even
        if a browser were talked into rendering one as a page."""
        sha = request.path_params["sha"]
        path = app.media.path(sha) if SHA256.fullmatch(sha) else None
        if path is None or not path.exists():
            return Response(status_code=404, headers=MEDIA_HEADERS)
        return FileResponse(path, media_type="image/jpeg", headers=MEDIA_HEADERS)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        if telegram is not None:
            base = app.settings.public_base_url
            await telegram.start(f"{base.rstrip('/')}/telegram/webhook" if base else None)
        if whatsapp is not None:
            await whatsapp.inbox.recover()
        try:
            yield
        finally:
            if telegram is not None:
                await telegram.stop()
            if whatsapp is not None:
                await whatsapp.inbox.close()

    return Starlette(
        routes=[
            Route("/health", health),
            Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
            Route("/whatsapp/webhook", whatsapp_webhook, methods=["POST"]),
            Route("/whatsapp/status", whatsapp_status, methods=["POST"]),
            Route("/media/{sha}.jpg", media),
        ],
        lifespan=lifespan,
    )
