"""Listing products from photos, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import App
from bot.storage.models import OutboxEvent, Product
from flows.messages import shortened
from tests import images
from tests.conftest import Chat
from tests.test_registration import register

# the product flow through the runner; on PostgreSQL too in test_fuzz_runner and test_telegram
pytestmark = pytest.mark.any_backend


def to_price_question(app: App, owner: Chat) -> None:
    register(owner)
    album = tuple(app.media.ingest(images.sharp(seed)) for seed in (21, 22, 23))
    owner.send(photos=album)
    assert len(owner.replies) == 1 and "3 dari 5" in owner.last  # one reply for the album
    owner.send("selesai")
    owner.send("Kaos Batik Tulis Sidoarjo")
    assert "*Fashion & Pakaian*" in owner.last
    owner.send("ya")


def test_product_with_album_and_shorthand_price(app: App, owner: Chat) -> None:
    to_price_question(app, owner)
    owner.send("25.000 - 30.000")
    assert "bukan kisaran" in owner.last
    owner.send("75rb")
    assert owner.last == "Harga Rp75.000 ya, Kak?"
    owner.send("iya")
    owner.send("banyak")
    assert "belum kebaca" in owner.last
    owner.send("selusin")
    owner.choose("1")
    owner.send("3")  # a bare small number is kilos: the bot checks
    assert "3 kg" in owner.last
    owner.send("tidak")
    owner.send("2 ons")
    owner.send("second")
    assert "Pakai ini" in [label for _, label in owner.replies[-1].choices]
    owner.send("pendek")
    assert "terlalu pendek" in owner.last
    owner.choose("Pakai ini")
    summary = owner.replies[-1]
    assert "Rp75.000" in summary.text and "200 gr" in summary.text and summary.photo
    owner.send("ubah harga")
    owner.send("80000")
    assert "Rp80.000" in owner.last  # straight back to the summary
    owner.choose("Simpan")
    assert "sudah disimpan" in owner.text and "tambah produk lain" in owner.last
    with app.db.session() as s:
        [product] = s.exec(select(Product))
        kinds = [e.kind for e in s.exec(select(OutboxEvent).order_by(OutboxEvent.id))]
        [event] = s.exec(select(OutboxEvent).where(OutboxEvent.kind == "product.upsert"))
    assert (product.price, product.stock, product.weight_grams, product.condition) == (
        80000,
        12,
        200,
        "used",
    )
    assert product.category == "fashion" and len(product.photos) == 3
    assert kinds == ["seller.upsert", "product.upsert"]
    assert event.payload["price"] == {"amount": 80000, "currency": "IDR"}
    assert [p["position"] for p in event.payload["photos"]] == [0, 1, 2]


@pytest.mark.any_backend
def test_photo_coaching(app: App, owner: Chat) -> None:
    register(owner)
    owner.send("Keripik")
    assert "foto dulu" in owner.last
    assert "Ketik *menu*" in owner.last  # an owner with no photo at hand has a way out
    owner.send(photos=(app.media.ingest(images.tiny()),))
    assert "terlalu kecil" in owner.last
    owner.send(photos=(app.media.ingest(images.text_named_jpg()),))
    assert "bukan foto" in owner.last
    blurry = app.media.ingest(images.blurred(seed=31))
    owner.send(photos=(blurry,))
    assert "buram" in owner.last
    owner.choose("Pakai")
    assert "1 foto" in owner.last
    owner.send(photos=(blurry,))
    assert "sudah Kakak kirim" in owner.last
    owner.send(photos=(app.media.ingest(images.dark(seed=32)),))
    assert "gelap" in owner.last
    owner.choose("Kirim ulang")
    owner.send(photos=(app.media.ingest(images.sharp(seed=33)),))
    assert "2 dari 5" in owner.last
    owner.send(unsupported="sticker")
    assert "Stikernya" in owner.text


def test_products_list_edit_and_delete(app: App, owner: Chat) -> None:
    test_product_with_album_and_shorthand_price(app, owner)
    owner.send("tidak")
    owner.send("produk saya")
    assert "menunggu tayang" in owner.text
    owner.send("1")
    owner.choose("Hapus")
    owner.choose("Ya, hapus")
    assert "sudah dihapus" in owner.text
    with app.db.session() as s:
        [product] = s.exec(select(Product))
        kinds = [e.kind for e in s.exec(select(OutboxEvent).order_by(OutboxEvent.id))]
    assert product.status == "deleted"
    assert kinds[-1] == "product.delete"


def _named_draft_left_for_the_menu(app: App, owner: Chat, name: str, seed: int) -> None:
    """A registered owner sends a photo, names the product, then goes to the menu."""
    register(owner)
    owner.send(photos=(app.media.ingest(images.sharp(seed=seed)),))
    owner.send("selesai")
    owner.send(name)
    owner.send("menu")


def test_unfinished_product_is_kept_and_continued(app: App, owner: Chat) -> None:
    _named_draft_left_for_the_menu(app, owner, "Sambal Bawang Bu Sri", seed=41)
    assert "Mau apa sekarang" in owner.last
    with app.db.session() as s:
        [draft] = s.exec(select(Product))
    assert (draft.status, draft.name, len(draft.photos)) == ("draft", "Sambal Bawang Bu Sri", 1)
    owner.choose("Produk saya")
    assert "belum selesai" in owner.text
    owner.send("1")
    owner.choose("Lanjutkan")
    assert "*Makanan & Minuman*" in owner.last  # continues at the first missing answer


def test_a_photo_from_the_menu_left_unnamed_is_never_listed_as_a_dash(
    app: App, owner: Chat
) -> None:
    """A photo at the menu starts a product; left before its name, the draft keeps the photo
    and is listed by what it has ("tanpa nama, 1 foto"), never as "-"."""
    register(owner)
    owner.send("menu")
    owner.send(photos=(app.media.ingest(images.sharp(seed=42)),))
    assert "1 dari 5" in owner.last  # a new product with that photo
    owner.send("menu")
    owner.choose("Produk saya")
    listed = owner.replies[-1]
    assert "-" not in [label for _, label in listed.choices]
    assert "tanpa nama" in listed.text and "\n📝 -" not in listed.text
    owner.send("1")
    assert "*-*" not in owner.last and "tanpa nama" in owner.last
    owner.choose("Lanjutkan")
    assert "nama produknya" in owner.last  # where it stopped: the name
    with app.db.session() as s:
        [draft] = s.exec(select(Product))
    assert draft.name in (None, "") and len(draft.photos) == 1


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("Keripik Tempe", 30, "Keripik Tempe"),
        ("Keripik Tempe Pedas Daun Jeruk Khas Malang", 30, "Keripik Tempe Pedas Daun…"),
        ("Sambal Bawang", 10, "Sambal…"),
        ("Supercalifragilistic", 10, "Supercali…"),  # one long word: cut, still with "…"
        ("Kopi Tubruk ", 11, "Kopi Tubruk"),
    ],
)
def test_labels_are_shortened_between_words(text: str, limit: int, expected: str) -> None:
    assert shortened(text, limit) == expected
    assert len(shortened(text, limit)) <= limit


def test_a_telegram_button_is_cut_between_words() -> None:
    from bot.channels.telegram import _markup
    from bot.outgoing import Reply

    caption = "Keripik Tempe Pedas Daun Jeruk Khas Malang Asli Buatan Ibu Rumah Tangga"
    markup = _markup(Reply(text="", choices=(("caption", caption),)))
    assert markup is not None
    label = markup.inline_keyboard[0][0].text
    assert label == "Keripik Tempe Pedas Daun Jeruk Khas Malang Asli Buatan Ibu…"


def test_a_long_product_name_on_its_button_is_cut_between_words(app: App, owner: Chat) -> None:
    _named_draft_left_for_the_menu(
        app, owner, "Keripik Tempe Pedas Daun Jeruk Khas Malang", seed=43
    )
    owner.choose("Produk saya")
    [(_, label)] = owner.replies[-1].choices
    assert label == "Keripik Tempe Pedas Daun…"  # not "...Daun Jeruk Kh" cut mid-word


@pytest.mark.any_backend
def test_choosing_another_category_from_the_full_list(app: App, owner: Chat) -> None:
    register(owner)
    owner.send(photos=(app.media.ingest(images.sharp(seed=61)),))
    owner.send("selesai")
    owner.send("Tas Anyaman Pandan")
    owner.choose("Kategori lain")
    assert len(owner.replies[-1].choices) == 14
    owner.send("kerajinan tangan")  # typed label of a button from the list
    assert "Berapa harganya" in owner.last
