"""Running the bot for real: the web app (webhooks) and, without a public URL, long polling."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from typing import TYPE_CHECKING

import uvicorn

from bot import lifecycle
from bot.app import App
from bot.broadcasts import ReplyMeter, run_broadcasts
from bot.leader import Lease, Work, lead
from bot.scheduler import build_scheduler
from bot.sync.runner import build_worker
from bot.web import create_web_app

if TYPE_CHECKING:
    from bot.channels.telegram import TelegramChannel
    from bot.channels.whatsapp import WhatsAppChannel


async def serve_async(app: App) -> None:
    # A channel's module (python-telegram-bot with aiohttp, twilio) is loaded where it is set up.
    telegram: TelegramChannel | None = None
    if app.settings.telegram_bot_token:
        from bot.channels.telegram import TelegramChannel

        telegram = TelegramChannel(app.settings, app.db, app.runner, app.media)
    whatsapp: WhatsAppChannel | None = None
    if app.settings.twilio_account_sid and app.settings.twilio_auth_token:
        from bot.channels.whatsapp import WhatsAppChannel

        whatsapp = WhatsAppChannel(app.settings, app.db, app.runner, app.media)
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
    if app.settings.run_scheduler:  # one process of the deployment, elected by a lease
        replies = telegram.replies if telegram is not None else None
        tasks.append(asyncio.create_task(lead(Lease(app.db), _scheduled(app, replies), stop)))
    worker = build_worker(app)
    if worker is not None:
        tasks.append(asyncio.create_task(worker.run_forever(stop)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, _stopper(stop, server))
    await tasks[0]
    stop.set()
    if tasks[1:]:
        await asyncio.wait(tasks[1:], timeout=10)
    for task in tasks[1:]:
        task.cancel()


def _scheduled(app: App, replies: ReplyMeter | None) -> Work:
    """The leader's work: reminders on the scheduler, and due broadcasts."""

    async def work(resign: asyncio.Event) -> None:
        scheduler = build_scheduler(app.settings)
        scheduler.start()
        try:
            await run_broadcasts(app, resign, replies=replies)
            await resign.wait()
        finally:
            scheduler.shutdown(wait=False)

    return work


def _stopper(stop: asyncio.Event, server: uvicorn.Server) -> Callable[[], None]:
    def handler() -> None:
        stop.set()
        server.should_exit = True

    return handler


def serve(app: App) -> None:
    lifecycle.run(serve_async(app))
