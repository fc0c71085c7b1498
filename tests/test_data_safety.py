# ruff: noqa: F811  (the running fixture is imported from test_facilitators)
"""What a cold trial found going wrong between owners and their facilitators; each docstring
says what was typed and what the bot did then."""

from __future__ import annotations

import pytest
from sqlmodel import col, select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.storage.models import ChannelAccount, Product, Seller
from tests import images
from tests.conftest import Chat
from tests.test_facilitators import (  # noqa: F401  (running is a fixture)
    OWNER_PHONE,
    add_product,
    joined,
    labels,
    new_facilitator,
    product_until_summary,
    register_owner,
    running,
    seller_named,
)
from tests.test_registration import register
from tests.test_whatsapp import Running

SHOP = "Sambal Bu Siti"
FACILITATOR = "700001"


def open_first_product(chat: Chat) -> None:
    """From anywhere: the menu, "Produk saya", and the first product in it."""
    chat.send("menu")
    chat.choose("Produk saya")
    chat.send("1")


def live_sellers(app: App) -> list[Seller]:
    with app.db.session() as s:
        return list(s.exec(select(Seller).where(Seller.status != "erased")))


def facilitator_account(app: App) -> ChannelAccount:
    with app.db.session() as s:
        return s.exec(select(ChannelAccount).where(ChannelAccount.external_id == FACILITATOR)).one()


def owner_chat(app: App, phone: str = OWNER_PHONE) -> Chat:
    return Chat(app.runner, phone, channel="whatsapp", phone=phone)


def agreed_shop(app: App) -> tuple[Chat, Chat]:
    """A facilitator's registered shop whose owner said SETUJU: their two chats."""
    chat, _ = joined(app)
    register_owner(chat)
    owner = owner_chat(app)
    owner.send("halo")
    owner.send("setuju")
    return chat, owner


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
    assert "menolak" in chat.text  # told at once (the notice), the change not stored
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
    chat, owner = agreed_shop(app)
    assert seller_named(app, SHOP).status == "active"
    product_until_summary(app, chat, "Rengginang")
    assert "Simpan" in labels(chat)
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


# --- one number, one shop; and who has which shop is nobody else's business -----------------

YULI = "+6281300000007"


def yuli(runner: ConversationRunner) -> Chat:
    """Bu Yuli signed up herself with her chat's number, 0813-0000-0007."""
    chat = Chat(runner, YULI, phone=YULI)
    register(chat, shop="Rengginang Bu Yuli")
    assert "sudah terdaftar" in chat.text
    return chat


def phones(app: App) -> dict[str, str | None]:
    with app.db.session() as s:
        return {str(s.shop_name): s.phone for s in s.exec(select(Seller))}


@pytest.mark.any_backend
def test_an_owner_cannot_change_their_number_to_another_shops(
    app: App, runner: ConversationRunner, owner: Chat
) -> None:
    """'Ubah data toko' > 'nomor hp ganti 0813 0000 0007' (Bu Yuli's shop's number) was taken
    and saved: two shops under one number."""
    yuli(runner)
    register(owner)
    owner.send("menu")
    owner.choose("Ubah data toko")
    owner.send("nomor hp ganti 0813 0000 0007")
    assert "dipakai toko lain" in owner.text and "Rengginang" not in owner.text
    owner.send("simpan")
    assert phones(app)["Keripik Tempe Bu Sri"] == "+6281234567890"
    owner.send("menu")
    owner.choose("Ubah data toko")
    owner.send("nomor hp ganti 0813 0000 0006")  # a free one is still taken
    owner.send("simpan")
    assert phones(app)["Keripik Tempe Bu Sri"] == "+6281300000006"


@pytest.mark.any_backend
def test_signing_up_with_another_shops_number_is_refused(
    app: App, runner: ConversationRunner, owner: Chat
) -> None:
    """At sign-up, 'Pakai nomor lain' and Bu Yuli's shop's number was accepted."""
    yuli(runner)
    owner.send("/start")
    owner.send("iya")
    owner.send("sri wahyuni")
    owner.choose("Pakai nomor lain")
    owner.send("0813 0000 0007")
    assert "dipakai toko lain" in owner.last and "Rengginang" not in owner.text
    owner.send("0813 0000 0006")
    assert "nama toko" in owner.last
    owner.send("bukan, pake nomer istri 0813 0000 0007")  # not at this question, but typed
    owner.send("menu")
    assert sorted(p for p in phones(app).values() if p) == [YULI]


@pytest.mark.any_backend
def test_a_facilitator_is_not_told_whose_shop_a_number_is(
    app: App, runner: ConversationRunner
) -> None:
    """/daftarkan with any number said 'Nomor ini sudah punya toko *Rengginang Bu Yuli*':
    whose shop any number is, told to any facilitator. Only their own owners' are named."""
    yuli(runner)
    chat, _ = joined(app)
    chat.send("/daftarkan")
    chat.send("0813 0000 0007")
    assert "sudah terdaftar" in chat.last and "Rengginang" not in chat.text
    chat.send("batal")
    register_owner(chat)
    chat.send("/daftarkan")
    chat.send("0812 0000 9001")  # Bu Siti, whom they registered themselves
    assert SHOP in chat.last
    chat.send("batal")

    other = Chat(app.runner, "700002", channel="telegram", phone="+6285700000002")
    other.send(f"/pendamping {new_facilitator(app, 'Rina Wati').invite_code}")
    other.send("/daftarkan")
    other.send("0812 0000 9001")  # another facilitator's owner
    assert "sudah terdaftar" in other.last and SHOP not in other.text


@pytest.mark.any_backend
def test_a_facilitator_cannot_register_an_owner_who_has_a_shop_under_another_number(
    app: App, runner: ConversationRunner
) -> None:
    """Bu Yuli signed up from 0813-0000-0007 giving her shop her other number; a facilitator's
    /daftarkan of 0813-0000-0007 was taken, and its request never reached her: her chat
    shows her own shop's menu, so 'setuju' got the menu and the request waited to expire."""
    chat = Chat(runner, YULI, phone=YULI)
    chat.send("/start")
    chat.send("iya")
    chat.send("bu yuli")
    chat.choose("Pakai nomor lain")
    chat.send("0813 0000 0005")
    chat.send("Rengginang Bu Yuli")
    chat.send("1")
    chat.send("sidoarjo")
    chat.send("lewati")
    chat.send("Jl. Mawar 1")
    chat.send("lewati")
    chat.send("simpan")
    assert phones(app) == {"Rengginang Bu Yuli": "+6281300000005"}
    facilitator, _ = joined(app)
    facilitator.send("/daftarkan")
    facilitator.send("0813 0000 0007")
    assert "sudah terdaftar" in facilitator.last and "Rengginang" not in facilitator.text
    assert "nama pemilik" not in facilitator.last


# --- two people changing one product ----------------------------------------------------------


def stored_product(app: App) -> Product:
    with app.db.session() as s:
        return s.exec(select(Product).where(col(Product.status) != "deleted")).one()


def change(chat: Chat, typed: str) -> None:
    """At a listed product's question "mau apa", a change typed with its new value."""
    chat.send(typed)
    if "Ya" in labels(chat):  # "Harga Rp25.000 ya, Kak?"
        chat.send("ya")
    assert "Simpan" in labels(chat)


def test_two_changes_to_one_product_are_both_kept(running: Running) -> None:
    """The owner opened their product (Produk saya > 1 > ubah harga) and changed the price;
    meanwhile their facilitator changed its stock and saved; the owner's 'simpan' then wrote
    the stock back as it was when they opened it: the facilitator's change silently lost."""
    app = running.app
    chat, owner = agreed_shop(app)
    add_product(app, chat)
    assert (stored_product(app).price, stored_product(app).stock) == (18000, 20)

    open_first_product(owner)
    change(owner, "ubah harga 25rb")
    open_first_product(chat)
    change(chat, "ubah stok 7")
    chat.send("simpan")
    assert (stored_product(app).price, stored_product(app).stock) == (18000, 7)
    owner.send("simpan")
    assert (stored_product(app).price, stored_product(app).stock) == (25000, 7)

    owner.send("menu")  # and the other way round, once more
    owner.choose("Produk saya")
    owner.send("1")
    change(owner, "ubah stok 5")
    open_first_product(chat)
    change(chat, "ubah harga 30rb")
    owner.send("simpan")
    chat.send("simpan")
    assert (stored_product(app).price, stored_product(app).stock) == (30000, 5)


def test_two_changes_to_one_shop_are_both_kept(running: Running) -> None:
    """The same for the shop's data: the owner's 'Ubah data toko' saved after their
    facilitator's wrote back the address the facilitator had just corrected."""
    app = running.app
    chat, owner = agreed_shop(app)
    owner.send("menu")
    owner.choose("Ubah data toko")
    owner.send("nib 1234567890123")
    chat.choose("Ubah data toko")
    chat.send("alamat jl anggrek 11")
    chat.send("simpan")
    assert seller_named(app, SHOP).address == "Jl Anggrek 11"
    owner.send("simpan")
    seller = seller_named(app, SHOP)
    assert (seller.address, seller.nib) == ("Jl Anggrek 11", "1234567890123")


def test_the_later_of_two_changes_to_one_field_is_told(running: Running) -> None:
    """Both changed the price: the later 'simpan' is kept, and says the price was changed
    meanwhile (the first one is not told anything)."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    add_product(app, chat)
    owner = owner_chat(app)
    owner.send("halo")
    owner.send("setuju")
    open_first_product(owner)
    change(owner, "ubah harga 25rb")
    open_first_product(chat)
    change(chat, "ubah harga 30rb")
    chat.send("simpan")
    assert "sudah disimpan" in chat.text and "juga diubah" not in chat.text
    owner.send("simpan")
    assert "*Harga* produk ini tadi juga diubah" in owner.text
    assert stored_product(app).price == 25000


def test_a_product_deleted_meanwhile_does_not_come_back(running: Running) -> None:
    """The facilitator was changing a product's stock; its owner deleted the product; the
    facilitator's 'simpan' listed it again as a new product."""
    app = running.app
    chat, _ = joined(app)
    register_owner(chat)
    add_product(app, chat)
    owner = owner_chat(app)
    owner.send("halo")
    owner.send("setuju")
    open_first_product(chat)
    change(chat, "ubah stok 7")
    open_first_product(owner)
    owner.choose("Hapus")
    owner.choose("Ya, hapus")
    assert "sudah dihapus" in owner.text
    chat.send("simpan")
    assert "sudah dihapus" in chat.text and "sudah disimpan" not in chat.text
    with app.db.session() as s:
        assert s.exec(select(Product).where(col(Product.status) != "deleted")).all() == []


def test_a_draft_deleted_meanwhile_is_not_kept_again(running: Running) -> None:
    """The facilitator was continuing a product's draft; its owner deleted the draft; the
    facilitator's 'menu' kept it again (as a new draft)."""
    app = running.app
    chat, owner = agreed_shop(app)
    chat.choose("Tambah produk")
    chat.send(photos=(app.media.ingest(images.sharp(33)),))
    chat.send("selesai")
    chat.send("Rengginang")
    chat.send("menu")
    assert "draf produk ini tetap tersimpan" in chat.text
    chat.choose("Produk saya")
    chat.send("1")
    chat.choose("Lanjutkan")
    open_first_product(owner)
    owner.choose("Hapus")
    owner.choose("Ya, hapus")
    chat.send("menu")
    assert "tetap tersimpan" not in chat.text  # not claimed either
    with app.db.session() as s:
        assert s.exec(select(Product).where(col(Product.status) != "deleted")).all() == []
