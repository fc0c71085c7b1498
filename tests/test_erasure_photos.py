"""/hapus_data takes the owner's photos with it: rows and files, except what others also have."""

from __future__ import annotations

import pytest
from sqlmodel import select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.storage.models import ChannelAccount, Photo, PhotoUpload, Product
from bot.storage.sellers import erase_seller
from flows.messages import PhotoRef
from tests import images
from tests.conftest import Chat
from tests.test_registration import register
from tests.test_sync import list_product

OWNER = "+6281234567890"
OTHER = "+6285712345678"


def photo(app: App, seed: int) -> PhotoRef:
    ref = app.media.ingest(images.sharp(seed))
    assert isinstance(ref, PhotoRef)
    return ref


def stored(app: App) -> tuple[set[str], set[str], set[tuple[str, str]]]:
    """Photo rows, photo files, and (account, photo) uploads, by sha256 and account."""
    with app.db.session() as s:
        rows = set(s.exec(select(Photo.sha256)))
        uploads = {
            (account, sha)
            for account, sha in s.exec(
                select(ChannelAccount.external_id, PhotoUpload.sha256).join(
                    ChannelAccount, ChannelAccount.id == PhotoUpload.account_id
                )
            )
        }
    files = {f.stem for f in app.settings.media_dir.rglob("*.jpg")}
    return rows, files, uploads


def account(app: App, external_id: str) -> ChannelAccount:
    with app.db.session() as s:
        return s.exec(select(ChannelAccount).where(ChannelAccount.external_id == external_id)).one()


def test_erasing_takes_the_owners_photos_but_not_one_another_seller_sent(
    app: App, runner: ConversationRunner
) -> None:
    owner = Chat(runner, OWNER, phone=OWNER)
    register(owner)
    list_product(app, owner, "Keripik Tempe Pedas", seeds=(61, 62))
    owner.send("tidak")
    list_product(app, owner, "Sambel Bawang Bu Sri", seeds=(63,))
    owner.send("tidak")
    owner.send(photos=(photo(app, 64),))  # a photo never attached to a product
    owner.send("batal")
    other = Chat(runner, OTHER, phone=OTHER)
    register(other, shop="Kaos Sablon Pak Budi")
    other.send(photos=(photo(app, 62),))  # the same picture as one of the owner's
    owners = {photo(app, seed).sha256 for seed in (61, 62, 63, 64)}
    shared = photo(app, 62).sha256
    rows, files, uploads = stored(app)
    assert owners <= rows and owners <= files
    assert {sha for who, sha in uploads if who == OWNER} == owners
    assert (OTHER, shared) in uploads

    owner.send("/hapus_data")
    owner.choose("Ya, hapus")
    assert "sudah dihapus" in owner.text
    assert "account.erased_photos" in owner.replies[0].msgids  # and says how many photos
    # all four of the owner's photos left their data; the file of the one another seller
    # also sent stays, as that seller's (below)
    assert "termasuk 4 foto" in owner.text

    rows, files, uploads = stored(app)
    assert rows == files == {shared}  # the other seller's copy stays, row and file
    assert uploads == {(OTHER, shared)}
    with app.db.session() as s:
        assert all(p.photos == [] for p in s.exec(select(Product)))
    other.send("selesai")  # the other seller carries on with the photo they sent
    assert "nama produknya" in other.last


def test_an_owner_without_a_shop_erases_the_photos_they_sent(
    app: App, runner: ConversationRunner
) -> None:
    owner = Chat(runner, OWNER, phone=OWNER)
    owner.send("/start")
    owner.send("iya")
    owner.send(photos=(photo(app, 71), photo(app, 72)))
    rows, files, uploads = stored(app)
    assert {sha for _, sha in uploads} == rows == files and len(rows) == 2
    owner.send("/hapus_data")
    owner.choose("Ya, hapus")
    assert stored(app) == (set(), set(), set())


def test_files_go_only_once_the_erasure_commits(app: App, runner: ConversationRunner) -> None:
    owner = Chat(runner, OWNER, phone=OWNER)
    register(owner)
    list_product(app, owner, "Kopi Bubuk Dampit", seeds=(81, 82))
    owner.send("tidak")
    paths = [app.media.files.path_for(photo(app, seed).sha256) for seed in (81, 82)]
    before = stored(app)

    with pytest.raises(RuntimeError), app.db.session() as s:
        assert erase_seller(s, s.merge(account(app, OWNER))) == 2
        raise RuntimeError("something after the erasure fails: it is rolled back")
    assert stored(app) == before and all(p.exists() for p in paths)

    with app.db.session() as s:
        assert erase_seller(s, s.merge(account(app, OWNER))) == 2
        assert all(p.exists() for p in paths)  # not before the commit
    assert not any(p.exists() for p in paths)
    assert stored(app) == (set(), set(), set())

    again = photo(app, 81)  # the same photo sent afterwards is stored afresh
    assert app.media.files.path_for(again.sha256).exists()
    assert app.media.delete(again.sha256) is False  # its row names it: the file stays
    assert app.media.files.path_for(again.sha256).exists()


def test_photos_a_facilitator_sent_for_the_owners_shop_go_with_it(app: App) -> None:
    from tests.test_facilitators import OWNER_PHONE, add_product, joined, register_owner

    facilitator, _ = joined(app)
    register_owner(facilitator)
    add_product(app, facilitator)
    owner = Chat(app.runner, "900001", channel="telegram")
    owner.send("/start")
    owner.send("ok", contact_phone=OWNER_PHONE, sender_phone=OWNER_PHONE)
    owner.choose("SETUJU")
    sha = photo(app, 31).sha256
    assert stored(app) == ({sha}, {sha}, {(facilitator.user, sha)})
    owner.send("/hapus_data")
    owner.choose("Ya, hapus")
    assert "sudah dihapus" in owner.text
    assert stored(app) == (set(), set(), set())
