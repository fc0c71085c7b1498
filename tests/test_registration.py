"""Registering a shop, as an owner types it, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlmodel import select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.storage.models import ChannelAccount, Conversation, OutboxEvent, Seller
from flows.engine import Clarify, Ctx, Env
from flows.messages import Inbound
from flows.registration import DECLINED, REGISTRATION
from tests.conftest import Chat, Clock


def register(chat: Chat, shop: str = "Keripik Tempe Bu Sri") -> None:
    chat.send("/start")
    chat.send("iya")
    chat.send("sri wahyuni")
    chat.send("ya")
    chat.send(shop)
    chat.send("3")
    chat.send("sidoardjo")
    chat.send("waru")
    chat.send("Jl. Raya Waru No. 12, RT 02/RW 03")
    chat.send("lewati")
    chat.send("simpan")


def sellers(app: App) -> list[Seller]:
    with app.db.session() as s:
        return list(s.exec(select(Seller)))


def events(app: App) -> list[OutboxEvent]:
    with app.db.session() as s:
        return list(s.exec(select(OutboxEvent).order_by(OutboxEvent.id)))


def test_happy_path_stores_seller_and_outbox_event_together(app: App, owner: Chat) -> None:
    register(owner)
    assert "sudah terdaftar" in owner.text
    assert "Kirim foto produknya" in owner.last  # what happens next: the first product
    [seller] = sellers(app)
    assert (seller.owner_name, seller.phone, seller.shop_name) == (
        "Sri Wahyuni",
        "+6281234567890",
        "Keripik Tempe Bu Sri",
    )
    assert (seller.category, seller.province_code, seller.regency_code, seller.district_code) == (
        "kerajinan",
        "35",
        "3515",
        "351518",
    )
    assert seller.address == "Jl. Raya Waru No. 12, RT 02/RW 03"
    assert seller.nib is None and seller.phone_verified
    assert seller.source == "console"  # the channel it really came from
    assert seller.consent_version and seller.consent_at is not None
    [event] = events(app)
    assert event.kind == "seller.upsert" and event.aggregate_ref == seller.ref
    assert event.payload["region"] == {
        "province_code": "35",
        "regency_code": "3515",
        "district_code": "351518",
    }
    assert event.payload["consent"]["version"] == seller.consent_version
    assert owner.sent == 11


@pytest.mark.any_backend
def test_messy_answers_back_and_ambiguous_place(app: App, runner: ConversationRunner) -> None:
    chat = Chat(runner, "tg-1", channel="telegram")
    chat.send("halo")
    assert "Setuju?" in chat.last
    chat.send("apa ini")  # neither yes nor no
    assert "belum jelas" in chat.last
    chat.choose("Setuju")
    chat.send("123")
    assert "belum kebaca" in chat.last
    chat.send("Budi Santoso")
    assert "Contoh: 0812-3456-7890" in chat.last
    chat.send("nomor saya 0857-1234-5678 kak")
    chat.send("Batik Tulis Pak Budi")
    chat.send("batik")
    assert "Fashion & Pakaian" in chat.last
    chat.send("iya")
    chat.send("kembali")  # back to the category question
    assert "jualan apa" in chat.last
    chat.send("2")
    chat.send("Malang")
    assert "Malang yang mana" in chat.last
    chat.send("kota")
    assert "Kota Malang" in chat.last
    chat.send("lewati")
    chat.send("Jl. Ijen 5")
    chat.send("12345")
    assert "13 angka" in chat.last
    chat.send("1234567890123")
    assert "Kota Malang" in chat.last and "1234567890123" in chat.last
    chat.send("ubah alamat")
    chat.send("Jl. Ijen No. 5, Klojen")
    assert "Jl. Ijen No. 5, Klojen" in chat.last  # straight back to the summary
    chat.choose("Simpan")
    [seller] = sellers(app)
    assert (seller.phone, seller.regency_code, seller.category, seller.nib, seller.address) == (
        "+6285712345678",
        "3573",
        "fashion",
        "1234567890123",
        "Jl. Ijen No. 5, Klojen",
    )
    assert not seller.phone_verified


@pytest.mark.any_backend
def test_cancel_then_start_again(app: App, owner: Chat) -> None:
    owner.send("/start")
    owner.send("setuju")
    owner.send("Sri")
    owner.send("batal")
    assert "Yakin dibatalkan" in owner.last  # one word does not throw the answers away
    owner.send("ya")
    assert "dibatalkan" in owner.last and "Yakin" not in owner.last
    owner.send("daftar")
    assert "Setuju?" in owner.last  # a fresh start: nothing of the old draft is asked for
    register(owner)
    assert len(sellers(app)) == 1


@pytest.mark.any_backend
def test_declining_consent_stores_no_personal_data(app: App, owner: Chat) -> None:
    owner.send("/start")
    owner.choose("Tidak setuju")
    assert "tidak ada data Kakak yang kami simpan" in owner.last
    with app.db.session() as s:
        [conversation] = s.exec(select(Conversation))
        # only the refusal itself is remembered (a "setuju" next is the yes), nothing of theirs
        assert conversation.draft == {DECLINED: True} and conversation.flow is None
    assert sellers(app) == []


@pytest.mark.any_backend
def test_restart_resumes_where_the_owner_was(app: App, clock: Clock) -> None:
    first = Chat(
        ConversationRunner(app.db, app.settings, clock=clock),
        "+6281111111111",
        phone="+6281111111111",
    )
    first.send("/start")
    first.send("ya")
    first.send("Rina")
    # the process restarts: a new runner on the same database
    again = Chat(
        ConversationRunner(app.db, app.settings, clock=clock),
        "+6281111111111",
        phone="+6281111111111",
    )
    again.send("ya")  # answers the phone question asked before the restart
    assert "nama toko" in again.last


def test_long_pause_asks_to_continue(app: App, runner: ConversationRunner, clock: Clock) -> None:
    chat = Chat(runner, "+6282222222222", phone="+6282222222222")
    chat.send("/start")
    chat.send("ya")
    chat.send("Rina")
    clock.advance(hours=7)
    chat.send("Toko Rina")
    assert "Lanjutkan pendaftaran?" in chat.last
    chat.choose("Lanjut")
    assert "betul?" in chat.last  # the phone confirmation, exactly where Rina stopped
    clock.advance(hours=7)
    chat.send("halo")
    chat.choose("Mulai ulang")
    assert "Setuju?" in chat.last


@pytest.mark.any_backend
def test_taken_shop_name_gets_a_free_suggestion(app: App, runner: ConversationRunner) -> None:
    register(Chat(runner, "+6281234567890", phone="+6281234567890"))
    other = Chat(runner, "+6283333333333", phone="+6283333333333")
    other.send("/start")
    other.send("ya")
    other.send("Sri Lestari")
    other.send("ya")
    other.send("keripik tempe  BU SRI")
    assert "sudah dipakai" in other.last
    assert "*keripik tempe BU SRI 2*" in other.last  # "Sri" is in it already
    assert [c[0] for c in other.replies[-1].choices] == ["yes", "no"]
    other.choose("Ya")
    assert "jualan *Makanan & Minuman*" in other.last  # guessed from the shop's name


def test_my_data_and_erase(app: App, owner: Chat) -> None:
    register(owner)
    owner.send("/data_saya")
    assert "Keripik Tempe Bu Sri" in owner.text and "0812-3456-7890" in owner.text
    owner.send("/hapus_data")
    assert "Yakin" in owner.last
    owner.choose("Ya, hapus")
    assert "sudah dihapus" in owner.text
    [seller] = sellers(app)
    assert seller.status == "erased"
    assert (seller.owner_name, seller.phone, seller.address, seller.shop_name) == (None,) * 4
    kinds = [(e.kind, e.state) for e in events(app)]
    assert kinds == [("seller.upsert", "superseded"), ("seller.delete", "pending")]
    assert all(e.payload == {} for e in events(app))  # no personal data left in the queue
    with app.db.session() as s:
        [account] = s.exec(select(ChannelAccount))
        assert account.phone is None and account.seller_id is None
    owner.send("/data_saya")
    assert "Belum ada data" in owner.last


def test_redelivered_message_is_processed_once(app: App, owner: Chat) -> None:
    owner.send("/start", message_id="1")
    owner.send("ya", message_id="2")
    assert owner.send("ya", message_id="2") == []
    owner.send("Sri", message_id="3")
    assert "betul?" in owner.last


@pytest.mark.any_backend
def test_voice_note_and_photo_get_a_kind_answer(owner: Chat) -> None:
    owner.send("/start")
    owner.send("ya")
    owner.send(unsupported="voice")
    assert "pesan suara" in owner.text and "Siapa nama Kakak?" in owner.last


@pytest.mark.any_backend
def test_english_speaker_gets_english(runner: ConversationRunner) -> None:
    chat = Chat(runner, "tg-en", channel="telegram", locale="en-US")
    chat.send("/start")
    assert "Do you agree?" in chat.last
    chat.send("/bahasa")
    chat.choose("Bahasa Indonesia")
    assert "Setuju?" in chat.last  # back to the question, now in Indonesian


@pytest.mark.any_backend
def test_a_name_taken_while_at_the_summary_is_renamed_and_back_to_the_summary(
    app: App, runner: ConversationRunner
) -> None:
    """Someone else registers the name while this owner is at the summary: the new name is
    asked, and then the summary again (not the category, the regency... once more)."""
    late = Chat(runner, "+6283333333333", phone="+6283333333333")
    for text in ("/start", "ya", "Sri Lestari", "ya", "Keripik Tempe Bu Sri", "3", "sidoarjo"):
        late.send(text)
    for text in ("waru", "Jl. Raya Waru No. 12", "lewati"):
        late.send(text)
    assert "Simpan" in [label for _, label in late.replies[-1].choices]  # at the summary
    register(Chat(runner, "+6281234567890", phone="+6281234567890"))  # takes the name first
    late.send("simpan")
    assert "sudah dipakai" in late.text
    late.send("Keripik Tempe Mbak Sri")
    assert "Simpan" in [label for _, label in late.replies[-1].choices], late.last
    late.send("simpan")
    assert {s.shop_name for s in sellers(app)} == {"Keripik Tempe Bu Sri", "Keripik Tempe Mbak Sri"}


def test_an_ambiguous_place_is_asked_about_by_its_name_not_the_whole_message() -> None:
    """ "di malang kak" is asked as "Malang yang mana, Kak?", never "Di Malang Kak yang mana"."""
    step = REGISTRATION.steps["regency"]
    env = Env(now=datetime(2026, 11, 28, tzinfo=UTC), channel="console", directory=None)  # type: ignore[arg-type]
    for typed in ("di malang kak", "Malang", "malang yang mana ya"):
        reading = step.read(Inbound(user_key="u", channel="console", text=typed), Ctx({}, env))
        assert isinstance(reading, Clarify)
        assert reading.question.params["place"] == "Malang"
