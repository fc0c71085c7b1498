# ruff: noqa: F811  (the running fixture is imported from test_facilitators)
"""Facilitator and consent problems a cold trial left open; each docstring says what was
typed and what the bot did then."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.importer import import_umkm
from bot.roles import assign_leads
from bot.storage.models import Facilitator, UmkmRecord
from tests.conftest import Chat, Clock
from tests.test_facilitators import (  # noqa: F401  (running is a fixture)
    OWNER_PHONE,
    SAMPLE,
    consent_code,
    joined,
    labels,
    register_owner,
    running,
    seller_named,
)
from tests.test_whatsapp import Running

# flows through the runner; the row locks a facilitator's message takes are tested on both
# backends in test_facilitators.py and test_data_safety.py
pytestmark = pytest.mark.any_backend

SHOP = "Sambal Bu Siti"


def owner_of(running: Running, phone: str = OWNER_PHONE) -> Chat:
    return Chat(running.app.runner, phone, channel="whatsapp", phone=phone)


def a_lead(running: Running) -> tuple[str, str]:
    """Imported businesses assigned to the facilitator; one with a number: (phone, name)."""
    with running.app.db.session() as s:
        facilitator = s.exec(select(Facilitator)).one()
        assert assign_leads(s, facilitator, None) > 0
        record = s.exec(
            select(UmkmRecord)
            .where(UmkmRecord.facilitator_id == facilitator.id, col(UmkmRecord.phone).is_not(None))
            .order_by(col(UmkmRecord.id))
        ).first()
        assert record is not None
        return record.phone or "", record.business_name


def test_a_refused_lead_is_not_offered_again(running: Running) -> None:
    """The owner of an imported business answered TOLAK; /binaan listed the business again
    among those 'belum terdaftar', to be registered again."""
    app = running.app
    import_umkm(app.db, SAMPLE)
    chat, _ = joined(app)
    phone, business = a_lead(running)
    chat.send("/binaan")
    assert business in chat.text
    chat.send("/daftarkan")
    chat.send("0" + phone[3:])
    chat.send("ya, betul")
    while "Cek dulu data pemilik" not in chat.last:
        assert chat.sent < 20, chat.last
        chat.send("lewati")
    chat.send("simpan")
    owner = owner_of(running, phone)
    owner.send("tolak")
    assert "sudah kami hapus" in owner.last
    chat.send("/binaan")
    leads = chat.last.split("belum terdaftar")[-1]
    assert business not in leads


def test_the_helping_menu_closes_when_the_owner_refuses(running: Running) -> None:
    """The facilitator had the shop's menu up when its owner answered TOLAK; it stayed up
    (its "Masukkan kode pemilik" still asked for a code), and a product being added for the
    shop went on, to be dropped when saved."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    chat.choose("Tambah produk")
    owner_of(running).send("tolak")
    chat.send("Sambal Bawang Pedas")
    assert "menolak" in chat.text and "menu toko itu saya tutup" in chat.text
    assert "Sambal Bawang" not in chat.text
    assert "Daftarkan pemilik" in labels(chat) and "Ketik kode dari pemilik" not in labels(chat)


def test_binaan_after_a_refusal_still_has_the_kept_daftarkan(running: Running) -> None:
    """A /daftarkan left half-way for a shop's menu is still there once that shop's owner
    refuses and its menu closes."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    chat.send("/daftarkan")
    chat.send("0812 0000 9002")
    chat.send("Rina Wati")
    chat.send("/binaan")
    assert "saya simpan dulu" in chat.text
    chat.choose(SHOP)
    owner_of(running).send("tolak")
    chat.send("1")
    assert "menolak" in chat.text
    chat.send("/daftarkan")
    assert "nama toko" in chat.last.lower() and "Rina Wati" not in chat.last  # where it was


def test_changing_a_helped_shop_asks_about_its_owner(running: Running) -> None:
    """'Ubah data toko' on a shop the facilitator helps, then 'Nama pemilik' or 'Nomor HP':
    asked 'Siapa nama Kakak?' and 'Berapa nomor HP/WA Kakak?', about the facilitator."""
    chat, _ = joined(running.app)
    register_owner(chat)
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.choose("Nama pemilik")
    assert "nama pemilik" in chat.last and "nama Kakak" not in chat.last
    chat.send("0812 0000 9005")
    assert "nama pemilik" in chat.last and "nama Kakak" not in chat.last
    chat.send("Siti Aminah")
    chat.choose("Ubah")
    chat.choose("Nomor HP")
    assert "HP pemilik" in chat.last and "Kakak?" not in chat.last
    chat.send("halo")
    assert "HP pemilik" in chat.last


@pytest.mark.parametrize("typed", ["0812 0000 9005", "gak tau"])
def test_daftarkan_asks_the_owners_name_not_the_facilitators(running: Running, typed: str) -> None:
    """At /daftarkan's 'nama pemilik' a number was answered 'Di sini yang ditanya nama
    Kakak', as if the facilitator were the owner."""
    chat, _ = joined(running.app)
    chat.send("/daftarkan")
    chat.send("0812 0000 9001")
    chat.send(typed)
    assert "nama pemilik" in chat.last and "nama Kakak" not in chat.last


@pytest.mark.parametrize(
    ("how", "words"),
    [
        ("step", "kodenya {code}"),
        ("step", "ini kak kodenya: {three} {rest}"),
        ("menu", "kodenya {code}"),
        ("menu", "kode dari bu siti {code}"),
        ("command", "/kode kodenya {code}"),
    ],
)
def test_a_code_in_a_short_sentence_is_read(running: Running, how: str, words: str) -> None:
    """'kodenya 111111' where the owner's code is asked was 'Tulis kode 6 angka', the code
    not read out of the sentence."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    code = consent_code(app, OWNER_PHONE)
    if how == "step":
        chat.choose("Ketik kode dari pemilik")
    chat.send(words.format(code=code, three=code[:3], rest=code[3:]))
    assert "Kode cocok" in chat.text
    assert seller_named(app, SHOP).status == "active"


def test_a_price_in_the_helping_menu_is_no_code(running: Running) -> None:
    """Six digits in a sentence at the shop's menu are not taken for the code unless the
    sentence says it is one: nothing counted as a wrong code."""
    chat, _ = joined(running.app)
    register_owner(chat)
    chat.send("harga 150000")
    assert "belum cocok" not in chat.text and "Kode cocok" not in chat.text


def parked_daftarkan(running: Running) -> Chat:
    """A shop registered, then a /daftarkan for another owner left at its shop name for
    /binaan, and the first shop picked there."""
    chat, _ = joined(running.app)
    register_owner(chat)
    chat.send("/daftarkan")
    chat.send("0812 0000 9002")
    chat.send("Rina Wati")
    chat.send("/binaan")
    assert "saya simpan dulu" in chat.text
    chat.choose(SHOP)
    return chat


@pytest.mark.parametrize("leave", ["simpan", "batal", "menu", "/binaan"])
def test_a_kept_daftarkan_survives_changing_a_helped_shop(running: Running, leave: str) -> None:
    """A /daftarkan put aside, then the helped shop's 'Ubah data toko': the draft was gone
    (/daftarkan asked for a new owner's number)."""
    chat = parked_daftarkan(running)
    chat.choose("Ubah data toko")
    assert "saya simpan dulu" in chat.text  # still kept, and said so
    chat.send(leave)
    if leave == "batal":  # "yakin?", then back at the shop's menu the change was opened from
        chat.choose("Ya, batalkan")
        assert "Ketik kode dari pemilik" in labels(chat)
    chat.send("/daftarkan")
    assert "nama toko" in chat.last.lower() and "Nomor HP pemilik" not in chat.last


def test_a_kept_daftarkan_survives_a_change_saved(running: Running) -> None:
    chat = parked_daftarkan(running)
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.choose("Alamat")
    chat.send("Jl. Melati 5, Candi")
    chat.send("simpan")
    assert seller_named(running.app, SHOP).address == "Jl. Melati 5, Candi"
    assert "Ketik kode dari pemilik" in labels(chat)  # back at the shop's menu
    chat.send("/daftarkan")
    assert "nama toko" in chat.last.lower() and "Nomor HP pemilik" not in chat.last


def siaran_admin(app: App, clock: Clock, names: tuple[str, ...]) -> Chat:
    with app.db.session() as s:
        for n, name in enumerate(names, start=1):
            code = f"PDP-3507-00{n}"
            s.add(Facilitator(code=code, name=name, regency_code="3507", invite_code=f"I{n}"))
    settings = app.settings.model_copy(update={"admin_telegram_ids": [424242]})
    return Chat(ConversationRunner(app.db, settings, clock=clock), "424242", channel="telegram")


@pytest.mark.parametrize(
    ("typed", "who"),
    [
        ("bu rina", "Bu Rina (PDP-3507-001)"),  # her whole name: not "which?" with Rina Susanti
        ("Rina", "Bu Rina (PDP-3507-001)"),
        ("pak ekko", "Pak Eko Prasetyo (PDP-3507-002)"),  # mistyped
        ("binaan prasetyo", "Pak Eko Prasetyo (PDP-3507-002)"),
        ("rina sus", "Rina Susanti (PDP-3507-003)"),
        ("pdp-3507-001", "Bu Rina (PDP-3507-001)"),
    ],
)
def test_siaran_takes_the_facilitators_name(app: App, clock: Clock, typed: str, who: str) -> None:
    """/siaran to a facilitator's owners took only the code ('PDP-3507-001'); 'bu rina'
    was 'Kode pendamping BU RINA tidak ada'."""
    admin = siaran_admin(app, clock, ("Bu Rina", "Pak Eko Prasetyo", "Rina Susanti"))
    admin.send("/siaran")
    admin.send("binaan satu pendamping")
    admin.send(typed)
    assert "Tulis pesannya" in admin.last
    admin.send("Kumpul di balai desa besok jam 9")
    admin.send("sekarang")
    assert f"binaan pendamping {who}" in admin.text  # whose owners


def test_siaran_binaan_and_a_name_at_once(app: App, clock: Clock) -> None:
    admin = siaran_admin(app, clock, ("Bu Rina", "Pak Eko Prasetyo"))
    admin.send("/siaran")
    admin.send("binaan pak eko")
    assert "Tulis pesannya" in admin.last


def test_siaran_asks_which_facilitator_when_the_name_fits_several(app: App, clock: Clock) -> None:
    admin = siaran_admin(app, clock, ("Rina Wati", "Rina Susanti", "Eko"))
    admin.send("/siaran")
    admin.send("binaan bu rina")
    assert labels(admin) == ["Rina Wati (PDP-3507-001)", "Rina Susanti (PDP-3507-002)"]
    admin.send("2")
    assert "Tulis pesannya" in admin.last
    admin.send("Kumpul di balai desa besok jam 9")
    admin.send("sekarang")
    assert "Rina Susanti" in admin.text


def test_siaran_an_unknown_name_is_asked_again(app: App, clock: Clock) -> None:
    admin = siaran_admin(app, clock, ("Bu Rina",))
    admin.send("/siaran")
    admin.send("binaan satu pendamping")
    admin.send("bu sinta")
    assert "belum ketemu" in admin.last and "Tulis pesannya" not in admin.text


def owner_half_way(running: Running) -> tuple[Chat, Chat]:
    """An owner who started signing up alone (agreed, gave their name), then was registered
    by a facilitator."""
    owner = owner_of(running)
    owner.send("halo")
    owner.send("setuju")
    owner.send("Siti Aminah")
    assert "0812-0000-9001" in owner.last  # "is this your number?"
    chat, _ = joined(running.app)
    register_owner(chat)
    owner.send("halo")
    assert "*SETUJU*" in owner.text
    assert "mulai daftar sendiri" in owner.text  # told what happens to their own draft
    return owner, chat


def test_tolak_gives_the_owner_their_own_registration_back(running: Running) -> None:
    """The owner had started registering themselves; at the facilitator's request they saw
    only SETUJU or TOLAK, and their own answers were gone either way, without a word."""
    owner, _ = owner_half_way(running)
    owner.send("tolak")
    assert "sudah kami hapus" in owner.text
    assert "masih ada" in owner.text and "0812-0000-9001" in owner.last  # where they were
    owner.send("ya")
    assert "nama toko" in owner.last.lower()


def test_setuju_uses_the_facilitators_registration(running: Running) -> None:
    owner, _ = owner_half_way(running)
    owner.send("setuju")
    assert "Terima kasih" in owner.text
    assert seller_named(running.app, SHOP).status == "active"
    owner.send("menu")
    assert "nama toko" not in owner.last.lower()


def test_a_request_moved_away_gives_the_owner_their_registration_back(running: Running) -> None:
    """The facilitator corrected the number after the owner had seen the request: the
    owner's own registration, put aside for the request, is theirs to go on with."""
    owner, chat = owner_half_way(running)
    chat.choose("Ubah data toko")
    chat.choose("Ubah")
    chat.send("nomor hp")
    chat.send("0812 0000 9007")
    chat.send("simpan")
    owner.send("halo")
    assert "masih ada" in owner.text and "0812-0000-9001" in owner.last


def test_a_bare_ya_after_the_request_broke_into_their_sign_up_is_not_consent(
    running: Running,
) -> None:
    """The request appeared in the middle of the owner's own sign-up; their next 'ya' (most
    likely to their own last question) was taken as SETUJU (third cold trial)."""
    owner, _ = owner_half_way(running)
    owner.send("ya")
    assert seller_named(running.app, SHOP).status == "awaiting_consent"
    assert "*SETUJU*" in owner.text
    owner.send("setuju")
    assert "Terima kasih" in owner.text
    assert seller_named(running.app, SHOP).status == "active"
