# ruff: noqa: F811  (fixtures are imported from test_siaran and test_facilitators)
"""What a cold trial of the admin's, the facilitator's and the consent conversations found;
each docstring says what was typed and what the bot did then."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.app import App
from bot.i18n import Renderer
from bot.storage.models import Facilitator, InviteAttempt, Notice
from flows.messages import t
from tests.conftest import Chat, Clock
from tests.test_facilitators import (  # noqa: F401  (running is a fixture)
    add_product,
    awaiting_consent,
    labels,
    new_facilitator,
    running,
    seller_named,
)
from tests.test_siaran import admin, broadcasts, owner_on_telegram  # noqa: F401
from tests.test_whatsapp import Running

# answers read and messages worded; what the backend changes is tested elsewhere on both
pytestmark = pytest.mark.any_backend


def test_a_broadcast_to_nobody_is_not_sent(app: App, admin: Chat) -> None:
    """The preview said "Penerima: 0 orang" and 'simpan' sent it anyway, pointing the admin
    at `pelapak broadcast status`, a command-line tool."""
    owner_on_telegram(app, "511", "+6281200000511", "Toko Satu", "sidoarjo")
    admin.send("/siaran")
    admin.send("4")
    admin.send("kota malang")
    admin.send("Kak, yuk tambah produk hari ini!")
    admin.send("sekarang")
    assert "Penerima: 0 orang" in admin.last and "Belum ada yang akan menerima" in admin.last
    admin.send("simpan")
    assert "belum dikirim" in admin.text and "untuk siapa" in admin.last
    assert broadcasts(app) == []
    admin.send("1")  # everyone: back to the preview, with the rest kept
    assert "Penerima: 1 orang" in admin.last and "Kak, yuk tambah produk" in admin.last
    admin.send("simpan")
    assert "mulai dikirim" in admin.last and "/dasbor" in admin.last
    assert "pelapak broadcast" not in admin.last
    assert len(broadcasts(app)) == 1


def test_a_time_typed_at_the_preview_changes_it(app: App, admin: Chat, clock: Clock) -> None:
    """At the preview 'nanti sore', 'sekarang' or 'besok jam 8' got "belum jelas"; only
    Ubah > Waktu kirim changed the time. (10:00 WIB, Saturday 28 November.)"""
    owner_on_telegram(app, "512", "+6281200000512", "Toko Dua", "sidoarjo")
    admin.send("/siaran")
    admin.send("1")
    admin.send("Kak, pelatihan foto produk gratis!")
    admin.send("sekarang")
    assert "Dikirim: sekarang" in admin.last
    admin.send("nanti sore")
    assert "28 Nov 2026, 16:00" in admin.last and "Pratinjau" in admin.last
    admin.send("besok jam 8")
    assert "29 Nov 2026, 08:00" in admin.last
    admin.send("sekarang")
    assert "Dikirim: sekarang" in admin.last
    admin.send("besok jam 8")
    admin.send("simpan")
    assert "dijadwalkan" in admin.last and "/dasbor" in admin.last
    [broadcast] = broadcasts(app)
    assert broadcast.send_at == datetime(2026, 11, 29, 1, 0, tzinfo=UTC)


def test_a_weekday_alone_is_its_morning_and_said_so(app: App, admin: Chat) -> None:
    """'rabu' alone was "belum jelas": now Wednesday 08:00, said, and shown in the preview."""
    owner_on_telegram(app, "513", "+6281200000513", "Toko Tiga", "sidoarjo")
    admin.send("/siaran")
    admin.send("1")
    admin.send("Kak, pelatihan foto produk gratis!")
    admin.send("rabu")
    assert "saya pakai 2 Des 2026, 08:00" in admin.text
    assert "Dikirim: 2 Des 2026, 08:00" in admin.last
    admin.send("simpan")
    [broadcast] = broadcasts(app)
    assert broadcast.send_at == datetime(2026, 12, 2, 1, 0, tzinfo=UTC)


def test_a_bare_hour_already_past_asks_which(app: App, admin: Chat, clock: Clock) -> None:
    """'jam 7' at 10:00 was tomorrow 07:00 without a word, though 19:00 tonight may be meant:
    asked which. 'jam 9' (21:00 is night) stays tomorrow 09:00, as the preview shows."""
    owner_on_telegram(app, "514", "+6281200000514", "Toko Empat", "sidoarjo")
    admin.send("/siaran")
    admin.send("1")
    admin.send("Kak, pelatihan foto produk gratis!")
    admin.send("jam 7")
    assert "Jam 7 yang mana" in admin.last
    options = [label for r in admin.replies for _, label in r.choices]
    assert options == ["28 Nov 2026, 19:00", "29 Nov 2026, 07:00"]
    admin.send("1")
    assert "Dikirim: 28 Nov 2026, 19:00" in admin.last
    admin.send("jam 9")  # at the preview: no question, tomorrow morning
    assert "Dikirim: 29 Nov 2026, 09:00" in admin.last
    admin.send("jam 7")
    admin.send("29 Nov 2026, 07:00")  # the label typed
    assert "Dikirim: 29 Nov 2026, 07:00" in admin.last
    admin.send("jam 7")
    admin.send("19.00")  # the time typed in full instead
    assert "Dikirim: 28 Nov 2026, 19:00" in admin.last
    admin.send("simpan")
    [broadcast] = broadcasts(app)
    assert broadcast.send_at == datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _invite_tries(app: App) -> int:
    with app.db.session() as s:
        return len(s.exec(select(InviteAttempt)).all())


def test_an_invite_code_typed_alone_joins(app: App) -> None:
    """'ENB25EXG' alone (as `pelapak facilitator add` prints it), or '/start ENB25EXG',
    started the owner's sign-up: "Maaf Kak, belum jelas. Ketik setuju"."""
    first, second, third = (new_facilitator(app, name) for name in ("Dewi", "Eko", "Rina"))
    alone = Chat(app.runner, "800001", channel="telegram")
    alone.send(first.invite_code)
    assert "Selamat bergabung" in alone.text and first.code in alone.text
    started = Chat(app.runner, "800002", channel="telegram")
    started.send(f"/start {second.invite_code}")
    assert "Selamat bergabung" in started.text and second.code in started.text
    signing_up = Chat(app.runner, "800003", channel="telegram")
    signing_up.send("halo")
    assert "Setuju?" in signing_up.last
    signing_up.send(third.invite_code.lower())  # at the sign-up's first question
    assert "Selamat bergabung" in signing_up.text and third.code in signing_up.text
    signing_up.send("/daftarkan")
    assert "Nomor HP pemilik" in signing_up.last


def test_a_wrong_invite_code_alone_counts_as_a_try(app: App) -> None:
    chat = Chat(app.runner, "800004", channel="telegram")
    chat.send("ABCD2345")
    assert "tidak kami kenal" in chat.text and _invite_tries(app) == 1
    chat.send("terserah")  # eight letters, no digit: a word, not a code
    assert "Setuju?" in chat.last and _invite_tries(app) == 1
    chat.send("ya")
    chat.send("XYZW2345")  # past the first question: the owner's name, not a code
    assert "tidak kami kenal" not in chat.text and _invite_tries(app) == 1


def test_the_invite_deep_link_still_joins(app: App) -> None:
    facilitator = new_facilitator(app, "Dewi")
    chat = Chat(app.runner, "800005", channel="telegram")
    chat.send(f"/start pdp_{facilitator.invite_code}")
    assert "Selamat bergabung" in chat.text


def test_a_no_then_a_yes_to_the_facilitators_request_is_taken(running: Running) -> None:
    """'mboten', then 'eh iya deh setuju': the request was shown again, not taken."""
    app, _, _, owner = awaiting_consent(running)
    owner.send("mboten")
    owner.send("eh iya deh setuju")
    assert "Terima kasih" in owner.text
    assert seller_named(app, "Sambal Bu Siti").status == "active"


def test_a_no_after_seeing_the_request_then_a_yes_is_taken(running: Running) -> None:
    app, _, _, owner = awaiting_consent(running)
    owner.send("halo")
    assert "*SETUJU*" in owner.last
    owner.send("mboten")
    owner.send("eh iya deh setuju")
    assert "Terima kasih" in owner.text
    assert seller_named(app, "Sambal Bu Siti").status == "active"


def test_a_change_asked_with_the_yes_reaches_the_facilitator(running: Running) -> None:
    """'setuju tp namanya ganti jadi Siti Romlah': the owner was told to ask the facilitator,
    who got no word of it."""
    app, _, _, owner = awaiting_consent(running)
    owner.send("halo")
    owner.send("setuju tp namanya ganti jadi Siti Romlah")
    assert "sudah saya teruskan" in owner.last
    assert seller_named(app, "Sambal Bu Siti").status == "awaiting_consent"
    with app.db.session() as s:
        [notice] = s.exec(select(Notice).where(Notice.msgid == "fac.consent_change_notice"))
        facilitator = s.exec(select(Facilitator)).one()
    assert notice.account_id == facilitator.account_id
    assert notice.params == {"shop": "Sambal Bu Siti", "asked": "namanya ganti jadi Siti Romlah"}
    told = Renderer("id", strict=True)(t(notice.msgid, **notice.params))
    assert "Pemilik toko *Sambal Bu Siti* minta: namanya ganti jadi Siti Romlah" in told


def test_no_kak_before_bu_or_pak(app: App) -> None:
    """ "Selamat bergabung, Kak Bu Rina!" """
    rina, dewi = new_facilitator(app, "Bu Rina"), new_facilitator(app, "Dewi Lestari")
    chat = Chat(app.runner, "800011", channel="telegram")
    chat.send(f"/pendamping {rina.invite_code}")
    assert "Selamat bergabung, Bu Rina!" in chat.text
    other = Chat(app.runner, "800012", channel="telegram")
    other.send(f"/pendamping {dewi.invite_code}")
    assert "Selamat bergabung, Kak Dewi Lestari!" in other.text


def test_the_helped_shops_words(running: Running) -> None:
    """A facilitator saw "Produk Kakak (1)" for the helped owner's products, "hanya bisa
    diubah pemilik sendiri lewat chat ini" (this chat is the facilitator's), "Data toko
    sudah diperbarui" after 'simpan' with nothing changed, and the office word "Masukkan"."""
    app, chat, code, _ = awaiting_consent(running)
    assert "Ketik kode dari pemilik" in labels(chat)
    assert "memasukkan" not in chat.text.lower() and "Masukkan" not in labels(chat)
    chat.send(f"/kode {code}")
    add_product(app, chat)
    chat.send("tidak")
    chat.choose("Produk saya")
    assert "Produk toko *Sambal Bu Siti* (1)" in chat.text and "Produk Kakak" not in chat.text
    chat.send("menu")
    chat.choose("Ubah data toko")
    chat.send("simpan")
    assert "Belum ada yang diubah" in chat.text and "sudah diperbarui" not in chat.text
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.send("nomor hp")
    assert "pemilik sendiri" in chat.text and "lewat chat ini" not in chat.text


def test_simpan_with_nothing_changed_at_the_owners_shop(app: App) -> None:
    owner = Chat(app.runner, "800013", channel="telegram")
    owner_on_telegram(app, "800013", "+6281200000513", "Toko Lima", "sidoarjo")
    owner.send("menu")
    owner.choose("Ubah data toko")
    owner.send("simpan")
    assert "Belum ada yang diubah" in owner.text
    owner.choose("Ubah data toko")
    owner.send("ubah alamat")
    owner.send("Jl. Kenanga 5")
    owner.send("simpan")
    assert "sudah diperbarui" in owner.text
