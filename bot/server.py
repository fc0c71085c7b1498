"""Running the bot for real: the web app (webhooks) and, without a public URL, long polling."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

import uvicorn

from bot.app import App
from bot.broadcasts import run_broadcasts
from bot.channels.telegram import TelegramChannel
from bot.channels.whatsapp import WhatsAppChannel
from bot.scheduler import build_scheduler
from bot.sync.runner import build_worker
from bot.web import create_web_app


async def serve_async(app: App) -> None:
    telegram = (
        TelegramChannel(app.settings, app.db, app.runner, app.media)
        if app.settings.telegram_bot_token
        else None
    )
    whatsapp = (
        WhatsAppChannel(app.settings, app.db, app.runner, app.media)
        if app.settings.twilio_account_sid and app.settings.twilio_auth_token
        else None
    )
    web = create_web_app(app, telegram, whatsapp)
    config = uvicorn.Config(
        web,
        host=app.settings.host,
        port=app.settings.port,
        log_level="info",
        lifespan="on",
        log_config=None,  # uvicorn's lines go through bot.logs (text or JSON) like ours
    )
    server = uvicorn.Server(config)
    stop = asyncio.Event()
    tasks = [asyncio.create_task(server.serve())]
    while not server.started and not tasks[0].done():  # the lifespan starts the channels
        await asyncio.sleep(0.05)
    if telegram is not None:
        tasks.append(asyncio.create_task(telegram.deliver_notices(stop)))
        if not app.settings.public_base_url:
            tasks.append(asyncio.create_task(telegram.poll(stop)))
    if whatsapp is not None:
        tasks.append(asyncio.create_task(whatsapp.deliver_notices(stop)))
    scheduler = build_scheduler(app.settings) if app.settings.run_scheduler else None
    if scheduler is not None:
        scheduler.start()
    if app.settings.run_scheduler:  # the process that schedules also sends broadcasts
        replies = telegram.replies if telegram is not None else None
        tasks.append(asyncio.create_task(run_broadcasts(app, stop, replies=replies)))
    worker = build_worker(app)
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run_forever(stop)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stopper(stop, server))
    await tasks[0]
    stop.set()
    if scheduler is not None:
        scheduler.shutdown(wait=False)
    for task in tasks[1:]:
        task.cancel()


def _stopper(stop: asyncio.Event, server: uvicorn.Server) -> Callable[[], None]:
    def handler() -> None:
        stop.set()
        server.should_exit = True

    return handler


def serve(app: App) -> None:
    asyncio.run(serve_async(app))
