"""HTTP app: platform webhooks and health, in one Starlette app."""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import SecretStr
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route

from bot.app import App
from bot.channels.payload import Malformed
from bot.channels.telegram_update import check_update, parse_json
from bot.channels.twilio_form import check_message, check_status
from bot.config import reveal
from bot.dashboard.app import create_dashboard
from bot.health import readiness
from bot.marketplace_events import Refused, check_batch, ingest, signature_ok
from bot.metrics import exposition

if TYPE_CHECKING:  # loaded by bot/server.py where the channel is set up
    from bot.channels.telegram import TelegramChannel
    from bot.channels.whatsapp import WhatsAppChannel

log = logging.getLogger(__name__)
TELEGRAM_MAX_BODY = 1024 * 1024  # an update is a few KB; a long text with entities, tens
TWILIO_MAX_BODY = 64 * 1024  # a WhatsApp message form is a few KB
MARKETPLACE_MAX_BODY = 2 * 1024 * 1024  # 500 events of well under 1 KB each
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
SHA256 = re.compile(r"[0-9a-f]{64}")
MEDIA_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


def refuse(status: int) -> Response:
    """An answer sent before the body was read: closing the connection stops the upload."""
    return Response(status_code=status, headers={"Connection": "close"})


async def read_limited(request: Request, limit: int) -> bytes | Response:
    """The body, streamed and never more than `limit` bytes kept; else the 4xx to answer."""
    declared = request.headers.get("Content-Length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        return refuse(413 if declared.isdigit() else 400)
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                return refuse(413)
    except ClientDisconnect:
        return Response(status_code=400)  # nobody is listening any more
    return bytes(body)


def secret_matches(given: str, *accepted: SecretStr | None) -> bool:
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
            return refuse(403)  # before reading a byte of the body
        body = await read_limited(request, TELEGRAM_MAX_BODY)
        if isinstance(body, Response):
            return body
        try:
            data = parse_json(body)
            update = check_update(data)
        except Malformed as problem:
            log.warning("refused a malformed Telegram update: %s", problem)
            return Response(status_code=400)
        await telegram.accept(data, update)  # stored durably before Telegram hears 200
        return Response(status_code=200)

    async def signed_form(request: Request) -> dict[str, str] | Response:
        """The form Twilio posted, or the answer when it is unsigned, forged or too big."""
        signature = request.headers.get("X-Twilio-Signature", "")
        if whatsapp is None or not signature:
            return refuse(403)  # before reading a byte of the body
        body = await read_limited(request, TWILIO_MAX_BODY)  # the signature covers the form
        if isinstance(body, Response):
            return body
        form = {k: v for k, v in parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)}
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return form if whatsapp.signature_ok(path, form, signature) else Response(status_code=403)

    async def whatsapp_webhook(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response) or whatsapp is None:
            return form if isinstance(form, Response) else refuse(403)
        try:
            check_message(form)
        except Malformed as problem:
            log.warning("refused a malformed Twilio message: %s", problem)
            return Response(status_code=400)
        await whatsapp.accept(form)  # stored durably before Twilio hears 200
        return Response(EMPTY_TWIML, media_type="application/xml")

    async def whatsapp_status(request: Request) -> Response:
        form = await signed_form(request)
        if isinstance(form, Response) or whatsapp is None:
            return form if isinstance(form, Response) else refuse(403)
        try:
            check_status(form)
        except Malformed as problem:
            log.warning("refused a malformed Twilio status callback: %s", problem)
            return Response(status_code=400)
        await whatsapp.record_status(form)
        return Response(status_code=204)

    async def marketplace_webhook(request: Request) -> Response:
        """The marketplace's signed event batches (contract v1.1): stored whole, then 200."""
        header = request.headers.get("Marketplace-Signature", "")
        settings = app.settings
        secrets = [
            reveal(s)
            for s in (
                settings.marketplace_webhook_secret,
                settings.marketplace_webhook_secret_previous,
            )
            if reveal(s)
        ]
        if not header or not secrets:
            return refuse(401)  # before reading a byte of the body
        body = await read_limited(request, MARKETPLACE_MAX_BODY)
        if isinstance(body, Response):
            return body
        if not signature_ok(header, body, secrets, time.time()):
            return Response(status_code=401)
        try:
            data = parse_json(body)
        except Malformed:
            data = None
        checked = check_batch(data)
        if isinstance(checked, Refused):
            log.warning("refused a marketplace batch: %s", checked.message)
            return JSONResponse(checked.as_json(), status_code=422)
        stored = await asyncio.to_thread(ingest, app.db, checked)
        if stored.unknown_products:
            log.warning("marketplace events for %d unknown products", len(stored.unknown_products))
        return JSONResponse(stored.as_json())

    async def media(request: Request) -> Response:
        """Stored photos, for WhatsApp to fetch when we send one (named by SHA-256).

        Never read as anything but a JPEG: no sniffing, and no script, style or frame even
        if a browser were talked into rendering one as a page."""
        sha = request.path_params["sha"]
        path = app.media.files.local_path(sha) if SHA256.fullmatch(sha) else None
        if path is None:
            return Response(status_code=404, headers=MEDIA_HEADERS)
        return FileResponse(path, media_type="image/jpeg", headers=MEDIA_HEADERS)

    dashboard = create_dashboard(app)

    async def warm_dashboard() -> None:
        try:
            await dashboard.state.warm()
        except Exception:  # the first visitor computes it instead
            log.warning("could not prepare the dashboard's overview", exc_info=True)

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        warming = asyncio.create_task(warm_dashboard())
        if telegram is not None:
            base = app.settings.public_base_url
            await telegram.start(f"{base.rstrip('/')}/telegram/webhook" if base else None)
        if whatsapp is not None:
            await whatsapp.start()
        try:
            yield
        finally:
            warming.cancel()
            if telegram is not None:
                await telegram.stop()
            if whatsapp is not None:
                await whatsapp.stop()

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
            Mount("/admin", app=dashboard),  # the web dashboard (bot/dashboard)
            Route("/marketplace/webhook", marketplace_webhook, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
