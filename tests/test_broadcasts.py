"""Broadcasts against the fake Telegram Bot API: rate, resume without doubles, opt-out, segments."""

from __future__ import annotations

import asyncio
import time

from sqlmodel import select
from telegram import Bot

from bot.app import App
from bot.broadcasts import (
    BroadcastSender,
    create_broadcast,
    delivery_counts,
    recipients,
    telegram_sender,
)
from bot.storage.models import Broadcast, ChannelAccount
from tests.conftest import Chat
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_registration import register

# Five times Telegram's real 25/s: fast enough for a test, slow enough that the test's own
# fake server (in this process) does not eat into the gaps being measured.
RATE = 125.0


def add_accounts(app: App, count: int, opted_out: set[int]) -> None:
    with app.db.session() as s:
        for n in range(count):
            s.add(
                ChannelAccount(
                    channel="telegram", external_id=str(10_000 + n), opted_out=n in opted_out
                )
            )


def sender(app: App, fake: FakeTelegram) -> BroadcastSender:
    bot = Bot(TOKEN, base_url=fake.base_url)
    return BroadcastSender(app.db, "telegram", telegram_sender(bot), rate=RATE)


async def run_for(app: App, fake: FakeTelegram, broadcast_id: int, seconds: float | None) -> None:
    stop = asyncio.Event()
    if seconds is not None:
        asyncio.get_running_loop().call_later(seconds, stop.set)
    await sender(app, fake).run(broadcast_id, stop)


def test_five_thousand_at_the_rate_resuming_without_doubles(app: App, fake: FakeTelegram) -> None:
    opted_out = set(range(0, 5000, 500))
    add_accounts(app, 5000, opted_out)
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis Sabtu ini!")
    asyncio.run(run_for(app, fake, broadcast_id, 3.0))  # the sender is stopped mid-way
    first = [at for m, _, at in fake.calls if m == "sendMessage"]
    assert 0 < len(first) < 4990
    asyncio.run(run_for(app, fake, broadcast_id, None))  # and started again
    sends = [(int(p["chat_id"]), at) for m, p, at in fake.calls if m == "sendMessage"]
    per_chat: dict[int, int] = {}
    for chat, _ in sends:
        per_chat[chat] = per_chat.get(chat, 0) + 1
    expected = {10_000 + n for n in range(5000) if n not in opted_out}
    assert set(per_chat) == expected and set(per_chat.values()) == {1}
    times = [at for _, at in sends]
    window = int(RATE)
    assert min(times[i + window] - times[i] for i in range(len(times) - window)) >= 0.99
    resumed = times[len(first) :]  # the bulk of it, sustained over ~20 s
    achieved = (len(resumed) - 1) / (resumed[-1] - resumed[0])
    assert abs(achieved - RATE) / RATE <= 0.05, achieved
    counts = delivery_counts(app.db, broadcast_id)
    assert counts == {"sent": 4990, "skipped_opted_out": 10}
    with app.db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "done"  # type: ignore[union-attr]


def test_rate_limit_is_waited_out(app: App, fake: FakeTelegram) -> None:
    add_accounts(app, 3, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Halo")
    fake.too_many["sendMessage"] = 1
    started = time.monotonic()
    asyncio.run(run_for(app, fake, broadcast_id, None))
    assert time.monotonic() - started >= 1.0
    assert delivery_counts(app.db, broadcast_id) == {"sent": 3}
    assert fake.methods().count("sendMessage:429") == 1


def test_segments(app: App) -> None:
    registered = Chat(app.runner, "tg-1", channel="telegram")
    registered.send("/start")
    registered.send("ya")
    registered.send("Sri")
    registered.send(contact_phone="+6281234567890", sender_phone="+6281234567890")
    for answer in ("Toko Segmen", "1", "sidoarjo", "lewati", "Jl. Segmen 1", "lewati", "simpan"):
        registered.send(answer)
    stalled = Chat(app.runner, "tg-2", channel="telegram")
    stalled.send("/start")
    stalled.send("ya")
    console = Chat(app.runner, "+6289999999999", phone="+6289999999999")
    register(console, shop="Toko Konsol")  # console owners get no broadcasts
    with app.db.session() as s:

        def ids(segment: str, value: str | None = None) -> list[str]:
            return [a.external_id for a in recipients(s, segment, value)]

        assert ids("everyone") == ["tg-1", "tg-2"]
        assert ids("no_product") == ["tg-1"]
        assert ids("stalled", "owner_name") == ["tg-2"]
        assert ids("regency", "3515") == ["tg-1"]
        assert ids("category", "makanan-minuman") == ["tg-1"]
        assert ids("regency", "3578") == []


def test_cli_preview_and_status(app: App) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    add_accounts(app, 50, {3})
    env = {
        **os.environ,
        "DATABASE_URL": app.settings.database_url,
        "MEDIA_DIR": str(app.settings.media_dir),
    }
    root = Path(__file__).resolve().parent.parent

    def cli(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "broadcast", *args],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr[-1000:]
        return done.stdout

    out = cli("create", "--segment", "everyone", "--text", "Halo semua", "--at", "2026-12-01T09:00")
    assert "49 recipients (1 opted out), about 2 s to send" in out
    assert "scheduled" in cli("status")
    with app.db.session() as s:
        broadcast = s.exec(select(Broadcast)).one()
    assert broadcast.send_at.hour == 2  # 09:00 WIB is 02:00 UTC


def test_killed_outright_and_restarted(app: App, fake: FakeTelegram) -> None:
    """`kill -9` mid-broadcast: the restart sends nobody twice, and only the few messages
    that were going out at that instant are left in doubt (`unknown`, never resent)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    add_accounts(app, 1000, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
    env = {
        **os.environ,
        "DATABASE_URL": app.settings.database_url,
        "MEDIA_DIR": str(app.settings.media_dir),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "BROADCAST_TELEGRAM_RATE": "100",
    }
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "bot.cli", "broadcast", "send"]

    def sent() -> list[int]:
        return [int(p["chat_id"]) for m, p, _ in fake.calls if m == "sendMessage"]

    first = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL)
    fake.wait_for(lambda: len(sent()) >= 300, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = len(sent())
    assert cut < 1000
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]

    chats = sent()
    assert len(chats) == len(set(chats))  # nobody twice
    counts = delivery_counts(app.db, broadcast_id)
    assert counts["sent"] + counts.get("unknown", 0) == 1000
    assert counts.get("unknown", 0) <= 8  # in flight + marked ahead at 100/s
    missed = {10_000 + n for n in range(1000)} - set(chats)
    assert len(missed) <= counts.get("unknown", 0)  # whoever was missed is reported
    with app.db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "done"  # type: ignore[union-attr]


def test_broadcast_makes_room_for_replies(app: App, fake: FakeTelegram) -> None:
    """Replies go first: while many owners are being answered, the broadcast slows down so
    that, once it has seen the load (within a second), the two together stay under
    Telegram's overall limit; the replies themselves are not held up."""
    from bot.broadcasts import Headroom
    from bot.channels.telegram import TelegramChannel
    from bot.conversation import Reply
    from tests.test_telegram import telegram_settings

    limit = 250.0
    settings = telegram_settings(app.settings, fake, telegram_max_messages_per_second=400)
    channel = TelegramChannel(settings, app.db, app.runner, app.media)
    add_accounts(app, 800, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
    bot = Bot(TOKEN, base_url=fake.base_url)
    headroom = Headroom(limit, channel.replies)
    broadcast = BroadcastSender(app.db, "telegram", telegram_sender(bot), 200, headroom=headroom)

    waited: list[float] = []

    async def reply(chat_id: int) -> None:
        asked = time.monotonic()
        await channel.send(chat_id, [Reply("Siap, Kak!")])
        waited.append(time.monotonic() - asked)

    async def replies() -> list[float]:
        """180 replies a second for two seconds, each in its own chat, as the inbox does."""
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
            _, started = await asyncio.gather(broadcast.run(broadcast_id), replies())
        finally:
            await channel.bot.shutdown()
        return started

    started = asyncio.run(main())
    assert sorted(waited)[int(len(waited) * 0.95)] < 0.25  # replies are not held up
    sends = sorted(
        (at, int(p["chat_id"]) >= 90_000) for m, p, at in fake.calls if m == "sendMessage"
    )
    # Windows of one second inside the second half of the burst: adapted by then.
    adapted = [at for at, _ in sends if started[180] <= at <= started[-1]]
    busiest = max(sum(1 for t in adapted[i:] if t < start + 1.0) for i, start in enumerate(adapted))
    assert busiest <= limit * 1.03, busiest  # under Telegram's limit, replies included
    during = [is_reply for at, is_reply in sends if started[180] <= at <= started[-1]]
    assert during.count(True) > 150 and 0 < during.count(False) < during.count(True)
    before = [at for at, is_reply in sends if not is_reply and at < started[0]]
    assert len(before) > 120  # near full speed (200/s) in the second before the replies
    assert delivery_counts(app.db, broadcast_id) == {"sent": 800}
