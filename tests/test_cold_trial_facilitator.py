# ruff: noqa: F811  (the running fixture is imported from test_facilitators)
"""What a cold trial of a facilitator's /daftarkan found; each docstring says what was
typed and what the bot did then."""

from __future__ import annotations

import json

import pytest
from sqlmodel import select

from bot.storage.models import ConsentRequest, Notice, OutboxEvent
from tests.conftest import Chat
from tests.fake_twilio import FakeTwilio
from tests.test_facilitators import (  # noqa: F401  (running is a fixture)
    OWNER_PHONE,
    consent_code,
    joined,
    register_owner,
    running,
    seller_named,
)
from tests.test_whatsapp import Running

SHOP = "Sambal Bu Siti"
MISTYPED = "+6281200009009"


def change_phone(chat: Chat, typed: str) -> None:
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.send("nomor hp")
    chat.send(typed)
    chat.send("simpan")


def test_a_corrected_number_moves_the_consent_request_to_it(
    running: Running, twilio: FakeTwilio
) -> None:
    """The facilitator mistyped the owner's number, saved, then corrected it with 'ubah
    data toko' > 'ubah nomor hp': the request still pointed at the old number, whose holder
    saw the owner's data on 'halo' and could take the shop over with 'setuju'."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat, phone="0812-0000-9009")
    old_code = consent_code(app, MISTYPED)
    change_phone(chat, "0812 0000 9001")
    assert "0812-0000-9001" in chat.text  # told where the request went
    assert seller_named(app, SHOP).phone == OWNER_PHONE

    stranger = Chat(app.runner, MISTYPED, channel="whatsapp", phone=MISTYPED)
    stranger.send("halo")
    assert SHOP not in stranger.text and "Siti Aminah" not in stranger.text
    stranger.send("setuju")
    assert seller_named(app, SHOP).status == "awaiting_consent"

    new_code = consent_code(app, OWNER_PHONE)
    assert new_code  # a request of its own, with its own code
    chat.send(f"/kode {old_code}") if old_code != new_code else None
    assert seller_named(app, SHOP).status == "awaiting_consent"
    assert running.channel.deliver_due_notices() == 1  # the new number's, not the old one's
    assert twilio.to(MISTYPED) == [] and len(twilio.to(OWNER_PHONE)) == 1
    with app.db.session() as s:
        old = s.exec(
            select(Notice).where(Notice.msgid == "consent.notice").order_by(Notice.id)
        ).first()
        assert old is not None and old.status == "withdrawn" and old.params == {}
        assert s.exec(select(ConsentRequest)).one().phone == OWNER_PHONE

    owner = Chat(app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)
    owner.send("halo")
    assert SHOP in owner.text and "*SETUJU*" in owner.last
    owner.send("setuju")
    assert "Terima kasih" in owner.text
    assert seller_named(app, SHOP).status == "active"


@pytest.mark.any_backend
def test_a_corrected_number_is_not_the_facilitators_own(running: Running) -> None:
    """Correcting the number of a shop awaiting consent to the facilitator's own number
    would send the owner's request (and its code) to the facilitator."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.send("nomor hp")
    chat.send("0857-0000-0001")  # the facilitator's own
    assert "nomor Kakak sendiri" in chat.text and "0812-0000-9001" in chat.last  # the summary
    chat.send("simpan")
    assert seller_named(app, SHOP).phone == OWNER_PHONE
    with app.db.session() as s:
        assert s.exec(select(ConsentRequest)).one().phone == OWNER_PHONE


@pytest.mark.any_backend
def test_a_facilitator_cannot_change_a_live_shops_number(running: Running) -> None:
    """Helping a shop whose owner agreed, 'ubah nomor hp' and 'simpan' changed the owner's
    own number silently, and a seller.upsert with it was queued."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    chat.send(f"/kode {consent_code(app, OWNER_PHONE)}")
    assert seller_named(app, SHOP).status == "active"
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.send("nomor hp")
    assert "pemilik sendiri" in chat.text
    assert "Simpan" in [label for r in chat.replies for _, label in r.choices]  # the summary
    chat.send("ubah nomor hp 0812 0000 9003")  # the new number typed with the request
    assert "pemilik sendiri" in chat.text
    chat.send("0812 0000 9002")
    chat.send("simpan")
    assert seller_named(app, SHOP).phone == OWNER_PHONE
    with app.db.session() as s:
        sent = [json.dumps(e.payload) for e in s.exec(select(OutboxEvent))]
    assert sent and not any("9002" in p or "9003" in p for p in sent)


@pytest.mark.any_backend
def test_a_landline_is_not_the_owners_whatsapp(running: Running) -> None:
    """'0341 123456' (a Malang landline) was taken as the owner's WhatsApp number."""
    chat, _ = joined(running.app)
    chat.send("/daftarkan")
    chat.send("0341 123456")
    assert "nama pemilik" not in chat.last
    assert "0812-3456-7890" in chat.last
    chat.send("0812 0000 9001")
    assert "nama pemilik" in chat.last


@pytest.mark.any_backend
def test_a_landline_is_not_taken_at_the_owners_own_phone_question(running: Running) -> None:
    owner = Chat(running.app.runner, "910001", channel="telegram")
    owner.send("/start")
    owner.send("ya")
    owner.send("Sri Wahyuni")
    assert "nomor" in owner.last.lower()
    owner.send("0341 123456")
    assert "0812-3456-7890" in owner.last
    assert "nama toko" not in owner.last.lower()
    owner.send("0812 3456 7890")
    assert "nama toko" in owner.last.lower()


@pytest.mark.any_backend
@pytest.mark.parametrize(
    "words", ["Setuju tp nama tokonya ganti Batik Rina Pujon", "setuju, tapi alamatnya salah"]
)
def test_a_yes_with_a_correction_is_not_consent(running: Running, words: str) -> None:
    """'Setuju tp nama tokonya ganti Batik Rina Pujon' at the request was taken as SETUJU:
    the shop went out under the name the owner had just corrected."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    owner = Chat(app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)
    owner.send("halo")
    owner.send(words)
    assert "Terima kasih" not in owner.text
    assert seller_named(app, SHOP).status == "awaiting_consent"
    assert "belum" in owner.text and "pendamping" in owner.text and "*SETUJU*" in owner.last
    owner.send("setuju")  # still theirs to agree to, as it is
    assert "Terima kasih" in owner.text and seller_named(app, SHOP).status == "active"


def half_registered(chat: Chat) -> str:
    """/daftarkan answered up to the shop's category; returns that question."""
    chat.send("/daftarkan")
    chat.send("0812-0000-9001")
    chat.send("siti aminah")
    chat.send("Sambal Bu Siti")
    return chat.last


@pytest.mark.any_backend
def test_menu_or_binaan_in_the_middle_of_daftarkan_keeps_the_draft(running: Running) -> None:
    """'/binaan' or 'menu' half-way through /daftarkan threw the owner's answers away,
    without a word; the owner standing there had to give them all again."""
    chat, _ = joined(running.app)
    question = half_registered(chat)
    chat.send("menu")
    assert "/daftarkan" in chat.text  # told it is kept, and how to go on
    chat.choose("Daftarkan pemilik")
    assert chat.last == question
    chat.send("/binaan")
    assert "/daftarkan" in chat.text
    chat.send("/daftarkan")
    assert chat.last == question
    chat.send("1")
    chat.send("sidoarjo")
    chat.send("lewati")
    chat.send("Jl. Mawar 3, Candi")
    chat.send("lewati")
    assert "Siti Aminah" in chat.last and "Sambal Bu Siti" in chat.last


@pytest.mark.any_backend
def test_menu_at_yakin_dibatalkan_keeps_the_draft(running: Running) -> None:
    chat, _ = joined(running.app)
    question = half_registered(chat)
    chat.send("batal")
    assert "Yakin" in chat.last
    chat.send("menu")
    assert "/daftarkan" in chat.text
    chat.send("/daftarkan")
    assert chat.last == question  # not "yakin?" any more: a "ya" now is an answer
    chat.send("/daftarkan")  # again, while it is open: nothing is said to be kept
    assert "saya simpan" not in chat.text


@pytest.mark.any_backend
def test_the_selesai_membantu_button_after_menu_ends_the_help(running: Running) -> None:
    """The facilitator opened 'menu' while helping a shop, then pressed 'Selesai membantu':
    the bot said it was done, then showed the same shop's menu again, whose buttons then
    answered 'Kakak sedang tidak membantu toko mana pun'."""
    chat, _ = joined(running.app)
    register_owner(chat)
    assert "sedang membantu" in chat.last
    chat.send("menu")
    chat.choose("Selesai membantu")
    assert "Selesai membantu toko" in chat.text
    assert "sedang membantu" not in chat.text
    chat.send("menu")
    assert "Mau apa sekarang" in chat.text and "sedang membantu" not in chat.text


@pytest.mark.any_backend
def test_a_question_at_the_request_just_shown_gets_a_short_answer(running: Running) -> None:
    """The owner had just seen the facilitator's request and asked 'bu rina sopo?' (who is
    she?), then 'menu': each time the whole twelve-line request came again, with no word on
    who the facilitator is."""
    chat, _ = joined(running.app, name="Rina Wati")
    register_owner(chat)
    owner = Chat(running.app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)
    owner.send("halo")
    assert "Nama: Siti Aminah" in owner.text
    owner.send("bu rina sopo?")
    assert "pendamping UMKM" in owner.text and "Rina Wati" in owner.text
    assert "Nama: Siti Aminah" not in owner.text and "*SETUJU*" in owner.text
    owner.send("menu")
    assert "Nama: Siti Aminah" not in owner.text and "*SETUJU*" in owner.text
    owner.send("setuju")
    assert "Terima kasih" in owner.text
    assert seller_named(running.app, SHOP).status == "active"


@pytest.mark.any_backend
def test_no_owners_code_button_once_the_owner_said_yes(running: Running) -> None:
    """'Ketik kode dari pemilik' was still offered in the shop's menu after its owner had
    answered SETUJU (the shop is theirs: there is no code left to type)."""
    chat, _ = joined(running.app)
    register_owner(chat)
    assert "Ketik kode dari pemilik" in [label for _, label in chat.replies[-1].choices]
    owner = Chat(running.app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)
    owner.send("halo")
    owner.send("setuju")
    chat.send("menu")
    assert "sedang membantu" in chat.text
    assert "Ketik kode dari pemilik" not in [label for _, label in chat.replies[-1].choices]


@pytest.mark.any_backend
def test_hapus_data_from_a_facilitator_erases_nothing(running: Running) -> None:
    """A facilitator helping a shop typed /hapus_data: the question named the shop they help
    ('Toko *Sambal Bu Siti* … akan dihapus'), and 'iya' then erased the facilitator's own
    account and role (no /binaan, the invite code spent, no way back)."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    chat.send("/hapus_data")
    assert "pendamping" in chat.text and "admin" in chat.text
    assert "akan dihapus" not in chat.text  # no question naming the shop they help
    chat.send("iya")
    chat.send("/binaan")
    assert "Sambal Bu Siti" in chat.text  # still a facilitator, with their owner
    assert seller_named(app, SHOP).status == "awaiting_consent"


@pytest.mark.any_backend
def test_the_shop_menu_names_the_shop_as_just_renamed(running: Running) -> None:
    """Saving a new shop name from the helped shop's 'Ubah data toko' answered 'Data toko
    sudah diperbarui' and then 'Kakak sedang membantu toko *<the old name>*'."""
    chat, _ = joined(running.app)
    register_owner(chat)
    chat.choose("Ubah data toko")
    chat.send("nama toko Sambal Bu Siti Pedas")
    chat.send("simpan")
    assert "sudah diperbarui" in chat.text
    assert "membantu toko *Sambal Bu Siti Pedas*" in chat.text
