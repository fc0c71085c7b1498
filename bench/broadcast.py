"""Broadcast pacing against the fake Telegram Bot API, on the wall clock.

Run: `make bench-broadcast` (or `.venv/bin/python bench/broadcast.py [recipients] [rate]`).
Reports the sustained rate, the busiest second, and, with 180 replies/s sent during a 200/s
broadcast under a 250/s overall limit, how long replies waited and whether the two together
stayed under the limit. The tests check the pacing with a virtual clock; this measures it.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_app
from bot.broadcasts import BroadcastSender, Headroom, create_broadcast, telegram_sender
from bot.channels.telegram import TelegramChannel
from bot.channels.telegram_api import BotAPI
from bot.config import Settings
from bot.conversation import Reply
from bot.storage.models import ChannelAccount
from tests.fake_telegram import TOKEN, FakeTelegram


def _app(count: int) -> object:
    folder = Path(tempfile.mkdtemp())
    app = build_app(
        Settings(
            _env_file=None, database_url=f"sqlite:///{folder}/b.db", media_dir=folder / "media"
        )
    )
    with app.db.session() as s:
        for n in range(count):
            s.add(ChannelAccount(channel="telegram", external_id=str(10_000 + n)))
    return app


def _busiest(times: list[float]) -> int:
    return max(sum(1 for t in times[i:] if t < start + 1.0) for i, start in enumerate(times))


def steady(count: int, rate: float) -> None:
    app = _app(count)
    fake = FakeTelegram()
    try:
        broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
        api = BotAPI(TOKEN, fake.base_url)
        sender = BroadcastSender(app.db, "telegram", telegram_sender(api), rate, close=api.close)
        asyncio.run(sender.run(broadcast_id))
        times = sorted(at for m, _, at in fake.calls if m == "sendMessage")
        achieved = (len(times) - 1) / (times[-1] - times[0])
        print(f"steady: {len(times)} messages at {rate:.0f}/s asked: {achieved:.1f}/s sustained,")
        print(f"        busiest second {_busiest(times)} messages")
    finally:
        fake.close()


def with_replies() -> None:
    app = _app(800)
    fake = FakeTelegram()
    try:
        settings = Settings(
            _env_file=None,
            database_url=app.settings.database_url,  # type: ignore[attr-defined]
            media_dir=app.settings.media_dir,  # type: ignore[attr-defined]
            telegram_bot_token=TOKEN,
            telegram_api_base_url=fake.base_url,
            telegram_max_messages_per_second=400,
        )
        channel = TelegramChannel(settings, app.db, app.runner, app.media)  # type: ignore[attr-defined]
        broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
        api = BotAPI(TOKEN, fake.base_url)
        headroom = Headroom(250, channel.replies)
        sender = BroadcastSender(
            app.db, "telegram", telegram_sender(api), 200, headroom=headroom, close=api.close
        )
        waited: list[float] = []

        async def reply(chat_id: int) -> None:
            asked = time.monotonic()
            await channel.send(chat_id, [Reply("Siap, Kak!")])
            waited.append(time.monotonic() - asked)

        async def replies() -> list[float]:
            await asyncio.sleep(1.0)
            started: list[float] = []
            tasks = []
            for n in range(360):
                started.append(time.monotonic())
                tasks.append(asyncio.create_task(reply(90_000 + n)))
                await asyncio.sleep(max(0.0, started[0] + (n + 1) / 180 - time.monotonic()))
            await asyncio.gather(*tasks)
            return started

        async def main() -> list[float]:
            await channel.bot.initialize()
            try:
                _, started = await asyncio.gather(sender.run(broadcast_id), replies())
            finally:
                await channel.api.close()
                await channel.bot.shutdown()
            return started

        started = asyncio.run(main())
        sends = sorted(at for m, _, at in fake.calls if m == "sendMessage")
        adapted = [at for at in sends if started[180] <= at <= started[-1]]
        p95 = sorted(waited)[int(len(waited) * 0.95)]
        print(
            f"replies: 180/s during a 200/s broadcast, limit 250/s: reply p95 {p95 * 1000:.0f} ms,"
        )
        print(f"         busiest second once adapted {_busiest(adapted)} messages (limit 250)")
    finally:
        fake.close()


if __name__ == "__main__":
    recipients = int(sys.argv[1]) if len(sys.argv) > 1 else 3000
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 125.0
    steady(recipients, rate)
    with_replies()
