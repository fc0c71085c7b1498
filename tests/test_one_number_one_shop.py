"""One phone number, one live shop, held by the database too (migration 0017): the flows
check the number when it is given and again at the save, and the unique index catches two
processes saving the same number at one moment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from bot.app import App
from bot.storage.database import Database
from bot.storage.models import Seller
from tests.conftest import Chat, fresh_postgres_database
from tests.test_facilitators import joined
from tests.test_shop_name_keys import _migrate

PHONE = "+6281200009001"


def live_shops(app: App, phone: str = PHONE) -> list[Seller]:
    with app.db.session() as s:
        return list(
            s.exec(
                select(Seller).where(
                    Seller.phone == phone,
                    col(Seller.status).in_(("active", "awaiting_consent")),
                )
            )
        )


def test_a_second_live_shop_on_a_number_is_refused(app: App) -> None:
    with app.db.session() as s:
        s.add(Seller(shop_name="Sambal Bu Siti", phone=PHONE))
    for status in ("active", "awaiting_consent"):
        with pytest.raises(IntegrityError), app.db.session() as s:
            s.add(Seller(shop_name="Sambal Lain", phone=PHONE, status=status))
    with app.db.session() as s:  # a shop that is no longer live keeps no claim on it
        s.add(Seller(shop_name="Toko Lama", phone=PHONE, status="erased"))
        s.add(Seller(shop_name="Toko Tanpa Nomor"))
        s.add(Seller(shop_name="Toko Tanpa Nomor Juga"))
    assert len(live_shops(app)) == 1


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # two processes
def test_two_saves_of_one_number_at_one_moment_keep_one_shop(app: App) -> None:
    """A facilitator saves a shop for 0812-0000-9001 while, in another process, the same
    number's shop is committed between the flow's check and its insert. The index refuses
    the second; the runner tries the message again, and the flow says the number is taken."""
    chat, _ = joined(app)
    chat.send("/daftarkan")
    chat.send("0812-0000-9001")
    for answer in ("siti aminah", "Sambal Bu Siti", "1", "sidoarjo", "lewati", "Jl. Mawar 3"):
        chat.send(answer)
    chat.send("lewati")
    assert "Cek dulu data pemilik" in chat.last

    other = Database(app.settings.database_url)  # the other process
    raced: list[bool] = []

    def meanwhile(conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if not raced and statement.lstrip().upper().startswith("INSERT INTO SELLER"):
            raced.append(True)
            with other.session() as s:
                s.add(Seller(shop_name="Sambal Tetangga", phone=PHONE, status="active"))

    sa.event.listen(app.db.engine, "before_cursor_execute", meanwhile)
    try:
        chat.send("simpan")
    finally:
        sa.event.remove(app.db.engine, "before_cursor_execute", meanwhile)
        other.dispose()
    assert raced == [True]
    assert [s.shop_name for s in live_shops(app)] == ["Sambal Tetangga"]
    assert "sudah terdaftar" in chat.last and "Sambal Tetangga" not in chat.last
    chat.send("menu")  # and the facilitator's chat goes on
    assert chat.last


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'pelapak.db'}"
        return
    with fresh_postgres_database("pelapak_phones") as url:
        yield url


def test_the_migration_names_shops_that_already_share_a_number(empty_database: str) -> None:
    url = empty_database
    _migrate(url, "0016")
    db = Database(url)
    try:
        with db.session() as session:  # 0017 changes no column: the model fits 0016's table
            for seller_id, phone, status in (
                (1, PHONE, "active"),
                (2, PHONE, "awaiting_consent"),
                (3, PHONE, "erased"),
                (4, "+6281200009002", "active"),
            ):
                session.add(Seller(id=seller_id, phone=phone, status=status))
        with pytest.raises(RuntimeError, match=r"1 phone number\(s\).*seller ids 1, 2\)"):
            _migrate(url, "head")
        with db.engine.begin() as conn:  # an admin erases one; then it upgrades
            conn.execute(sa.text("UPDATE seller SET status = 'erased', phone = NULL WHERE id = 2"))
        _migrate(url, "head")
        with pytest.raises(IntegrityError), db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE seller SET status = 'active' WHERE id = 3"))
    finally:
        db.dispose()


def test_an_owner_whose_number_another_shop_typed_is_not_stuck(app: App) -> None:
    """Someone registered a shop typing 0812-0000-7777 (unconfirmed); its real owner, chatting
    from that number, registers: told the number is taken and asked for another, never the
    save failing at every try on the one-shop-per-number index."""
    with app.db.session() as s:
        s.add(Seller(shop_name="Sumber Rejeki Budi", phone="+6281200007777", status="active"))
    owner = Chat(app.runner, "+6281200007777", channel="whatsapp", phone="+6281200007777")
    for said in ("/start", "ya", "Dewi Lestari"):
        owner.send(said)
    assert "0812-0000-7777" in owner.last
    owner.send("ya")
    assert "sudah tercatat di toko lain" in owner.text and "nomor HP" in owner.text
    for said in ("0812-0000-8888", "Kue Basah Dewi", "1", "sidoarjo", "lewati", "Jl. Mawar 3"):
        owner.send(said)
    owner.send("lewati")
    owner.send("simpan")
    assert "sudah terdaftar" in owner.text
    assert [s.shop_name for s in live_shops(app, "+6281200007777")] == ["Sumber Rejeki Budi"]
    assert [s.shop_name for s in live_shops(app, "+6281200008888")] == ["Kue Basah Dewi"]
