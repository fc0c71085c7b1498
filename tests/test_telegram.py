"""The Telegram channel against a fake Bot API on 127.0.0.1, webhook and polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot.app import App, build_app
from bot.channels.long_text import split_text
from bot.channels.telegram import TelegramChannel, to_html
from bot.config import Settings
from bot.storage.models import Conversation, InboundUpdate, ProcessedUpdate, Product, Seller
from bot.tls import tls_context
from bot.web import create_web_app
from tests import images
from tests.conftest import Chat
from tests.fake_telegram import TOKEN, FakeTelegram, Updates
from tests.served import Served, free_port, wait_answered

SECRET = "s3cret-token"


def telegram_settings(settings: Settings, fake: FakeTelegram, **extra: Any) -> Settings:
    values = {
        "telegram_bot_token": SecretStr(TOKEN),
        "telegram_api_base_url": fake.base_url,
        "telegram_api_file_url": fake.file_url,
        "telegram_webhook_secret": SecretStr(SECRET),
        "public_base_url": "https://pelapak.test",
        "port": free_port(),
        "inbox_settle_seconds": 0.05,
        "album_seconds": 0.5,
        "inbox_gap_hold_seconds": 0.2,  # the tests make update ids they never send
        **extra,
    }
    return settings.model_copy(update=values)


class Running(Served):
    """Our web app with the Telegram channel, on a loopback port."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.channel = TelegramChannel(app.settings, app.db, app.runner, app.media)
        super().__init__(create_web_app(app, self.channel), app.settings.port)
        self.url = f"{self.base}/telegram/webhook"

    def post(self, update: dict[str, Any], secret: str | None = SECRET) -> int:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return self.http.post(self.url, json=update, headers=headers).status_code


@pytest.fixture
def running(settings: Settings, fake: FakeTelegram) -> Iterator[Running]:
    app = build_app(telegram_settings(settings, fake))
    server = Running(app)
    yield server
    server.stop()
    app.close()


def say(running: Running, fake: FakeTelegram, update: dict[str, Any], chat: int) -> str:
    """Post an update and wait for the bot's answer(s); returns the last text."""
    before = len(fake.sent(chat))
    assert running.post(update) == 200
    fake.wait_for(lambda: len(fake.sent(chat)) > before)
    wait_answered(running.app.db)  # every reply of it sent
    last = fake.sent(chat)[-1]
    return str(last.get("text") or last.get("caption") or "")


@pytest.mark.any_backend
def test_webhook_without_the_secret_is_refused(running: Running, fake: FakeTelegram) -> None:
    owner = Updates(501)
    assert running.post(owner.text("/start"), secret=None) == 403
    assert running.post(owner.text("/start"), secret="wrong") == 403
    time.sleep(0.3)
    with running.app.db.session() as s:
        assert list(s.exec(select(InboundUpdate))) == []
    assert fake.sent() == []


@pytest.mark.any_backend
def test_start_up_registers_webhook_and_commands(running: Running, fake: FakeTelegram) -> None:
    [webhook] = [p for m, p, _ in fake.calls if m == "setWebhook"]
    assert webhook["url"] == "https://pelapak.test/telegram/webhook"
    assert webhook["secret_token"] == SECRET
    commands = [p for m, p, _ in fake.calls if m == "setMyCommands"]
    languages = {c.get("language_code") for c in commands}
    assert {"id", "en", None} <= languages
    english = next(c for c in commands if c.get("language_code") == "en")
    assert {"command": "cancel", "description": "Cancel what you are filling in"} in (
        english["commands"]
    )


def test_telegram_out_of_reach_at_start_up_is_retried_and_owners_are_answered(
    settings: Settings, fake: FakeTelegram, caplog: pytest.LogCaptureFixture
) -> None:
    """getMe failing (502) does not stop the service: the web app starts, an owner's message
    is stored and answered, and the webhook is set once Telegram answers again."""
    fake.down.add("getMe")
    app = build_app(telegram_settings(settings, fake))
    server = Running(app)  # the lifespan finished: the web app is up
    try:
        assert "not reachable" in caplog.text
        assert "setWebhook" not in fake.methods()
        owner = Updates(5301)
        assert server.post(owner.text("/start")) == 200
        fake.wait_for(lambda: len(fake.sent(5301)) >= 2)
        assert "Setuju?" in fake.sent(5301)[-1]["text"]
        fake.down.discard("getMe")
        fake.wait_for(lambda: "setWebhook" in fake.methods(), timeout=30)
        [webhook] = [p for m, p, _ in fake.calls if m == "setWebhook"]
        assert webhook["url"] == "https://pelapak.test/telegram/webhook"
    finally:
        server.stop()
        app.close()


def test_registration_and_product_over_the_webhook(running: Running, fake: FakeTelegram) -> None:
    owner = Updates(777, first_name="Sri")
    chat = 777
    assert "Setuju?" in say(running, fake, owner.text("/start ref-PDP01"), chat)
    assert "Siapa nama Kakak" in say(running, fake, owner.callback("yes"), chat)
    # the button is answered and its keyboard closed beside the reply, not before it
    fake.wait_for(lambda: {"answerCallbackQuery", "editMessageReplyMarkup"} <= set(fake.methods()))
    say(running, fake, owner.text("Sri Wahyuni"), chat)
    keyboard = fake.sent(chat)[-1]["reply_markup"]
    assert keyboard["keyboard"][0][0]["request_contact"] is True
    assert "nama toko" in say(running, fake, owner.contact("+62 812-3456-7890"), chat)
    say(running, fake, owner.text("Keripik Tempe Bu Sri"), chat)
    say(running, fake, owner.text("keripik"), chat)
    say(running, fake, owner.callback("yes"), chat)
    say(running, fake, owner.text("Sidoarjo"), chat)
    say(running, fake, owner.text("Waru"), chat)
    say(running, fake, owner.text("Jl. Raya Waru No. 12"), chat)
    summary = say(running, fake, owner.callback("__skip__"), chat)
    assert "<b>Simpan</b>" in summary
    assert "Kirim foto produknya" in say(running, fake, owner.callback("save"), chat)
    before = len(fake.sent(chat))
    album = [fake.add_file(images.sharp(seed)) for seed in (71, 72, 73)]
    for file_id in album:
        assert running.post(owner.photo(file_id, 200_000, group="album-1")) == 200
    fake.wait_for(lambda: len(fake.sent(chat)) > before)
    time.sleep(0.8)
    assert len(fake.sent(chat)) == before + 1  # one reply for the whole album
    assert "3 dari 5" in fake.sent(chat)[-1]["text"]
    for text in (
        "selesai",
        "Keripik Tempe Pedas",
        "ya",
        "25000",
        "50",
        "1",
        "250 gr",
        "baru",
        "pakai",
    ):
        reply = say(running, fake, owner.text(text), chat)
    assert fake.sent(chat)[-1]["_method"] == "sendPhoto"  # the summary shows the cover photo
    assert "Rp25.000" in reply
    say(running, fake, owner.callback("save"), chat)
    saved, more = (m["text"] for m in fake.sent(chat)[-2:])
    assert "sudah disimpan" in saved and "tambah produk lain" in more
    with running.app.db.session() as s:
        [seller] = s.exec(select(Seller))
        [product] = s.exec(select(Product))
    assert (seller.phone, seller.phone_verified, seller.referral_code) == (
        "+6281234567890",
        True,
        "ref-PDP01",
    )
    assert seller.source == "telegram"
    assert (product.price, product.stock, product.weight_grams, len(product.photos)) == (
        25000,
        50,
        250,
        3,
    )


def test_duplicate_update_processed_once(running: Running, fake: FakeTelegram) -> None:
    owner = Updates(888)
    update = owner.text("/start")
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda _: running.post(update), range(4)))
    assert codes == [200] * 4
    fake.wait_for(lambda: len(fake.sent(888)) >= 2)
    time.sleep(0.5)
    assert len(fake.sent(888)) == 2  # welcome + consent, once


@pytest.mark.slow
def test_fifty_concurrent_messages_from_one_owner_run_in_order(
    settings: Settings, fake: FakeTelegram
) -> None:
    """Updates that land within the settle window are processed in update_id order."""
    app = build_app(telegram_settings(settings, fake, inbox_settle_seconds=0.5))
    running = Running(app)
    try:
        _fifty_in_order(running, fake)
    finally:
        running.stop()
        app.close()


def _fifty_in_order(running: Running, fake: FakeTelegram) -> None:
    owner = Updates(999)
    updates = [owner.text(f"pesan {i}") for i in range(50)]
    with ThreadPoolExecutor(16) as pool:
        assert set(pool.map(running.post, updates)) == {200}

    def processed() -> list[ProcessedUpdate]:
        with running.app.db.session() as s:
            return list(
                s.exec(
                    select(ProcessedUpdate)
                    .where(ProcessedUpdate.channel == "telegram")
                    .order_by(col(ProcessedUpdate.id))
                )
            )

    fake.wait_for(lambda: len(processed()) >= 50, timeout=30)
    done = processed()
    order = [int(p.update_id) for p in done]
    assert len(order) == 50 and order == sorted(order)


def test_voice_note_gets_a_friendly_answer(running: Running, fake: FakeTelegram) -> None:
    owner = Updates(555)
    say(running, fake, owner.text("/start"), 555)
    say(running, fake, owner.voice(), 555)
    texts = [m["text"] for m in fake.sent(555)[-2:]]
    assert "pesan suara" in texts[0] and "Setuju?" in texts[1]


def test_rate_limit_429_is_waited_out(running: Running, fake: FakeTelegram) -> None:
    fake.too_many["sendMessage"] = 1
    owner = Updates(444)
    assert running.post(owner.text("/start")) == 200
    fake.wait_for(lambda: len(fake.sent(444)) >= 2, timeout=20)
    times = {m: at for m, _, at in fake.calls if m in ("sendMessage:429", "sendMessage")}
    assert "sendMessage:429" in fake.methods()
    assert times["sendMessage"] - times["sendMessage:429"] >= 0.9


def test_polling_mode(settings: Settings, fake: FakeTelegram) -> None:
    app = build_app(telegram_settings(settings, fake, public_base_url=None))
    owner = Updates(333)
    fake.updates.append(owner.text("/start"))
    server = Running(app)
    import asyncio

    stop = asyncio.Event()
    loop_thread = threading.Thread(
        target=lambda: asyncio.run(_poll_for(server.channel, stop, 3.0)), daemon=True
    )
    try:
        loop_thread.start()
        fake.wait_for(lambda: len(fake.sent(333)) >= 2)
        assert "deleteWebhook" in fake.methods()
    finally:
        loop_thread.join(timeout=10)
        server.stop()
        app.close()


async def _poll_for(channel: TelegramChannel, stop: Any, seconds: float) -> None:
    import asyncio

    task = asyncio.create_task(channel.poll(stop))
    await asyncio.sleep(seconds)
    stop.set()
    task.cancel()


@pytest.mark.slow
def test_a_crash_between_processing_and_sending_loses_no_reply(
    settings: Settings, fake: FakeTelegram
) -> None:
    """A real `pelapak run`, killed with SIGKILL after it processed an update but before
    Telegram took the replies, then started again: the replies go out, once."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "MEDIA_DIR": str(settings.media_dir),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_API_FILE_URL": fake.file_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PUBLIC_BASE_URL": "https://pelapak.test",
        "PORT": str(port),
        "OUTGOING_CLAIM_SECONDS": "2",  # how long a dead sender's claim holds its chat
        "INBOX_GAP_HOLD_SECONDS": "0.2",
    }
    root = Path(__file__).resolve().parent.parent
    command = [sys.executable, "-m", "bot.cli", "run"]
    fake.down.add("sendMessage")
    first = subprocess.Popen(
        command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    app = build_app(settings, migrate=False)
    try:
        _wait_up(port)
        owner = Updates(222)
        response = httpx.post(
            f"http://127.0.0.1:{port}/telegram/webhook",
            json=owner.text("/start"),
            headers={"X-Telegram-Bot-Api-Secret-Token": SECRET},
        )
        assert response.status_code == 200
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not _processed(app, "222"):
            time.sleep(0.05)
        assert _processed(app, "222")
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        app.close()
    assert fake.sent(222) == []  # it died before Telegram took a reply
    fake.down.discard("sendMessage")
    second = subprocess.Popen(
        command, env=env, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        fake.wait_for(lambda: len(fake.sent(222)) >= 2, timeout=30)
        time.sleep(1.0)
        texts = [m["text"] for m in fake.sent(222)]
        assert len(texts) == 2 and "Setuju?" in texts[-1]
    finally:
        second.terminate()
        second.wait(timeout=10)


def _processed(app: App, chat: str) -> bool:
    with app.db.read_session() as session:
        rows = session.exec(select(InboundUpdate).where(InboundUpdate.chat_key == chat)).all()
        return bool(rows) and all(r.processed_at is not None for r in rows)


def _wait_up(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (
                httpx.get(
                    f"http://127.0.0.1:{port}/health", timeout=1, verify=tls_context()
                ).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("pelapak run did not come up")


def test_long_text_is_split_and_bold_is_html() -> None:
    parts = split_text(("baris panjang " * 30 + "\n") * 40, 4096)
    assert len(parts) > 1 and all(len(p) <= 4096 for p in parts)
    assert to_html("Ketik *ya* <3 & tunggu") == "Ketik <b>ya</b> &lt;3 &amp; tunggu"


def test_a_failing_download_still_gets_the_owner_an_answer(
    running: Running, fake: FakeTelegram
) -> None:
    owner = Updates(666)
    say(running, fake, owner.text("/start"), 666)
    reply = say(running, fake, owner.photo("no-such-file", 1000), 666)  # the file is gone: 404
    assert "Fotonya sudah sampai" in fake.sent(666)[-2]["text"] and "Setuju?" in reply


def _conversations(app: App) -> list[tuple[Any, ...]]:
    with app.db.session() as s:
        return [
            (c.account_id, c.flow, c.step, c.draft, c.meta, c.version)
            for c in s.exec(select(Conversation).order_by(col(Conversation.id)))
        ]


def test_group_chats_get_only_a_pointer_to_the_private_chat(
    settings: Settings, fake: FakeTelegram
) -> None:
    """/data_saya in a group never shows the owner's data there, nor touches their chat."""
    app = build_app(telegram_settings(settings, fake, telegram_bot_username="PelapakBot"))
    running = Running(app)
    try:
        owner = Chat(app.runner, "4242", channel="telegram")
        for answer in ("/start", "ya", "Sri Wahyuni"):
            owner.send(answer)
        owner.send(contact_phone="+6281234567890", sender_phone="+6281234567890")
        for answer in ("Keripik Bu Sri", "1", "sidoarjo", "lewati", "Jl. Raya Waru 1", "lewati"):
            owner.send(answer)
        owner.send("simpan")
        owner.send("/data_saya")
        assert "Sri Wahyuni" in owner.text  # in the private chat, the data is shown
        before = _conversations(app)
        group = {"id": -1001234, "type": "supergroup", "title": "Paguyuban UMKM Waru"}
        person = Updates(4242)
        person.chat = group
        stranger = Updates(4343)
        stranger.chat = group
        for update in (
            person.text("/data_saya"),
            person.text("/data_saya@PelapakBot"),
            person.text("halo semua, ini alamat saya Jl. Raya Waru 1"),
            stranger.text("@PelapakBot tolong daftarkan saya"),
            person.callback("edit"),
        ):
            assert running.post(update) == 200
        fake.wait_for(lambda: len(fake.sent(-1001234)) >= 1)
        time.sleep(0.6)  # anything else would have been sent by now
        [pointer] = fake.sent()  # one message in all, to the group, once
        assert int(pointer["chat_id"]) == -1001234
        assert "https://t.me/PelapakBot" in pointer["text"]
        for private in ("Sri", "0812", "812-3456", "Waru", "Keripik"):
            assert private not in pointer["text"]
        assert _conversations(app) == before
        with app.db.session() as s:
            assert all(  # only their numbers, so the private updates after them need not wait
                u.payload == {} and u.chat_key == "" and u.processed_at is not None
                for u in s.exec(select(InboundUpdate))
            )
            assert list(s.exec(select(ProcessedUpdate))) == []
    finally:
        running.stop()
        app.close()
