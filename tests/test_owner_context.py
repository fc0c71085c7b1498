"""One read of the person's context per message (the throughput issue), and nothing it skips
goes missing: notices, an admin added, a registration waiting for their answer."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.roles import add_admin
from bot.storage.context import load_context
from bot.storage.models import ChannelAccount, Conversation, Notice, Seller
from bot.storage.sellers import latest_account
from tests.conftest import Chat, Clock
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
    # PostgreSQL takes waiting notices every time: one may be committed while the message
    # waits for its rows (see the tests at the end)
    flagged = _CONTEXT_TABLES if app.db.is_sqlite else set(_CONTEXT_TABLES) - {"notice"}
    for table in flagged:
        alone = [s for s in _reads(seen, table) if s not in context]
        assert alone == [], (table, alone)


def _writes(seen: list[str], table: str) -> list[str]:
    return [s for s in seen if re.match(rf"(UPDATE|INSERT INTO) {table}\b", s)]


def test_a_message_writes_its_conversation_once_and_the_account_once_a_minute(
    app: App, owner: Chat, clock: Clock
) -> None:
    """When the person last wrote is kept to the minute: the WhatsApp window it decides
    closes up to a minute early, never late, and most messages write no account row."""
    register(owner)
    clock.advance(minutes=5)
    with statements(app) as seen:
        owner.send("menu")
    assert len(_writes(seen, "channel_account")) == 1, seen
    assert len(_writes(seen, "conversation")) == 1, seen
    clock.advance(seconds=40)
    with statements(app) as seen:
        owner.send("menu")
    assert _writes(seen, "channel_account") == [], "within a minute of the last"
    assert len(_writes(seen, "conversation")) == 1, seen
    with app.db.session() as session:
        account = session.exec(select(ChannelAccount)).one()
        conversation = session.exec(select(Conversation)).one()
    assert account.last_inbound_at == clock.now - timedelta(seconds=40)
    assert conversation.updated_at == clock.now, "the conversation is saved every message"
    clock.advance(seconds=30)
    with statements(app) as seen:
        owner.send("menu")
    assert len(_writes(seen, "channel_account")) == 1, "a minute after the last written"
    with app.db.session() as session:
        assert session.exec(select(ChannelAccount)).one().last_inbound_at == clock.now


def test_notices_go_to_the_channel_written_on_last_even_within_a_minute(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    """One shop on WhatsApp and Telegram: a notice (a sync outcome, a digest, produk
    unggulan) goes to the channel of the owner's last message, also when the two were used
    within the minute to which the account keeps when they last wrote (found by review)."""
    phone = "+6281234500077"
    whatsapp = Chat(runner, phone, channel="whatsapp", phone=phone)
    whatsapp.send("halo")
    telegram = Chat(runner, "7700", channel="telegram")
    for answer in ("/start", "ya", "Sri Wahyuni"):
        telegram.send(answer)
    telegram.send(contact_phone=phone, sender_phone=phone)
    for answer in ("Keripik Bu Sri", "1", "sidoarjo", "lewati", "Jl. Raya Waru 1", "lewati"):
        telegram.send(answer)
    telegram.send("simpan")
    whatsapp.send("menu")  # linked to the shop by its verified number
    for chat, channel in ((whatsapp, "whatsapp"), (telegram, "telegram"), (whatsapp, "whatsapp")):
        clock.advance(seconds=20)
        chat.send("menu")
        with app.db.session() as session:
            seller_id = session.exec(select(Seller.id)).one()
            account = latest_account(session, seller_id)
            assert account is not None and account.channel == channel


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


# PostgreSQL: another transaction commits while the message runs (found by a review).


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_nudge_committed_while_the_message_waits_comes_with_its_reply(
    app: App, owner: Chat
) -> None:
    """The reminder job updates the conversation and writes a notice in one transaction; the
    message that waited for that conversation still delivers the notice with its reply."""
    register(owner)
    owner.send("menu")
    account_id = _account_id(app, owner)
    holder = Session(app.db.engine)
    conversation = holder.exec(
        select(Conversation).where(Conversation.account_id == account_id)
    ).one()
    conversation.nudges_sent += 1
    holder.add(conversation)
    params = {"name": "Keripik Pedas", "url": "https://pasar.example/p/1"}
    holder.add(Notice(account_id=account_id, msgid="sync.product_live", params=params))
    holder.flush()  # the conversation's row is this transaction's now
    replies: list[str] = []
    worker = threading.Thread(target=lambda: replies.extend(r.text for r in owner.send("menu")))
    worker.start()
    time.sleep(0.5)  # the owner's message waits for the row (no clock: order is all it needs)
    holder.commit()
    holder.close()
    worker.join(20)
    assert any("Keripik Pedas" in text for text in replies), replies
    with app.db.session() as session:
        assert session.exec(select(Notice).where(Notice.sent_at == None)).all() == []  # noqa: E711


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_writer_of_account_then_conversation_does_not_deadlock_a_message(
    app: App, owner: Chat, clock: Clock
) -> None:
    """The erasure writes an account, then its conversation (a linked account's too): a
    message locks them in the same order, so one waits for the other."""
    register(owner)
    owner.send("menu")
    account_id = _account_id(app, owner)
    other = Session(app.db.engine)
    connection = other.connection()
    connection.execute(
        sa.text("UPDATE channel_account SET referral_code = 'x' WHERE id = :a"), {"a": account_id}
    )
    clock.advance(minutes=1)  # so the message writes last_inbound_at, as it does for real
    replies: list[str] = []
    worker = threading.Thread(target=lambda: replies.extend(r.text for r in owner.send("menu")))
    worker.start()
    time.sleep(0.5)  # the message is inside its transaction
    connection.execute(
        sa.text("UPDATE conversation SET nudges_sent = 0 WHERE account_id = :a"),
        {"a": account_id},
    )
    other.commit()
    other.close()
    worker.join(20)
    assert replies and "gangguan" not in "\n".join(replies), replies


def _account_id(app: App, chat: Chat) -> int:
    with app.db.session() as session:
        return (
            session.exec(
                select(ChannelAccount.id).where(ChannelAccount.external_id == chat.user)
            ).one()
            or 0
        )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # row locks
def test_a_message_in_progress_does_not_hold_off_a_notice_for_its_account(
    app: App, owner: Chat
) -> None:
    """The message locks its account as an update would (FOR NO KEY UPDATE): a writer that
    inserts a row pointing at the account (a notice) goes on. With FOR UPDATE it waited for
    the message, and a deadlock followed when the message then wanted what that writer held
    (a consent request)."""
    register(owner)
    account_id = _account_id(app, owner)
    with app.db.session() as message:
        assert load_context(message, owner.channel, owner.user, lock=True) is not None
        with app.db.engine.connect() as writer:
            writer.exec_driver_sql("SET lock_timeout = '3s'")
            writer.execute(
                sa.insert(Notice).values(account_id=account_id, msgid="sync.done", params={})
            )
            writer.commit()
    with app.db.session() as session:
        told = session.exec(select(Notice).where(Notice.account_id == account_id)).all()
    assert [n.msgid for n in told] == ["sync.done"]
