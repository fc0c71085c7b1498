"""Facilitators: invite codes, registering an owner in person, the owner's consent, /binaan.

The facilitator chats on Telegram through the runner; the owner answers on WhatsApp through
the real signed webhook, with a fake Twilio API on 127.0.0.1 delivering our messages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import col, select

from bot.app import App, build_app
from bot.config import Settings
from bot.conversation import ConversationRunner
from bot.importer import import_umkm
from bot.roles import add_facilitator, assign_leads
from bot.stats import funnel
from bot.storage.models import (
    ChannelAccount,
    ConsentRequest,
    Facilitator,
    Notice,
    OutboxEvent,
    Photo,
    Product,
    Seller,
    UmkmRecord,
)
from tests import images
from tests.conftest import Chat, Clock
from tests.fake_twilio import FakeTwilio
from tests.test_whatsapp import Running, message, say, whatsapp_settings

SAMPLE = Path(__file__).parent / "data" / "umkm_sample.csv"
CONSENT_TEMPLATE = "HX" + "c" * 32
OWNER_PHONE = "+6281200009001"


@pytest.fixture
def running(settings: Settings, twilio: FakeTwilio) -> Iterator[Running]:
    templates = {
        "consent.notice": {
            "content_sid": CONSENT_TEMPLATE,
            "variables": ["facilitator", "shop", "code"],
        }
    }
    app = build_app(whatsapp_settings(settings, twilio, whatsapp_templates=templates))
    server = Running(app)
    yield server
    server.stop()
    app.close()


def new_facilitator(app: App, name: str = "Dewi Lestari", regency: str = "3515") -> Facilitator:
    with app.db.session() as s:
        facilitator = add_facilitator(s, name, regency)
        s.flush()
        s.expunge(facilitator)
    return facilitator


def joined(app: App, user: str = "700001", name: str = "Dewi Lestari") -> tuple[Chat, str]:
    """A facilitator who joined with their invite code; returns their chat and code."""
    facilitator = new_facilitator(app, name)
    chat = Chat(app.runner, user, channel="telegram", phone="+6285700000001")
    chat.send(f"/pendamping {facilitator.invite_code.lower()}")
    assert f"Selamat bergabung, Kak {name}" in chat.text
    return chat, facilitator.code


def register_owner(chat: Chat, phone: str = "0812-0000-9001") -> None:
    """/daftarkan a shop with no imported data, answering every question."""
    chat.send("/daftarkan")
    assert "Nomor HP pemilik" in chat.last
    chat.send(phone)
    assert "nama pemilik" in chat.last
    chat.send("siti aminah")
    chat.send("Sambal Bu Siti")
    chat.send("1")
    chat.send("sidoarjo")
    chat.send("lewati")
    chat.send("Jl. Mawar 3, Candi")
    chat.send("lewati")
    assert "Cek dulu data pemilik" in chat.last and "Siti Aminah" in chat.last
    chat.send("simpan")


def product_until_summary(app: App, chat: Chat, name: str = "Sambal Bawang Pedas") -> None:
    """A facilitator (or owner) adds a product, answering everything but 'simpan'."""
    chat.choose("Tambah produk")
    chat.send(photos=(app.media.ingest(images.sharp(31)),))
    chat.send("selesai")
    chat.send(name)
    chat.send("ya")
    chat.send("18rb")
    chat.send("ya")
    chat.send("20")
    chat.send("1")
    chat.send("250 gram")
    chat.choose("Pakai ini")


def add_product(app: App, chat: Chat) -> None:
    product_until_summary(app, chat)
    chat.send("simpan")


def labels(chat: Chat) -> list[str]:
    return [label for reply in chat.replies for _, label in reply.choices]


def seller_named(app: App, shop: str) -> Seller:
    with app.db.session() as s:
        return s.exec(select(Seller).where(Seller.shop_name == shop)).one()


def outbox(app: App) -> list[OutboxEvent]:
    with app.db.session() as s:
        return list(s.exec(select(OutboxEvent).order_by(OutboxEvent.id)))


def owner_account(app: App, phone: str) -> ChannelAccount:
    with app.db.session() as s:
        return s.exec(
            select(ChannelAccount).where(
                ChannelAccount.channel == "whatsapp", ChannelAccount.external_id == phone
            )
        ).one()


def other_code(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def consent_code(app: App, phone: str) -> str:
    """The one-time code, as the owner reads it from the message we sent them."""
    with app.db.session() as s:
        account = s.exec(select(ChannelAccount).where(ChannelAccount.phone == phone)).first()
        assert account is not None
        notice = s.exec(
            select(Notice).where(Notice.account_id == account.id, Notice.msgid == "consent.notice")
        ).one()
        return str(notice.params["code"])


def awaiting_consent(running: Running) -> tuple[App, Chat, str, Chat]:
    """A facilitator registered Sambal Bu Siti: the app, their chat, the code, the owner."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    owner = Chat(app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)
    return app, chat, consent_code(app, OWNER_PHONE), owner


def test_assisted_registration_with_imported_data_and_the_owners_setuju(
    running: Running, twilio: FakeTwilio
) -> None:
    app = running.app
    import_umkm(app.db, SAMPLE)
    facilitator_chat, code = joined(app)
    with app.db.session() as s:
        facilitator = s.exec(select(Facilitator)).one()
        assert assign_leads(s, facilitator, None) > 0  # Sidoarjo's imported businesses
        record = s.exec(
            select(UmkmRecord)
            .where(UmkmRecord.facilitator_id == facilitator.id, col(UmkmRecord.phone).is_not(None))
            .order_by(col(UmkmRecord.id))
        ).first()
        assert record is not None and record.regency_code == "3515"
        owner_phone, business = record.phone or "", record.business_name

    facilitator_chat.send("/binaan")
    assert "belum terdaftar" in facilitator_chat.text and business in facilitator_chat.text

    facilitator_chat.send("/daftarkan")
    facilitator_chat.send("0" + owner_phone[3:])
    assert "Disperindag" in facilitator_chat.last and business in facilitator_chat.last
    facilitator_chat.send("ya, betul")
    while "Cek dulu data pemilik" not in facilitator_chat.last:  # what the record lacks
        assert facilitator_chat.sent < 20, facilitator_chat.last
        facilitator_chat.send("lewati")
    facilitator_chat.send("simpan")
    assert "tersimpan" in facilitator_chat.text and "Tambah produk" in labels(facilitator_chat)

    seller = seller_named(app, business)
    assert (seller.status, seller.facilitator_code, seller.source) == (
        "awaiting_consent",
        code,
        "facilitator",
    )
    assert seller.consent_at is None and not seller.phone_verified
    add_product(app, facilitator_chat)
    # told the truth: nothing goes live until the owner agrees (not "tayang sebentar lagi")
    assert "setelah pemiliknya membalas SETUJU" in facilitator_chat.text
    assert "Sebentar lagi" not in facilitator_chat.text
    with app.db.session() as s:
        [product] = s.exec(select(Product).where(Product.seller_id == seller.id)).all()
        assert product.status == "pending" and product.price == 18_000
    assert outbox(app) == []  # nothing is published before the owner agrees

    # The owner's WhatsApp gets the summary and the code, as the approved template.
    assert running.channel.deliver_due_notices() == 1
    [sent] = twilio.to(owner_phone)
    assert sent["ContentSid"] == CONSENT_TEMPLATE
    variables = json.loads(sent["ContentVariables"])
    assert variables["1"] == "Dewi Lestari" and variables["2"] == business
    assert variables["3"].isdigit() and len(variables["3"]) == 6

    reply = say(running, twilio, message("halo", phone=owner_phone), phone=owner_phone)
    assert "Dewi Lestari" in reply and business in reply and "SETUJU" in reply
    assert "Produk yang sudah ditambahkan: 1" in reply
    reply = say(running, twilio, message("setuju", phone=owner_phone), phone=owner_phone)
    assert "Terima kasih" in reply and "milik Kakak" in reply

    seller = seller_named(app, business)
    assert seller.status == "active" and seller.consent_at and seller.phone_verified
    kinds = [
        (e.kind, e.payload.get("facilitator_code"), e.payload.get("source")) for e in outbox(app)
    ]
    assert kinds[0] == ("seller.upsert", code, "facilitator")
    assert [k for k, _, _ in kinds] == ["seller.upsert", "product.upsert"]
    with app.db.session() as s:
        owner_account = s.exec(
            select(ChannelAccount).where(ChannelAccount.external_id == owner_phone)
        ).one()
        assert owner_account.seller_id == seller.id
        assert s.exec(select(ConsentRequest)).one().via == "owner"

    # The facilitator hears about it, and /binaan shows the progress.
    facilitator_chat.send("/binaan")
    assert "sudah setuju" in facilitator_chat.text
    assert business in facilitator_chat.text and "1 produk, 0 sudah tayang" in facilitator_chat.text
    by_facilitator = funnel(app.db, "facilitator")
    assert by_facilitator[code]["registered"] == 1 and by_facilitator[code]["first_product"] == 1
    assert sum(c["started"] for c in by_facilitator.values()) == 1  # facilitators aren't owners
    # The owner now owns the shop: their menu is the owner's menu.
    reply = say(running, twilio, message("menu", phone=owner_phone), phone=owner_phone)
    assert "Tambah produk" in reply and "Daftarkan pemilik" not in reply  # numbered choices


def test_one_time_code_typed_by_the_facilitator(running: Running, twilio: FakeTwilio) -> None:
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    code = consent_code(app, OWNER_PHONE)
    wrong = other_code(code)
    chat.choose("Ketik kode dari pemilik")
    assert "kode 6 angka" in chat.last
    chat.send("12ab")
    assert "6 angka" in chat.last  # not a code: asked again, nothing counted
    chat.send(wrong)
    assert "belum cocok" in chat.text and "sisa 4 kali" in chat.text
    assert outbox(app) == []
    chat.send(f"/kode {code[:3]} {code[3:]}")
    assert "Kode cocok" in chat.text
    seller = seller_named(app, "Sambal Bu Siti")
    assert seller.status == "active" and seller.consent_version
    assert [e.kind for e in outbox(app)] == ["seller.upsert"]
    with app.db.session() as s:
        assert s.exec(select(ConsentRequest)).one().via == "code"
    chat.send(f"/kode {code}")
    assert "tidak sedang menunggu" in chat.text  # a used code does nothing twice


def test_wrong_codes_lock_and_the_owner_can_still_refuse(
    running: Running, twilio: FakeTwilio
) -> None:
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    code = consent_code(app, OWNER_PHONE)
    wrong = other_code(code)
    for _ in range(5):
        chat.send(f"/kode {wrong}")
    assert "terlalu sering" in chat.text
    chat.send(f"/kode {code}")  # the right code after the lock: still refused
    assert "terlalu sering" in chat.text
    assert seller_named(app, "Sambal Bu Siti").status == "awaiting_consent"
    chat.choose("Tambah produk")
    chat.send(photos=(app.media.ingest(images.sharp(33)),))  # sent for the owner's shop
    chat.send("batal")

    reply = say(running, twilio, message("tolak", phone=OWNER_PHONE), phone=OWNER_PHONE)
    assert "sudah kami hapus" in reply
    with app.db.session() as s:
        seller = s.exec(select(Seller)).one()
        assert seller.status == "erased" and seller.shop_name is None and seller.phone is None
        assert s.exec(select(Photo)).all() == []  # the photo sent for the shop went with it
    assert outbox(app) == []
    chat.send("menu")
    assert "menolak" in chat.text
    assert "Daftarkan pemilik" in labels(chat)  # no longer helping the erased shop


@pytest.mark.any_backend
def test_roles_are_checked_where_the_action_happens(app: App, owner: Chat) -> None:
    for command in ("/daftarkan", "/binaan", "/kode 123456"):
        owner.send(command)
        assert "khusus pendamping" in owner.last
    owner.send("/siaran")
    assert "hanya untuk admin" in owner.last

    facilitator = new_facilitator(app)
    first = Chat(app.runner, "800001", channel="telegram")
    first.send(f"/start pdp_{facilitator.invite_code}")  # the deep link
    assert "Selamat bergabung" in first.text
    second = Chat(app.runner, "800002", channel="telegram")
    second.send(f"/pendamping {facilitator.invite_code}")  # an invite works once
    assert "tidak kami kenal" in second.text
    second.send("/pendamping@PelapakBot BUKANKODE")  # as Telegram sends it in groups
    assert "tidak kami kenal" in second.text

    # A facilitator removed half-way cannot finish what they started.
    first.send("/daftarkan")
    first.send("0812-0000-9002")
    with app.db.session() as s:
        row = s.exec(select(Facilitator)).one()
        row.account_id = None
        s.add(row)
    first.send("Budi Santoso")
    assert "khusus pendamping" in first.last
    with app.db.session() as s:
        assert s.exec(select(Seller)).all() == []


@pytest.mark.any_backend
def test_the_facilitator_cannot_register_a_taken_number_or_their_own(app: App, owner: Chat) -> None:
    from tests.test_registration import register

    register(owner)
    chat, _ = joined(app)
    chat.send("/daftarkan")
    chat.send("0812 3456 7890")  # the owner above: not named (not this facilitator's)
    assert "sudah terdaftar" in chat.last and "Keripik Tempe Bu Sri" not in chat.last
    chat.send("0857-0000-0001")
    assert "nomor Kakak sendiri" in chat.last
    chat.send("batal")
    assert "Tidak ada yang disimpan" in chat.last


def test_telegram_owner_agrees_after_sharing_their_number(app: App) -> None:
    chat, _ = joined(app)
    register_owner(chat)
    owner = Chat(app.runner, "900001", channel="telegram")
    owner.send("/start")
    assert "Setuju?" in owner.last or "setuju" in owner.last.lower()  # ordinary sign-up first
    owner.send("ok", contact_phone=OWNER_PHONE, sender_phone=OWNER_PHONE)
    assert "mendaftarkan toko Kakak" in owner.text and "Sambal Bu Siti" in owner.text
    owner.choose("SETUJU")
    assert "Terima kasih" in owner.text
    assert seller_named(app, "Sambal Bu Siti").status == "active"


@pytest.mark.any_backend
def test_words_like_commands_are_still_answers(app: App, owner: Chat) -> None:
    owner.send("/start")
    owner.send("ya")
    owner.send("Sri Wahyuni")
    owner.send("ya")
    owner.send("Kode Kopi Nusantara")  # a shop name, not /kode
    assert "Usaha Kakak jualan" in owner.last  # the category question ("Kopi": guessed)
    owner.send("kembali")
    owner.send("pendamping saya bu dewi")  # not an invite code either
    assert "sudah dipakai" not in owner.last and "tidak kami kenal" not in owner.last
    assert "Usaha Kakak jualan" in owner.last


def test_setuju_and_the_code_at_the_same_moment_publish_once(
    running: Running, twilio: FakeTwilio
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    code = consent_code(app, OWNER_PHONE)
    owner = Chat(app.runner, OWNER_PHONE, channel="whatsapp", phone=OWNER_PHONE)
    with ThreadPoolExecutor(2) as pool:
        agreed = pool.submit(owner.send, "SETUJU")
        typed = pool.submit(chat.send, f"/kode {code}")
        agreed.result(), typed.result()
    assert "Terima kasih" in owner.text and "tidak menunggu" not in owner.text
    assert [e.kind for e in outbox(app)] == ["seller.upsert"]
    assert owner_account(app, OWNER_PHONE).seller_id == seller_named(app, "Sambal Bu Siti").id
    with app.db.session() as s:
        assert s.exec(select(ConsentRequest)).one().status == "given"


def test_setuju_after_the_code_got_there_first_is_thanked(
    running: Running, twilio: FakeTwilio
) -> None:
    """The race above, in the order SETUJU loses: the owner still hears their shop is theirs."""
    app, chat, code, owner = awaiting_consent(running)
    chat.send(f"/kode {code}")
    assert "Kode cocok" in chat.text
    owner.send("SETUJU")
    assert "Terima kasih" in owner.text and "Sambal Bu Siti" in owner.text
    assert "tidak menunggu" not in owner.text and "belum paham" not in owner.text
    assert len(owner.replies) == 1  # one message, not a link notice and a reply to SETUJU
    assert owner_account(app, OWNER_PHONE).seller_id == seller_named(app, "Sambal Bu Siti").id
    assert [e.kind for e in outbox(app)] == ["seller.upsert"]
    owner.send("halo")  # the thanks is said once
    assert "Terima kasih" not in owner.text


def test_tolak_after_the_code_says_how_to_erase_instead(
    running: Running, twilio: FakeTwilio
) -> None:
    """They handed over the code, so the shop is theirs; refusing now means erasing it."""
    app, chat, code, owner = awaiting_consent(running)
    chat.send(f"/kode {code}")
    owner.send("tolak")
    assert "/hapus_data" in owner.last and "Sambal Bu Siti" in owner.last
    assert len(owner.replies) == 1  # the request they already answered is not shown again
    assert owner_account(app, OWNER_PHONE).seller_id == seller_named(app, "Sambal Bu Siti").id
    with app.db.session() as s:
        notice = s.exec(select(Notice).where(Notice.msgid == "consent.notice")).one()
    assert notice.status == "withdrawn"


def test_wrong_invite_codes_lock_the_account_for_an_hour(app: App, clock: Clock) -> None:
    """Five wrong invite codes in an hour lock this account; even a right one waits it out."""
    runner = ConversationRunner(app.db, app.settings, clock=clock)
    facilitator = new_facilitator(app)
    guesser = Chat(runner, "810001", channel="telegram")
    for n in range(5):
        guesser.send(f"/pendamping TEBAK{n:03d}")
        assert "tidak kami kenal" in guesser.text
        clock.advance(minutes=1)
    guesser.send(f"/pendamping {facilitator.invite_code}")
    assert "Selamat bergabung" not in guesser.text and "1 jam" not in guesser.text
    assert "terlalu sering" in guesser.text and "55 menit" in guesser.text
    guesser.send(f"/start pdp_{facilitator.invite_code}")  # the deep link waits too
    assert "terlalu sering" in guesser.text
    with app.db.session() as s:
        assert s.exec(select(Facilitator)).one().account_id is None
    other = Chat(runner, "810002", channel="telegram")  # a limit per account, not for all
    other.send("/pendamping BUKANKODE")
    assert "tidak kami kenal" in other.text
    clock.advance(minutes=55)  # the first wrong code is now an hour old
    guesser.send(f"/pendamping {facilitator.invite_code}")
    assert "Selamat bergabung" in guesser.text


def test_a_facilitator_code_in_a_link_records_a_lead_and_counts_nothing_by_itself(
    app: App, clock: Clock
) -> None:
    """`/start PDP-3515-001` notes where a new owner came from; it is nobody's shop by that."""
    from tests.test_registration import register

    runner = ConversationRunner(app.db, app.settings, clock=clock)
    _, code = joined(app)
    already = Chat(runner, "+6281211110001", phone="+6281211110001")
    register(already, shop="Toko Sudah Ada")
    already.send(f"/start {code}")  # registered before the link: the link changes nothing
    stranger = Chat(runner, "820001", channel="telegram")
    stranger.send(f"/start {code}")
    assert "Halo Kak" in stranger.text  # the normal welcome
    unknown = Chat(runner, "820002", channel="telegram")
    unknown.send("/start PDP-9999-999")
    assert "Halo Kak" in unknown.text and "tidak kami kenal" not in unknown.text
    odd = Chat(runner, "820003", channel="telegram")
    odd.send("/start <script>")
    assert "Halo Kak" in odd.text
    with app.db.session() as s:
        referrals = {
            a.external_id: a.referral_code
            for a in s.exec(select(ChannelAccount).where(ChannelAccount.channel == "telegram"))
        }
        shop = s.exec(select(Seller).where(Seller.shop_name == "Toko Sudah Ada")).one()
    assert referrals["820001"] == code
    assert referrals["820002"] is None and referrals["820003"] is None
    assert (shop.referral_code, shop.facilitator_code) == (None, None)
    counts = funnel(app.db, "facilitator")
    assert (counts[code]["started"], counts[code]["registered"]) == (1, 0)
    register(Chat(runner, "+6281211110002", phone="+6281211110002"))  # not from the link
    later = Chat(runner, "+6281211110003", phone="+6281211110003")
    later.send(f"/start {code}")
    register(later, shop="Toko Lewat Tautan")  # registers after opening the link
    counts = funnel(app.db, "facilitator")
    assert (counts[code]["started"], counts[code]["registered"]) == (2, 1)
    with app.db.session() as s:
        shop = s.exec(select(Seller).where(Seller.shop_name == "Toko Lewat Tautan")).one()
        assert (shop.referral_code, shop.facilitator_code) == (code, None)  # a lead, not theirs


def _sqlite_only(data: str) -> object:
    """Read against the shop list in memory: what the database is cannot change the answer."""
    return pytest.param(data, marks=pytest.mark.any_backend)


@pytest.mark.parametrize(
    "data",
    [
        *map(_sqlite_only, ["s:abc", "s:", "s:-1", "s:1.5", "x" * 64, ":"]),
        "s:99999999999999999999",  # past PostgreSQL's bigint
        "\x00",  # PostgreSQL refuses NUL in text
    ],
)
def test_malformed_callback_data_gets_a_short_answer(app: App, owner: Chat, data: str) -> None:
    chat, _ = joined(app)
    register_owner(chat)
    chat.send("/binaan")
    chat.send(choice=data)
    assert "ada gangguan" not in chat.text
    assert "Balas nomor tokonya" in chat.text
    owner.send("/start")
    owner.send(choice=data)  # an owner at the consent question
    assert "ada gangguan" not in owner.text and owner.replies
