"""Broadcasts against the fake Telegram Bot API: rate, resume without doubles, opt-out, segments."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner, Result

from bot.app import App
from bot.broadcasts import (
    BroadcastSender,
    Headroom,
    ReplyMeter,
    SendResult,
    Sent,
    Wait,
    _Run,
    create_broadcast,
    delivery_counts,
    recipients,
    telegram_sender,
)
from bot.channels.telegram_api import BotAPI
from bot.cli import app as cli
from bot.storage.models import Admin, Broadcast, ChannelAccount, Seller
from tests.conftest import Chat
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.test_registration import register

# Five times Telegram's real 25/s: fast enough for a test, slow enough that the test's own
# fake server (in this process) does not eat into the gaps being measured.
RATE = 125.0


def add_accounts(app: App, count: int, opted_out: set[int]) -> None:
    """Registered owners (a broadcast reaches only people who agreed to Pelapak)."""
    with app.db.session() as s:
        for n in range(count):
            seller = Seller(owner_name=f"Owner {n}", status="active")
            s.add(seller)
            s.flush()
            s.add(
                ChannelAccount(
                    channel="telegram",
                    external_id=str(10_000 + n),
                    opted_out=n in opted_out,
                    seller_id=seller.id,
                )
            )


def sender(app: App, fake: FakeTelegram, **options: Any) -> BroadcastSender:
    api = BotAPI(TOKEN, fake.base_url)
    options.setdefault("rate", RATE)
    return BroadcastSender(app.db, "telegram", telegram_sender(api), close=api.close, **options)


async def run_until(app: App, fake: FakeTelegram, broadcast_id: int, sent: int | None) -> None:
    """Run the sender, stopping it once `sent` messages reached Telegram (None: to the end)."""
    stop = asyncio.Event()

    async def watch() -> None:
        while sent is not None and fake.methods().count("sendMessage") < sent:
            await asyncio.sleep(0.01)
        stop.set()

    watcher = asyncio.create_task(watch()) if sent is not None else None
    await sender(app, fake).run(broadcast_id, stop)
    if watcher is not None:
        watcher.cancel()


@pytest.mark.slow
def test_stopped_mid_way_resumes_without_doubles(app: App, fake: FakeTelegram) -> None:
    opted_out = set(range(0, 500, 50))
    add_accounts(app, 500, opted_out)
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis Sabtu ini!")
    asyncio.run(run_until(app, fake, broadcast_id, 100))  # the sender is stopped mid-way
    first = [at for m, _, at in fake.calls if m == "sendMessage"]
    assert 0 < len(first) < 490
    asyncio.run(run_until(app, fake, broadcast_id, None))  # and started again
    sends = [(int(p["chat_id"]), at) for m, p, at in fake.calls if m == "sendMessage"]
    per_chat: dict[int, int] = {}
    for chat, _ in sends:
        per_chat[chat] = per_chat.get(chat, 0) + 1
    expected = {10_000 + n for n in range(500) if n not in opted_out}
    assert set(per_chat) == expected and set(per_chat.values()) == {1}
    counts = delivery_counts(app.db, broadcast_id)
    assert counts == {"sent": 490, "skipped_opted_out": 10}
    with app.db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "done"  # type: ignore[union-attr]


def test_rate_limit_is_waited_out(app: App, fake: FakeTelegram) -> None:
    add_accounts(app, 3, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Halo")
    fake.too_many["sendMessage"] = 1
    clock = VirtualClock()
    paced = sender(app, fake, clock=clock, sleep=clock.sleep)
    started = clock()
    asyncio.run(paced.run(broadcast_id))
    assert clock() - started >= 1.0, fake.methods()  # retry_after waited out, on its clock
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


@pytest.mark.any_backend  # the segments' queries on both: test_segments
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

    out = cli("create", "--segment", "everyone", "--text", "Halo semua", "--at", "2036-12-01T09:00")
    assert "49 recipients (1 opted out), about 2 s to send" in out
    assert "scheduled" in cli("status")
    with app.db.session() as s:
        broadcast = s.exec(select(Broadcast)).one()
    assert broadcast.send_at.hour == 2  # 09:00 WIB is 02:00 UTC


@pytest.mark.slow
def test_killed_outright_and_restarted(app: App, fake: FakeTelegram) -> None:
    """`kill -9` mid-broadcast: the restart sends nobody twice, and only the few messages
    that were going out at that instant are left in doubt (`unknown`, never resent)."""
    import os
    import signal
    import subprocess
    import sys
    from pathlib import Path

    add_accounts(app, 400, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
    env = {
        **os.environ,
        "DATABASE_URL": app.settings.database_url,
        "MEDIA_DIR": str(app.settings.media_dir),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "BROADCAST_TELEGRAM_RATE": "200",  # 2 s for all: the kill comes after ~100
    }
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "bot.cli", "broadcast", "send"]

    def sent() -> list[int]:
        # (a request cut off by the kill may reach the fake without its fields)
        return [
            int(p["chat_id"]) for m, p, _ in fake.calls if m == "sendMessage" and "chat_id" in p
        ]

    first = subprocess.Popen(command, env=env, cwd=root, stdout=subprocess.DEVNULL)
    fake.wait_for(lambda: len(sent()) >= 100, timeout=60)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    cut = len(sent())
    assert cut < 400
    done = subprocess.run(command, env=env, cwd=root, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr[-1000:]

    chats = sent()
    assert len(chats) == len(set(chats))  # nobody twice
    counts = delivery_counts(app.db, broadcast_id)
    assert counts["sent"] + counts.get("unknown", 0) == 400
    # only what was in flight (at most MAX_IN_FLIGHT at once) and marked ahead is in doubt
    assert counts.get("unknown", 0) <= _Run.MAX_IN_FLIGHT + 2
    missed = {10_000 + n for n in range(400)} - set(chats)
    assert len(missed) <= counts.get("unknown", 0)  # whoever was missed is reported
    with app.db.session() as s:
        assert s.get(Broadcast, broadcast_id).status == "done"  # type: ignore[union-attr]


class VirtualClock:
    """Time that passes only when the sender sleeps: pacing checked without a wall clock."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)


@pytest.mark.any_backend  # pacing; claims on both: the stop and kill tests
def test_starts_keep_to_the_grid_2_percent_under_the_rate(app: App) -> None:
    """Every second holds at most `rate` starts, and the run keeps within 2% of the rate."""
    add_accounts(app, 1000, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
    clock = VirtualClock()
    starts: list[float] = []

    async def send(account: ChannelAccount, text: str) -> SendResult:
        starts.append(clock())
        return Sent()

    paced = BroadcastSender(app.db, "telegram", send, rate=RATE, clock=clock, sleep=clock.sleep)
    assert asyncio.run(paced.run(broadcast_id)) == {"sent": 1000}
    window = int(RATE)
    spans = [starts[i + window] - starts[i] for i in range(len(starts) - window)]
    assert min(spans) >= 1.0  # never more than RATE starts in any second
    achieved = (len(starts) - 1) / (starts[-1] - starts[0])
    assert RATE / 1.03 <= achieved <= RATE, achieved


def test_a_429_moves_every_later_start_back(app: App) -> None:
    add_accounts(app, 20, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Halo!")
    clock = VirtualClock()
    starts: list[float] = []
    told_to_wait = [False]

    async def send(account: ChannelAccount, text: str) -> SendResult:
        starts.append(clock())
        if len(starts) == 5 and not told_to_wait[0]:
            told_to_wait[0] = True
            return Wait(3.0)
        return Sent()

    paced = BroadcastSender(app.db, "telegram", send, rate=10, clock=clock, sleep=clock.sleep)
    assert asyncio.run(paced.run(broadcast_id)) == {"sent": 20}
    assert len(starts) == 21  # the refused one went again
    assert starts[5] - starts[4] >= 3.0  # nothing started during the wait


def test_headroom_leaves_the_limit_to_replies() -> None:
    """The broadcast's gap widens with the replies of the last second, and stops at the limit."""
    clock = VirtualClock()
    replies = ReplyMeter(clock=clock)
    paced = BroadcastSender(
        None,  # type: ignore[arg-type]  # pacing only: no database needed
        "telegram",
        telegram_sender(None),  # type: ignore[arg-type]
        rate=200,
        headroom=Headroom(250, replies),
        clock=clock,
    )
    assert paced.current_interval() == pytest.approx(1.02 / 200)
    for _ in range(180):
        replies.note()
    assert paced.current_interval() == pytest.approx(1.02 / 70)  # 250 - 180 replies
    for _ in range(70):
        replies.note()
    assert paced.current_interval() is None  # replies use it all: they go first
    clock.now += 1.01
    assert paced.current_interval() == pytest.approx(1.02 / 200)  # a second later: back


def test_broadcast_and_replies_together_over_the_fake_bot_api(app: App, fake: FakeTelegram) -> None:
    """Replies sent while a broadcast runs all arrive, and the broadcast still reaches everyone
    exactly once. (How fast either goes is measured by `make bench-broadcast`.)"""
    from bot.channels.telegram import TelegramChannel
    from bot.conversation import Reply
    from tests.test_telegram import telegram_settings

    settings = telegram_settings(app.settings, fake, telegram_max_messages_per_second=400)
    channel = TelegramChannel(settings, app.db, app.runner, app.media)
    add_accounts(app, 200, set())
    broadcast_id = create_broadcast(app.db, "everyone", "Pelatihan foto produk gratis!")
    broadcast = sender(app, fake, rate=200, headroom=Headroom(250, channel.replies))

    async def replies() -> None:
        await asyncio.gather(*(channel.send(90_000 + n, [Reply("Siap, Kak!")]) for n in range(60)))

    async def main() -> None:
        await channel.bot.initialize()
        try:
            await asyncio.gather(broadcast.run(broadcast_id), replies())
        finally:
            await channel.api.close()
            await channel.bot.shutdown()

    asyncio.run(main())
    chats = [int(p["chat_id"]) for m, p, _ in fake.calls if m == "sendMessage"]
    assert sorted(c for c in chats if c >= 90_000) == list(range(90_000, 90_060))
    broadcast_chats = [c for c in chats if c < 90_000]
    assert len(broadcast_chats) == len(set(broadcast_chats)) == 200
    assert delivery_counts(app.db, broadcast_id) == {"sent": 200}


def test_cli_refuses_an_empty_text_and_a_past_time_and_shows_wib(
    app: App, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("MEDIA_DIR", str(app.settings.media_dir))
    monkeypatch.setenv("COLUMNS", "200")
    terminal = CliRunner()

    def create(*args: str) -> Result:
        return terminal.invoke(cli, ["broadcast", "create", "--segment", "everyone", *args])

    for text in ("", "   ", "\n\t", "x" * 4001):
        refused = create("--text", text)
        assert refused.exit_code == 2, text
        assert "text" in refused.output
    past = create("--text", "Halo", "--at", "2020-01-01T09:00")
    assert past.exit_code == 2 and "past" in past.output
    assert broadcasts_stored(app) == []
    done = create("--text", "Halo semua", "--at", "2036-12-01T09:00")
    assert done.exit_code == 0, done.output
    done = terminal.invoke(
        cli, ["broadcast", "create", "--segment", "regency:3515", "--text", "Halo Sidoarjo"]
    )
    assert done.exit_code == 0, done.output
    status = terminal.invoke(cli, ["broadcast", "status"])
    assert status.exit_code == 0, status.output
    assert "2036-12-01 09:00 WIB" in status.output  # stored as 02:00 UTC, shown in WIB
    assert "everyone:" not in status.output
    assert "regency:3515" in status.output


def broadcasts_stored(app: App) -> list[Broadcast]:
    with app.db.session() as s:
        return list(s.exec(select(Broadcast)))


def test_only_people_who_agreed_are_reached(app: App) -> None:
    """Someone who declined, someone who erased their data and an admin get no broadcast."""
    declined = Chat(app.runner, "tg-20", channel="telegram")
    declined.send("/start")
    declined.send("gak mau kak")
    erased = Chat(app.runner, "tg-21", channel="telegram")
    register(erased)
    erased.send("/hapus_data")
    erased.send("Ya, hapus")
    halfway = Chat(app.runner, "tg-22", channel="telegram")
    halfway.send("/start")
    halfway.send("ya")  # agreed, still registering
    owner = Chat(app.runner, "tg-23", channel="telegram")
    register(owner)
    with app.db.session() as s:
        s.add(Admin(channel="telegram", external_id="tg-23"))
        reached = {a.external_id for a in recipients(s, "everyone", None)}
    assert reached == {"tg-22"}
