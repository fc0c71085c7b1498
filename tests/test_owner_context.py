"""One read of the person's context per message (the throughput issue), and nothing it skips
goes missing: notices, an admin added, a registration waiting for their answer."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlmodel import select

from bot.app import App
from bot.roles import add_admin
from bot.storage.models import ChannelAccount, Notice
from tests.conftest import Chat
from tests.test_registration import register

# The tables the context statement answers for; each is read by no other statement of a
# plain message (a flag in the context says when there is something to look at).
_CONTEXT_TABLES = ("admin", "facilitator", "notice", "consent_request", "umkm_record")


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(" ".join(statement.split()))

    sa.event.listen(app.db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        sa.event.remove(app.db.engine, "before_cursor_execute", note)


def _reads(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if re.search(rf"\b(FROM|JOIN) {table}\b", s)]


def test_a_registered_owner_s_message_reads_their_context_once(app: App, owner: Chat) -> None:
    register(owner)
    with statements(app) as seen:
        owner.send("menu")
    assert owner.replies, "the menu is answered"
    context = _reads(seen, "channel_account")
    assert len(context) == 1, context
    assert "JOIN conversation" in context[0]
    for table in _CONTEXT_TABLES:
        alone = [s for s in _reads(seen, table) if s not in context]
        assert alone == [], (table, alone)


def test_a_notice_written_between_messages_comes_with_the_next(app: App, owner: Chat) -> None:
    register(owner)
    owner.send("menu")
    with app.db.session() as session:
        account = session.exec(
            select(ChannelAccount).where(ChannelAccount.external_id == owner.user)
        ).one()
        params = {"name": "Keripik Pedas", "url": "https://pasar.example/p/1"}
        session.add(Notice(account_id=account.id or 0, msgid="sync.product_live", params=params))
    owner.send("menu")
    assert "Produk *Keripik Pedas* sudah tayang" in owner.replies[0].text, owner.text
    with app.db.session() as session:
        left = session.exec(select(Notice).where(Notice.sent_at == None)).all()  # noqa: E711
    assert left == []


def test_an_admin_added_between_messages_is_one_at_the_next(app: App, owner: Chat) -> None:
    register(owner)
    owner.send("/siaran")
    assert "siaran hanya untuk admin" in owner.text
    with app.db.session() as session:
        add_admin(session, owner.channel, owner.user)
    owner.send("/siaran")
    assert "siaran hanya untuk admin" not in owner.text, owner.text
    assert owner.replies[-1].choices, owner.text  # who to send it to: the segments


def test_a_number_that_gets_a_shop_elsewhere_is_linked_at_its_next_message(app: App) -> None:
    """Known on WhatsApp before the shop existed (so its context said: no shop for this
    number); registered on Telegram with the same number; the WhatsApp chat then links."""
    phone = "+6281234500077"
    whatsapp = Chat(app.runner, phone, channel="whatsapp", phone=phone)
    whatsapp.send("halo")
    telegram = Chat(app.runner, "tg-77", channel="telegram")
    telegram.send("/start")
    telegram.send("ya")
    telegram.send("Sri Wahyuni")
    telegram.send(contact_phone=phone, sender_phone=phone)  # Telegram's own-number share
    for answer in ("Keripik Bu Sri", "1", "sidoarjo", "lewati", "Jl. Raya Waru 1"):
        telegram.send(answer)
    telegram.send("lewati")
    telegram.send("simpan")
    assert "sudah terdaftar" in telegram.text
    whatsapp.send("menu")
    assert "sudah terdaftar untuk toko *Keripik Bu Sri*" in whatsapp.replies[0].text
    with app.db.session() as session:
        accounts = session.exec(select(ChannelAccount)).all()
    assert len({a.seller_id for a in accounts}) == 1 and accounts[0].seller_id is not None
