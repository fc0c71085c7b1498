"""Admins: /siaran on Telegram (segment, text, preview with count and time, now or later)
and `pelapak admin add` / `pelapak facilitator add` from the terminal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from bot.app import App, build_app
from bot.cli import app as cli
from bot.config import Settings
from bot.conversation import ConversationRunner
from bot.roles import add_facilitator
from bot.storage.models import Admin, Broadcast, ChannelAccount, Facilitator
from flows.admin import parse_send_time
from tests.conftest import Chat, Clock
from tests.fake_telegram import FakeTelegram, Updates
from tests.test_telegram import Running as TelegramRunning
from tests.test_telegram import say as telegram_say
from tests.test_telegram import telegram_settings

ADMIN_ID = "424242"


def owner_on_telegram(app: App, user: str, phone: str, shop: str, regency: str) -> None:
    chat = Chat(app.runner, user, channel="telegram")
    chat.send("/start")
    chat.send("ya")
    chat.send("Sri Rahayu")
    chat.send(contact_phone=phone, sender_phone=phone)
    for answer in (shop, "1", regency, "lewati", "Jl. Siaran 1", "lewati", "simpan"):
        chat.send(answer)
    assert "sudah terdaftar" in chat.text


@pytest.fixture
def admin(app: App, clock: Clock) -> Chat:
    settings = app.settings.model_copy(
        update={"admin_telegram_ids": [int(ADMIN_ID)], "broadcast_telegram_rate": 1.0}
    )
    runner = ConversationRunner(app.db, settings, clock=clock)
    return Chat(runner, ADMIN_ID, channel="telegram")


def broadcasts(app: App) -> list[Broadcast]:
    with app.db.session() as s:
        return list(s.exec(select(Broadcast).order_by(Broadcast.id)))


def test_siaran_to_a_regency_now(app: App, admin: Chat, clock: Clock) -> None:
    owner_on_telegram(app, "501", "+6281200000501", "Toko Satu", "sidoarjo")
    owner_on_telegram(app, "502", "+6281200000502", "Toko Dua", "sidoarjo")
    owner_on_telegram(app, "503", "+6281200000503", "Toko Tiga", "kota malang")
    admin.send("/start")
    assert "Kirim siaran" in [label for r in admin.replies for _, label in r.choices]
    admin.send("/siaran")
    assert "untuk siapa" in admin.last
    admin.send("4")
    assert "Kabupaten atau kota" in admin.last
    admin.send("sidoarjo")
    assert "Tulis pesannya" in admin.last
    admin.send("hai")
    assert "terlalu pendek" in admin.last
    admin.send("Kak, yuk tambah produk hari ini!")
    admin.send("kapan-kapan")
    assert "belum terbaca" in admin.last
    admin.send("sekarang")
    preview = admin.last
    assert "Pemilik di Kabupaten Sidoarjo".lower() in preview.lower()
    assert "Penerima: 2 orang" in preview
    assert "sekitar 2 detik" in preview  # 2 recipients at the 1/s configured here
    assert "Kak, yuk tambah produk hari ini!" in preview and "sekarang" in preview
    assert broadcasts(app) == []  # nothing until confirmed
    admin.send("ya")
    assert "mulai dikirim" in admin.last
    [broadcast] = broadcasts(app)
    assert (broadcast.segment, broadcast.segment_value) == ("regency", "3515")
    assert broadcast.text == "Kak, yuk tambah produk hari ini!"
    assert broadcast.send_at <= clock.now + timedelta(seconds=1)


def test_siaran_scheduled_to_a_stalled_step_with_an_edit(
    app: App, admin: Chat, clock: Clock
) -> None:
    stalled = Chat(app.runner, "601", channel="telegram")
    stalled.send("/start")
    stalled.send("ya")  # consented, then stopped at the owner's name
    admin.send("/siaran")
    admin.send("3")
    assert "Berhenti di langkah apa" in admin.last
    admin.choose("Nama pemilik")
    admin.send("Kak, tinggal sedikit lagi tokonya jadi. Balas pesan ini untuk lanjut.")
    admin.send("besok 9.00")
    assert "Penerima: 1 orang" in admin.last and "29" in admin.last
    admin.send("ubah waktu kirim")
    admin.send("27/11 08:30")  # a day that has passed: said so, not sent a year later
    assert "sudah lewat" in admin.last and "Contoh" in admin.last
    admin.send("30/11 08:30")
    assert "30" in admin.last and "Penerima: 1 orang" in admin.last
    admin.choose("Simpan")
    assert "dijadwalkan" in admin.last
    [broadcast] = broadcasts(app)
    assert (broadcast.segment, broadcast.segment_value) == ("stalled", "owner_name")
    assert broadcast.send_at == datetime(2026, 11, 30, 1, 30, tzinfo=UTC)  # 08:30 WIB


@pytest.mark.any_backend
def test_siaran_to_a_facilitators_owners_checks_the_code(app: App, admin: Chat) -> None:
    with app.db.session() as s:
        s.add(Facilitator(code="PDP-3515-001", name="Dewi", regency_code="3515", invite_code="X"))
    admin.send("/siaran")
    admin.send("binaan satu pendamping")
    admin.send("PDP-9999-001")
    assert "tidak ada" in admin.last
    admin.send("pdp-3515-001")
    assert "Tulis pesannya" in admin.last
    admin.send("batal")
    assert "dibatalkan" in admin.last and broadcasts(app) == []


def test_an_admin_removed_mid_way_cannot_send(app: App, clock: Clock) -> None:
    with app.db.session() as s:
        s.add(Admin(channel="telegram", external_id="777"))
    chat = Chat(app.runner, "777", channel="telegram")
    chat.send("/siaran")
    chat.send("1")
    chat.send("Halo semua pemilik, ada pelatihan foto produk minggu depan.")
    chat.send("sekarang")
    with app.db.session() as s:
        s.delete(s.exec(select(Admin)).one())
    chat.send("ya")
    assert "hanya untuk admin" in chat.last
    assert broadcasts(app) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("09:00", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),  # 09:00 passed at 10:00 WIB
        ("11.30", datetime(2026, 11, 28, 4, 30, tzinfo=UTC)),
        ("jam 20", datetime(2026, 11, 28, 13, 0, tzinfo=UTC)),
        ("besok 8", datetime(2026, 11, 29, 1, 0, tzinfo=UTC)),
        ("lusa 07:15 wib", datetime(2026, 11, 30, 0, 15, tzinfo=UTC)),
        ("1/12 09:00", datetime(2026, 12, 1, 2, 0, tzinfo=UTC)),
        ("01-12-2026 9:00", datetime(2026, 12, 1, 2, 0, tzinfo=UTC)),
        ("5/1 10:00", datetime(2027, 1, 5, 3, 0, tzinfo=UTC)),  # January: next year
        ("27/11 08:00", datetime(2026, 11, 27, 1, 0, tzinfo=UTC)),  # yesterday, not next year
        ("28/11 09:30", datetime(2026, 11, 28, 2, 30, tzinfo=UTC)),  # half an hour ago
        ("31/2 10:00", None),
        ("25:00", None),
        # as admins say it (a cold trial): the part of the day, a weekday
        ("nanti sore", datetime(2026, 11, 28, 9, 0, tzinfo=UTC)),  # 16:00 WIB
        ("jam 3 sore", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
        ("besok jam 3 sore", datetime(2026, 11, 29, 8, 0, tzinfo=UTC)),
        ("besok jam 3", datetime(2026, 11, 28, 20, 0, tzinfo=UTC)),  # 03:00 WIB: night
        ("jam 1 siang", datetime(2026, 11, 28, 6, 0, tzinfo=UTC)),
        ("jam 7 malam", datetime(2026, 11, 28, 12, 0, tzinfo=UTC)),
        ("jam 12 malam", datetime(2026, 11, 28, 17, 0, tzinfo=UTC)),  # midnight, coming
        ("15.00 sore", datetime(2026, 11, 28, 8, 0, tzinfo=UTC)),
        ("senin 08:00", datetime(2026, 11, 30, 1, 0, tzinfo=UTC)),  # the 28th is a Saturday
        ("sabtu 08:00", datetime(2026, 12, 5, 1, 0, tzinfo=UTC)),  # today's 08:00 has passed
        ("Jum'at pagi", datetime(2026, 12, 4, 1, 0, tzinfo=UTC)),
        ("besok minggu jam 9", datetime(2026, 11, 29, 2, 0, tzinfo=UTC)),
        ("jam20", datetime(2026, 11, 28, 13, 0, tzinfo=UTC)),
        ("pkl. 14.30 wib", datetime(2026, 11, 28, 7, 30, tzinfo=UTC)),
        ("15.00 pagi", None),
        ("besok senin", None),  # tomorrow is a Sunday: which one?
        ("besok 30/11 09:00", None),
        ("sore sore", None),
        ("harga 9", None),  # a sentence with a number in it is no time
        ("jam 9 atau jam 10", None),
    ],
)
def test_parse_send_time(text: str, expected: datetime | None) -> None:
    now = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 10:00 WIB
    assert parse_send_time(text, now) == expected


def test_a_broadcast_planned_for_the_night_is_pointed_out(app: App, admin: Chat) -> None:
    """ "besok jam 3" is 03:00, as written; the preview says people are asleep then, and
    "jam 3 sore" is the afternoon."""
    owner_on_telegram(app, "521", "+6281200000521", "Toko Malam", "sidoarjo")  # one to get it
    admin.send("/siaran")
    admin.send("1")
    admin.send("Kak, pelatihan foto produk gratis besok!")
    admin.send("besok jam 3")
    assert "03:00" in admin.last and "sudah tidur" in admin.last
    admin.send("ubah waktu")
    admin.send("besok jam 3 sore")
    assert "15:00" in admin.last and "sudah tidur" not in admin.last
    admin.choose("Simpan")
    [broadcast] = broadcasts(app)
    assert broadcast.send_at == datetime(2026, 11, 29, 8, 0, tzinfo=UTC)  # 15:00 WIB


@pytest.mark.any_backend
def test_admin_and_facilitator_commands(
    app: App, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("MEDIA_DIR", str(app.settings.media_dir))
    monkeypatch.setenv("TELEGRAM_BOT_USERNAME", "PelapakBot")
    terminal = CliRunner()

    done = terminal.invoke(cli, ["admin", "add", "--whatsapp", "0812-1111-2222"])
    assert done.exit_code == 0, done.output
    assert terminal.invoke(cli, ["admin", "add", "--whatsapp", "+62 812 1111 2222"]).exit_code == 0
    assert terminal.invoke(cli, ["admin", "add", "--telegram", "not-a-number"]).exit_code == 2
    with app.db.session() as s:
        assert [(a.channel, a.external_id) for a in s.exec(select(Admin))] == [
            ("whatsapp", "+6281211112222")
        ]
    chat = Chat(app.runner, "+6281211112222", channel="whatsapp", phone="+6281211112222")
    chat.send("/siaran")
    assert "untuk siapa" in chat.last

    done = terminal.invoke(cli, ["facilitator", "add", "--name", "Dewi", "--regency", "3515"])
    assert done.exit_code == 0, done.output
    with app.db.session() as s:
        facilitator = s.exec(select(Facilitator)).one()
    assert facilitator.code == "PDP-3515-001"
    assert f"/pendamping {facilitator.invite_code}" in done.output
    assert f"https://t.me/PelapakBot?start=pdp_{facilitator.invite_code}" in done.output
    assert (
        terminal.invoke(cli, ["facilitator", "add", "--name", "X", "--regency", "9999"]).exit_code
        == 2
    )
    second = terminal.invoke(cli, ["facilitator", "add", "--name", "Eko", "--regency", "3515"])
    assert "PDP-3515-002" in second.output
    listed = terminal.invoke(cli, ["facilitator", "list"])
    assert "PDP-3515-001" in listed.output and "Dewi" in listed.output
    with app.db.session() as s:
        account = s.exec(select(ChannelAccount)).one()
    assert account.external_id == "+6281211112222"  # the WhatsApp admin above


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def test_siaran_and_invite_over_the_telegram_webhook(
    settings: Settings, fake: FakeTelegram
) -> None:
    """The same flows through the real webhook, PTB and a fake Bot API: buttons and deep links."""
    app = build_app(telegram_settings(settings, fake, admin_telegram_ids=[9001]))
    server = TelegramRunning(app)
    try:
        with app.db.session() as s:
            invite = add_facilitator(s, "Dewi Lestari", "3515").invite_code
        helper = Updates(9002, first_name="Dewi")
        reply = telegram_say(server, fake, helper.text(f"/start pdp_{invite}"), 9002)
        assert "Selamat bergabung, Kak Dewi Lestari" in reply
        assert "Nomor HP pemilik" in telegram_say(server, fake, helper.text("/daftarkan"), 9002)
        scoped = {
            _json(p["scope"])["chat_id"]: [c["command"] for c in _json(p["commands"])]
            for m, p, _ in fake.calls
            if m == "setMyCommands" and "scope" in p
        }
        assert "siaran" in scoped[9001]  # admins from settings, at start-up
        assert {"daftarkan", "binaan"} <= set(scoped[9002])  # as soon as they joined
        assert "siaran" not in scoped[9002]

        admin = Updates(9001, first_name="Admin")
        assert "untuk siapa" in telegram_say(server, fake, admin.text("/siaran"), 9001)
        buttons = fake.sent(9001)[-1]["reply_markup"]["inline_keyboard"]
        assert any(b["callback_data"] == "everyone" for row in buttons for b in row)
        telegram_say(server, fake, admin.callback("everyone"), 9001)
        telegram_say(server, fake, admin.text("Kak, ada pelatihan foto produk Sabtu ini."), 9001)
        preview = telegram_say(server, fake, admin.callback("now"), 9001)
        # Only owners who agreed to Pelapak: not the admin, not the facilitator.
        assert "Penerima: 0 orang" in preview
        # so nothing is sent: the admin is asked for other recipients instead
        assert "untuk siapa" in telegram_say(server, fake, admin.callback("save"), 9001)
        assert any("belum dikirim" in m.get("text", "") for m in fake.sent(9001))
        with app.db.session() as s:
            assert s.exec(select(Broadcast)).all() == []
    finally:
        server.stop()
        app.close()


@pytest.mark.any_backend
def test_the_console_can_be_made_an_admin(app: App, monkeypatch: pytest.MonkeyPatch) -> None:
    """`pelapak admin add --console NAME`: /siaran can be tried without a platform."""
    from bot.channels.console import ConsoleChannel

    monkeypatch.setenv("DATABASE_URL", app.settings.database_url)
    monkeypatch.setenv("MEDIA_DIR", str(app.settings.media_dir))
    terminal = CliRunner()
    stranger = ConsoleChannel(app.runner, app.media, "0812-3333-4444")
    assert "untuk siapa" not in stranger.send({"text": "/siaran"})[-1].text
    done = terminal.invoke(cli, ["admin", "add", "--console", "0812 3333 4444"])
    assert done.exit_code == 0, done.output
    assert "console +6281233334444" in done.output
    assert terminal.invoke(cli, ["admin", "add", "--console", "demo"]).exit_code == 0
    assert terminal.invoke(cli, ["admin", "add", "--console", "  "]).exit_code == 2
    assert (
        terminal.invoke(cli, ["admin", "add", "--console", "x", "--telegram", "1"]).exit_code == 2
    )
    listed = terminal.invoke(cli, ["admin", "list"]).output
    assert "console +6281233334444" in listed and "console demo" in listed
    admin = ConsoleChannel(app.runner, app.media, "+62 812 3333 4444")
    assert "untuk siapa" in admin.send({"text": "/siaran"})[-1].text
    demo = ConsoleChannel(app.runner, app.media, None)
    assert "untuk siapa" in demo.send({"text": "/siaran"})[-1].text


def test_a_question_is_a_broadcast_text_even_when_it_starts_with_a_yes(
    app: App, admin: Chat
) -> None:
    """Owners asking back ("sudah ya?") get help; an admin's text is the text, question or not."""
    owner_on_telegram(app, "501", "+6281200000501", "Toko Satu", "sidoarjo")
    admin.send("/siaran")
    admin.send("4")
    admin.send("sidoarjo")
    assert "Tulis pesannya" in admin.last
    admin.send("Sudah upload produk hari ini, Kak?")
    admin.send("sekarang")
    assert "Sudah upload produk hari ini, Kak?" in admin.last  # the preview


@pytest.mark.any_backend  # wording of one question
def test_a_placeholder_in_the_text_is_pointed_out(app: App, admin: Chat) -> None:
    """'Halo Kak {nama}, …' went out to every owner with '{nama}' in it, unfilled and
    unremarked (third cold trial); sent again as it is, it is what the admin meant."""
    owner_on_telegram(app, "521", "+6281200000521", "Toko Satu", "sidoarjo")
    admin.send("/siaran")
    admin.send("4")
    admin.send("sidoarjo")
    admin.send("Halo Kak {nama}, yuk tambah produk baru")
    assert "*{nama}*" in admin.last and "sama persis" in admin.last
    admin.send("Halo Kak, yuk tambah produk baru")
    assert "Kapan dikirim" in admin.last
    admin.send("batal")
    admin.send("/siaran")
    admin.send("4")
    admin.send("sidoarjo")
    admin.send("Promo {minggu ini} untuk semua")
    admin.send("Promo {minggu ini} untuk semua")
    assert "Kapan dikirim" in admin.last


@pytest.mark.any_backend  # reading of one answer
def test_a_broadcast_text_with_maksudnya_in_it_is_kept_whole(app: App, admin: Chat) -> None:
    """A fix in the same message (", eh salah, ...") takes what follows it in a name; a
    broadcast's own words ("Kak, maksudnya ...") are never cut there."""
    owner_on_telegram(app, "531", "+6281200000531", "Toko Satu", "sidoarjo")
    admin.send("/siaran")
    admin.send("4")
    admin.send("sidoarjo")
    admin.send("Kak, maksudnya besok ada pelatihan foto produk")
    admin.send("sekarang")
    assert "Kak, maksudnya besok ada pelatihan foto produk" in admin.last


@pytest.mark.any_backend  # reading of one answer
def test_a_broadcast_text_starting_with_a_field_name_is_the_text(app: App, admin: Chat) -> None:
    """A number after a field's name moves the answer to that field ('harga naik 2rb' at the
    stock); a broadcast's text is its own words even when it starts like one."""
    owner_on_telegram(app, "541", "+6281200000541", "Toko Satu", "sidoarjo")
    admin.send("/siaran")
    admin.send("4")
    admin.send("sidoarjo")
    admin.send("Penerima bantuan 2026: daftar ulang di kantor desa ya, Kak")
    admin.send("sekarang")
    assert "Penerima bantuan 2026: daftar ulang" in admin.last
