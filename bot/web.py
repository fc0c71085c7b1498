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

from prometheus_client import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from bot.app import App
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.health import readiness, reveal
from bot.metrics import exposition

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SHA256 = re.compile(r"[0-9a-f]{64}")


def secret_matches(given: str, *accepted: object) -> bool:
    """The header is the current secret or, during a rotation, the previous one."""
    secrets = [reveal(s).encode() for s in accepted if reveal(s)]
    return bool(given) and any(hmac.compare_digest(given.encode(), s) for s in secrets)


def create_web_app(
    app: App, telegram: TelegramChannel | None = None, whatsapp: WhatsAppChannel | None = None
) -> Starlette:
    """The web app; channel start-up and shutdown ride on its lifespan."""

    async def live(_: Request) -> Response:
        """200 while the process answers (a supervisor restarts it otherwise)."""
        return JSONResponse({"ok": True})

    async def ready(_: Request) -> Response:
        """200 when this process can serve: the database answers, the schema is at the newest
        migration and the inbox backlog is under READY_MAX_BACKLOG; else 503 saying which
        check failed (a balancer takes us out)."""
        found = await asyncio.to_thread(readiness, app.db, app.settings.ready_max_backlog)
        if not found.ok:
            log.warning("not ready: %s", ", ".join(found.failed))
        return JSONResponse(found.as_json(), status_code=200 if found.ok else 503)

    async def metrics(_: Request) -> Response:
        """Prometheus text format: this process's counters and the database's gauges."""
        body = await asyncio.to_thread(exposition, app.db)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    async def telegram_webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        current, previous = (
            app.settings.telegram_webhook_secret,
            app.settings.telegram_webhook_secret_previous,
        )
        if telegram is None or not secret_matches(given, current, previous):
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
        """Stored photos, for WhatsApp to fetch when we send one (named by SHA-256)."""
        sha = request.path_params["sha"]
        if not SHA256.fullmatch(sha):
            return Response(status_code=404)
        path = app.media.path(sha)
        if not path.exists():
            return Response(status_code=404)
        return FileResponse(path, media_type="image/jpeg")

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
            Route("/health", ready),  # the older name of /health/ready
            Route("/health/live", live),
            Route("/health/ready", ready),
            Route("/metrics", metrics),
            Route("/telegram/webhook", telegram_webhook, methods=["POST"]),
            Route("/whatsapp/webhook", whatsapp_webhook, methods=["POST"]),
            Route("/whatsapp/status", whatsapp_status, methods=["POST"]),
            Route("/media/{sha}.jpg", media),
        ],
        lifespan=lifespan,
    )
