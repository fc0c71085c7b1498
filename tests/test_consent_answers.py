# ruff: noqa: F811  (the running fixture is imported from test_facilitators)
"""How owners answer a facilitator's /daftarkan, as a cold trial found them answering.

Each test was a surprise in that trial; its docstring says what a real owner or facilitator
typed and what the bot did then.
"""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.storage.models import Notice, Seller
from tests.conftest import Chat
from tests.fake_twilio import FakeTwilio
from tests.test_facilitators import (  # noqa: F401  (running is a fixture)
    OWNER_PHONE,
    awaiting_consent,
    joined,
    register_owner,
    running,
    seller_named,
)
from tests.test_whatsapp import Running

SHOP = "Sambal Bu Siti"


def owner_of(running: Running) -> Chat:
    return Chat(running.app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)


def status(running: Running) -> str:
    with running.app.db.session() as s:
        seller = s.exec(select(Seller).order_by(Seller.id.desc())).first()  # type: ignore[union-attr]
        assert seller is not None
        return seller.status


@pytest.mark.any_backend
@pytest.mark.parametrize("word", ["belum", "jangan dulu", "salah"])
def test_not_yet_or_wrong_does_not_erase_the_shop(running: Running, word: str) -> None:
    """'belum' (not yet), 'jangan dulu' (hold on), 'salah' (something is wrong) at the
    request erase the shop at once, with no 'yakin?'; an owner means wait, or fix it."""
    *_, owner = awaiting_consent(running)
    owner.send("halo")
    assert "balas *SETUJU*" in owner.last
    owner.send(word)
    assert "sudah kami hapus" not in owner.text
    assert "belum kami hapus" in owner.last and "*TOLAK*" in owner.last  # how, if they mean it
    assert status(running) == "awaiting_consent"
    owner.send("ya")  # to "balas TOLAK kalau tidak mau": not an agreement, the request again
    assert "*SETUJU*" in owner.last and status(running) == "awaiting_consent"
    owner.send("setuju")  # the request still waits for their answer
    assert "Terima kasih" in owner.last and status(running) == "active"


@pytest.mark.any_backend
@pytest.mark.parametrize("word", ["gak mau", "tidak mau", "tidak setuju kak"])
def test_refusing_after_the_code_is_not_thanked(running: Running, word: str) -> None:
    """After the facilitator typed the code, an owner whose first words are 'gak mau' is
    told 'Terima kasih, Kak! ... sekarang milik Kakak 🎉' (only exact 'tolak' is heard)."""
    _, chat, code, owner = awaiting_consent(running)
    chat.send(f"/kode {code}")
    owner.send(word)
    assert "Terima kasih" not in owner.text
    assert "/hapus_data" in owner.text


@pytest.mark.parametrize("word", ["ok setuju", "iya setuju", "setuju ya kak", "setuju bu"])
def test_setuju_with_fillers_answers_the_delivered_request(
    running: Running, twilio: FakeTwilio, word: str
) -> None:
    """The owner got the WhatsApp request ('Balas *SETUJU* kalau Kakak setuju') and
    replies 'ok setuju': the whole request is shown again and asked a second time."""
    chat, _ = joined(running.app)
    register_owner(chat)
    assert running.channel.deliver_due_notices() == 1
    owner = owner_of(running)
    owner.send(word)
    assert "Terima kasih" in owner.text
    assert status(running) == "active"


def test_tolak_on_telegram_withdraws_the_whatsapp_request(
    running: Running, twilio: FakeTwilio
) -> None:
    """TOLAK on Telegram erases the shop, yet the WhatsApp request with its code is still
    delivered afterwards, asking for SETUJU about a shop that no longer exists."""
    app = running.app
    telegram = Chat(app.runner, "900001", channel="telegram")
    telegram.send("/start")
    telegram.send("ok", contact_phone=OWNER_PHONE, sender_phone=OWNER_PHONE)
    chat, _ = joined(app)
    register_owner(chat)
    telegram.send("tolak")
    assert "sudah kami hapus" in telegram.text
    assert running.channel.deliver_due_notices() == 0
    assert twilio.to(OWNER_PHONE) == []


def test_tolak_as_the_first_message_shows_no_code(running: Running) -> None:
    """An owner told in person replies 'tolak' first: they see the request with its code
    ('Kakak juga bisa memberi kode 123456') and, right under it, 'sudah kami hapus'."""
    _, _, code, owner = awaiting_consent(running)
    owner.send("tolak")
    assert "sudah kami hapus" in owner.last
    assert code not in owner.text and len(owner.replies) == 1


def test_a_renamed_shops_request_is_withdrawn_by_the_code(
    running: Running, twilio: FakeTwilio
) -> None:
    """The facilitator fixes the shop name, then types the code: the owner still gets the
    request for the old name, with the code already used, after the shop became theirs."""
    app, chat, code, _ = awaiting_consent(running)
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.send("toko")
    chat.send("Sambal Mbak Siti")
    chat.send("simpan")
    chat.send(f"/kode {code}")
    assert "Kode cocok" in chat.text
    assert running.channel.deliver_due_notices() == 0
    with app.db.session() as s:
        notice = s.exec(select(Notice).where(Notice.msgid == "consent.notice")).one()
    assert notice.status == "withdrawn"


@pytest.mark.any_backend
def test_the_facilitator_hears_a_matching_code_once(running: Running) -> None:
    """'/kode 123456' answers 'Pemilik toko X sudah setuju ✅ ...' and then 'Kode cocok ✅
    Pemilik sudah setuju ...': the facilitator is notified of their own action."""
    _, chat, code, _ = awaiting_consent(running)
    chat.send(f"/kode {code}")
    assert "Kode cocok" in chat.text
    assert sum("sudah setuju" in reply.text for reply in chat.replies) == 1


@pytest.mark.any_backend
def test_the_bare_code_in_the_helping_menu_is_the_code(running: Running) -> None:
    """The owner reads out '482913' and the facilitator types just that while helping the
    shop awaiting consent: 'Pilih salah satu nomor di atas ya, Kak.'"""
    app, chat, code, _ = awaiting_consent(running)
    chat.send(code)
    assert "Kode cocok" in chat.text
    assert seller_named(app, SHOP).status == "active"


@pytest.mark.any_backend
def test_hapus_data_after_the_code_links_the_shop_so_it_can_be_erased(running: Running) -> None:
    """The owner's first message after the code is /hapus_data: it said 'Belum ada data
    Kakak yang kami simpan' while their shop was active and queued for the marketplace."""
    _, chat, code, owner = awaiting_consent(running)
    chat.send(f"/kode {code}")
    owner.send("/hapus_data")
    assert "Belum ada data" not in owner.text and "/hapus_data" in owner.last
    owner.send("/hapus_data")  # the shop is theirs now: the usual erasure, with its question
    assert "Yakin mau hapus" in owner.last


def test_hapus_data_while_awaiting_consent_says_tolak_erases_it(running: Running) -> None:
    """Before answering, /hapus_data said no data is stored, under the request that lists
    their name, number and address."""
    *_, owner = awaiting_consent(running)
    owner.send("/hapus_data")
    assert "Belum ada data" not in owner.text and "*TOLAK*" in owner.last
    assert status(running) == "awaiting_consent"
    owner.send("tolak")
    assert "sudah kami hapus" in owner.last and status(running) == "erased"


@pytest.mark.any_backend
def test_start_in_the_middle_of_signing_up_shows_only_the_request(running: Running) -> None:
    """An owner half-way through signing up alone sends /start after the facilitator
    registered them: the request with its code came with 'Lanjutkan pendaftaran?' about
    their own draft, two things to answer at once."""
    app = running.app
    owner = owner_of(running)
    owner.send("halo")
    owner.send("setuju")
    owner.send("Siti Aminah")
    chat, _ = joined(app)
    register_owner(chat)
    owner.send("/start")
    assert "Lanjutkan pendaftaran" not in owner.text
    assert "*SETUJU*" in owner.last
