# ruff: noqa: F811  (the running fixture is imported from test_facilitators)
"""What a cold trial found going wrong between owners and their facilitators; each docstring
says what was typed and what the bot did then."""

from __future__ import annotations

from sqlmodel import col, select

from bot.app import App
from bot.storage.models import ChannelAccount, Product, Seller
from tests import images
from tests.conftest import Chat
from tests.test_facilitators import (  # noqa: F401  (running is a fixture)
    OWNER_PHONE,
    joined,
    labels,
    new_facilitator,
    register_owner,
    running,
    seller_named,
)
from tests.test_registration import register
from tests.test_whatsapp import Running

SHOP = "Sambal Bu Siti"
FACILITATOR = "700001"


def live_sellers(app: App) -> list[Seller]:
    with app.db.session() as s:
        return list(s.exec(select(Seller).where(Seller.status != "erased")))


def facilitator_account(app: App) -> ChannelAccount:
    with app.db.session() as s:
        return s.exec(select(ChannelAccount).where(ChannelAccount.external_id == FACILITATOR)).one()


def owner_chat(app: App, phone: str = OWNER_PHONE) -> Chat:
    return Chat(app.runner, phone, channel="whatsapp", phone=phone)


def product_until_summary(app: App, chat: Chat, name: str = "Rengginang") -> None:
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
    assert "Simpan" in labels(chat)


def _no_shop_for_the_facilitator(app: App) -> None:
    assert facilitator_account(app).seller_id is None
    assert [s.shop_name for s in live_sellers(app)] == []


def test_a_refused_shops_change_is_not_saved_as_the_facilitators_own_shop(
    running: Running,
) -> None:
    """The facilitator had 'Ubah data toko' open for a shop; its owner answered TOLAK; the
    facilitator's 'simpan' then said 'Selamat, Kak! Toko … sudah terdaftar' and stored an
    active seller with the owner's data, linked to the facilitator's own chat."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    chat.choose("Ubah data toko")
    chat.send("alamat jl anggrek 11")
    assert "Jl Anggrek 11" in chat.text
    owner = owner_chat(app)
    owner.send("halo")
    owner.send("tolak")
    assert "sudah kami hapus" in owner.text
    chat.send("simpan")
    assert "menolak" in chat.text and "tidak kami simpan" in chat.text
    assert "terdaftar" not in chat.text and "Selamat" not in chat.text
    _no_shop_for_the_facilitator(app)
    assert "Daftarkan pemilik" in labels(chat) and "Tambah produk" not in labels(chat)
    chat.send("menu")
    assert "Tambah produk" not in labels(chat)
    _no_shop_for_the_facilitator(app)


def test_an_erased_shops_product_is_not_claimed_saved(running: Running) -> None:
    """The facilitator was adding a product for a live shop; its owner ran /hapus_data; the
    facilitator's 'simpan' said 'Produk *Rengginang* sudah disimpan 🎉' though nothing was."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    owner = owner_chat(app)
    owner.send("halo")
    owner.send("setuju")
    assert seller_named(app, SHOP).status == "active"
    product_until_summary(app, chat)
    owner.send("/hapus_data")
    owner.send("Ya, hapus")
    assert "sudah dihapus" in owner.text
    chat.send("simpan")
    assert "menghapus" in chat.text and "tidak kami simpan" in chat.text
    assert "sudah disimpan" not in chat.text
    _no_shop_for_the_facilitator(app)
    with app.db.session() as s:
        assert s.exec(select(Product).where(col(Product.status) != "deleted")).all() == []


def test_a_facilitator_with_a_shop_of_their_own_does_not_get_an_erased_shops_product(
    running: Running,
) -> None:
    """A facilitator who also sells: the helped shop's product, saved after its owner erased
    their data, must not land in the facilitator's own shop."""
    app = running.app
    chat = Chat(app.runner, FACILITATOR, channel="telegram", phone="+6285700000001")
    register(chat, shop="Kopi Bu Dewi")  # their own, before they became a facilitator
    chat.send(f"/pendamping {new_facilitator(app).invite_code}")
    assert "Selamat bergabung" in chat.text
    register_owner(chat)
    owner = owner_chat(app)
    owner.send("halo")
    owner.send("setuju")
    product_until_summary(app, chat)
    owner.send("/hapus_data")
    owner.send("Ya, hapus")
    chat.send("simpan")
    assert "menghapus" in chat.text and "sudah disimpan" not in chat.text
    with app.db.session() as s:
        assert s.exec(select(Product).where(col(Product.status) != "deleted")).all() == []
    assert [s.shop_name for s in live_sellers(app)] == ["Kopi Bu Dewi"]
