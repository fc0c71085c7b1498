"""Replies are stored with the state that produced them and sent from there: a failed or
interrupted send delays a reply, never drops it, and a restart never sends it twice."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Awaitable, Iterator
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import col, select

from bot.app import App, build_app
from bot.channels.telegram import to_html
from bot.config import Settings
from bot.inbox import SequenceGate, Turn
from bot.outgoing import CLAIMED, Outgoing, Queued, Reply, Undeliverable, queue
from bot.storage.models import InboundUpdate, OutgoingMessage
from flows.messages import Inbound
from tests.conftest import Clock
from tests.fake_telegram import FakeTelegram, Updates
from tests.test_telegram import Running, telegram_settings


@pytest.fixture
def running(settings: Settings, fake: FakeTelegram) -> Iterator[Running]:
    app = build_app(telegram_settings(settings, fake, inbox_gap_hold_seconds=0.3))
    server = Running(app)
    yield server
    server.stop()
    app.close()


def texts(fake: FakeTelegram, chat: int) -> list[str]:
    return [str(m.get("text") or m.get("caption") or "") for m in fake.sent(chat)]


def unsent(app: App) -> list[OutgoingMessage]:
    with app.db.read_session() as session:
        return list(
            session.exec(
                select(OutgoingMessage)
                .where(col(OutgoingMessage.sent_at).is_(None))
                .order_by(col(OutgoingMessage.id))  # PostgreSQL gives no order unasked
            )
        )


def test_a_reply_the_platform_could_not_take_goes_out_later_once(
    running: Running, fake: FakeTelegram
) -> None:
    owner = Updates(5101)
    fake.down.add("sendMessage")
    assert running.post(owner.text("/start")) == 200
    deadline = time.monotonic() + 10
    while not unsent(running.app) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert unsent(running.app), "the reply was stored before it was sent"
    assert fake.sent(5101) == []
    fake.down.discard("sendMessage")
    fake.wait_for(lambda: len(fake.sent(5101)) >= 2, timeout=20)
    time.sleep(1.5)
    sent = texts(fake, 5101)
    assert len(sent) == len(set(sent)) == 2 and "Setuju?" in sent[-1]
    assert unsent(running.app) == []


def test_replies_committed_before_a_crash_are_sent_after_the_restart_once(
    settings: Settings, fake: FakeTelegram
) -> None:
    first = build_app(telegram_settings(settings, fake))
    inbound = Inbound(user_key="5102", channel="telegram", text="/start", message_id="u-5102")
    with first.db.session() as session:  # the update, as the inbox stored it
        row = InboundUpdate(
            channel="telegram", update_id="u-5102", seq=1, chat_key="5102", payload={}
        )
        session.add(row)
    assert row.id is not None
    turn = Turn("telegram", "5102", (row.id,))
    replies = first.runner.handle_turn(inbound, turn, reply_to="5102")
    assert replies  # committed: state, processed mark and replies, and then the crash
    first.close()
    assert fake.sent(5102) == []
    for _ in range(2):  # the restart sends them; a second restart sends nothing more
        again = Running(build_app(telegram_settings(settings, fake)))
        fake.wait_for(lambda: len(fake.sent(5102)) >= len(replies), timeout=20)
        time.sleep(0.5)
        again.stop()
        again.app.close()
    assert texts(fake, 5102) == [to_html(r.text) for r in replies]


def test_a_chat_that_blocked_the_bot_is_not_retried_and_others_go_on(
    running: Running, fake: FakeTelegram
) -> None:
    blocked, other = Updates(5103), Updates(5104)
    fake.blocked.add(5103)
    assert running.post(blocked.text("/start")) == 200
    assert running.post(other.text("/start")) == 200
    fake.wait_for(lambda: len(fake.sent(5104)) >= 2)

    def outcomes() -> list[str | None]:
        with running.app.db.read_session() as session:
            query = select(OutgoingMessage.outcome).where(OutgoingMessage.chat_key == "5103")
            return list(session.exec(query))

    # The other chat's replies say nothing of when the blocked chat's update is processed:
    # wait until its replies are stored and none is left to send.
    deadline = time.monotonic() + 10
    while (not outcomes() or unsent(running.app)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert outcomes() and set(outcomes()) == {"failed"}


def test_a_chat_claimed_by_a_live_sender_waits_and_a_dead_senders_claim_runs_out(
    app: App, clock: Clock
) -> None:
    sent: list[tuple[str, str]] = []

    async def deliver(chat: str, reply: Reply) -> None:
        sent.append((chat, reply.text))

    with app.db.session() as session:
        queue(session, "telegram", "77", [Reply("satu"), Reply("dua")], clock())
    alive = Outgoing(app.db, "telegram", deliver, clock=clock, holder="other")
    assert [r.payload["text"] for r in alive._claim("77")] == ["satu", "dua"]  # then it dies
    ours = Outgoing(app.db, "telegram", deliver, clock=clock, holder="ours", claim_seconds=30)

    async def run() -> None:
        assert await ours.recover() == 0  # claimed by a sender that may still be sending
        await ours.close()
        clock.advance(seconds=31)
        assert await ours.recover() == 1
        await ours.close()

    asyncio.run(run())
    assert sent == [("77", "satu"), ("77", "dua")]
    assert ours.waiting_chats(timedelta(0)) == []


def test_a_sender_held_up_past_half_its_claim_renews_it_before_sending(
    app: App, clock: Clock
) -> None:
    """Found by two `make test` at once: a process too busy to send its replies in time came
    to them with 0.1 s of its claim left, sent them anyway, and another process, finding the
    claim run out, sent them too. The chat got its replies twice and out of order."""
    sent: list[tuple[str, str]] = []
    taken_over: list[str] = []

    async def deliver(chat: str, reply: Reply) -> None:
        sent.append((chat, reply.text))
        clock.advance(seconds=1)  # the send takes a while, past the first claim's end
        taken_over.extend(r.payload["text"] for r in other._claim(chat))  # another's watch

    busy = Outgoing(app.db, "telegram", deliver, clock=clock, holder="busy")
    other = Outgoing(app.db, "telegram", deliver, clock=clock, holder="other")
    with app.db.session() as session:
        queue(session, "telegram", "88", [Reply("satu"), Reply("dua")], clock())
    rows = busy._claim("88")
    clock.advance(seconds=busy.claim.total_seconds() - 0.1)  # its loop was held up

    finished = asyncio.run(busy._send_rows("88", rows))
    assert taken_over == []
    assert sent == [("88", "satu"), ("88", "dua")]
    assert finished
    assert busy.waiting_chats(timedelta(0)) == []


def test_an_undeliverable_reply_does_not_hold_up_the_next(app: App, clock: Clock) -> None:
    sent: list[str] = []

    async def deliver(chat: str, reply: Reply) -> None:
        if reply.text == "rusak":
            raise Undeliverable("400")
        sent.append(reply.text)

    with app.db.session() as session:
        queue(session, "whatsapp", "+6281", [Reply("rusak"), Reply("baik")], clock())
    outgoing = Outgoing(app.db, "whatsapp", deliver, clock=clock)

    async def run() -> None:
        outgoing.notify("+6281")
        await outgoing.close()

    asyncio.run(run())
    assert sent == ["baik"]


def test_telegram_updates_reordered_on_the_way_are_applied_in_update_id_order(
    running: Running, fake: FakeTelegram
) -> None:
    someone, owner = Updates(5106), Updates(5105)
    earlier = someone.text("/start")
    start, name = owner.text("/start"), owner.text("ya")
    assert running.post(earlier) == 200
    fake.wait_for(lambda: len(fake.sent(5106)) >= 1)
    assert running.post(name) == 200  # the later one arrives first
    time.sleep(0.1)
    assert running.post(start) == 200
    fake.wait_for(lambda: len(fake.sent(5105)) >= 3)
    time.sleep(0.5)
    with running.app.db.read_session() as session:
        order = list(
            session.exec(
                select(InboundUpdate.update_id)
                .where(InboundUpdate.chat_key == "5105")
                .order_by(col(InboundUpdate.processed_at))
            )
        )
    assert order == [str(start["update_id"]), str(name["update_id"])]


def test_the_sequence_gate_waits_for_gaps_and_gives_up_on_them() -> None:
    gate = SequenceGate()
    gate.note(10)
    assert gate.ready(11)
    gate.note(12)
    assert not gate.ready(12) and gate.missing_below(12) == (10, 12)
    gate.note(11)
    assert gate.ready(13) and gate.floor == 12
    gate.note(15)
    gate.give_up_below(15)  # 13 and 14 are late now
    assert gate.ready(16) and gate.floor == 15
    gate.note(14)  # a late one changes nothing
    assert gate.floor == 15


def test_a_send_slower_than_the_claim_keeps_it_while_on_its_way(app: App, clock: Clock) -> None:
    """The platform may take up to its read timeout (30 s) to answer, longer than the claim
    (20 s): the claim is renewed while the send is on its way, so another process's watch,
    finding it run out, does not send the same replies again, and out of order."""
    sent: list[str] = []
    taken_over: list[str] = []

    def never(chat: str, reply: Reply) -> Awaitable[None]:
        raise AssertionError("the other sender sends nothing")

    other = Outgoing(app.db, "telegram", never, clock=clock, holder="other")

    def claimed_until() -> list[datetime | None]:
        with app.db.read_session() as session:
            return [r.claimed_until for r in session.exec(select(OutgoingMessage))]

    async def deliver(chat: str, reply: Reply) -> None:
        sent.append(reply.text)
        if reply.text != "satu":
            return
        clock.advance(seconds=1)  # the send is slow: the claim taken before it has run out
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not all(
            until is not None and until > clock() for until in claimed_until()
        ):
            await asyncio.sleep(0.02)  # until the claim is renewed (never, without the fix)
        taken_over.extend(r.payload["text"] for r in other._claim(chat))  # another's watch

    busy = Outgoing(app.db, "telegram", deliver, clock=clock, holder="busy")
    busy.claim = timedelta(seconds=0.3)  # renewed every 0.1 s while a send is on its way
    with app.db.session() as session:
        queue(session, "telegram", "89", [Reply("satu"), Reply("dua")], clock())
    rows = busy._claim("89")

    finished = asyncio.run(busy._send_rows("89", rows))
    assert taken_over == []
    assert sent == ["satu", "dua"]
    assert finished


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # row locks
def test_a_claim_renewed_while_another_sender_looks_is_not_taken_over(
    app: App, clock: Clock
) -> None:
    """Found by the three-process test under load: a sender renewed its claim as it ran out,
    while another process's watch read the rows unlocked, saw the claim run out and took
    them by their id once the renewal committed. Both sent them: a reply pair twice."""
    with app.db.session() as session:
        queue(session, "telegram", "90", [Reply("satu"), Reply("dua")], clock())
    holder = Outgoing(app.db, "telegram", _never, clock=clock, holder="holder")
    watcher = Outgoing(app.db, "telegram", _never, clock=clock, holder="watcher")
    rows = holder._claim("90")
    clock.advance(seconds=holder.claim.total_seconds() + 1)  # the claim has run out
    renewal = app.db.engine.connect()  # the holder renews: committed only later
    renewal.execute(
        sa.update(OutgoingMessage)
        .where(col(OutgoingMessage.claimed_by) == "holder")
        .values(claimed_until=clock() + holder.claim)
    )
    taken: list[list[OutgoingMessage]] = []
    looking = threading.Thread(target=lambda: taken.append(watcher._claim("90")))
    looking.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not _waiting_for_a_lock(app):
        time.sleep(0.02)  # the watch has read and waits for the renewal's row lock
    renewal.commit()
    renewal.close()
    looking.join(30)
    assert taken == [[]]
    with app.db.read_session() as session:
        owners = {r.claimed_by for r in session.exec(select(OutgoingMessage))}
    assert owners == {"holder"} and len(rows) == 2


def _never(chat: str, reply: Reply) -> Awaitable[None]:
    raise AssertionError("nothing is sent here")


def _waiting_for_a_lock(app: App) -> bool:
    """Some connection to the test database is waiting for a row lock (PostgreSQL)."""
    with app.db.engine.connect() as connection:
        found = connection.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        ).scalar()
    return bool(found)


def test_replies_sent_before_their_hand_over_arrived_are_not_sent_again(
    app: App, clock: Clock
) -> None:
    """Found by the three-process test under load: replies are handed to this process's
    sender after their commit, but a sender already running for the chat may read them from
    the database first, and send them; the copies handed over afterwards were sent again (a
    reply pair twice, after what came in between)."""
    sent: list[str] = []

    async def deliver(chat: str, reply: Reply) -> None:
        sent.append(reply.text)

    out = Outgoing(app.db, "telegram", deliver, clock=clock)  # this process: hand-overs on
    with app.db.session() as session:
        queue(session, "telegram", "91", [Reply("satu"), Reply("dua")], clock(), claim_seconds=20)
    asyncio.run(out._send_rows("91", out._waiting("91")))  # read and sent by a running sender
    asyncio.run(out._send_chat("91"))  # then the copies handed over by the commit
    assert sent == ["satu", "dua"]


def test_a_stored_reply_reads_back_whole_and_in_the_order_it_was_queued(app: App) -> None:
    """Every field of a reply survives the store (a field added to `Reply` but not to its
    JSON would be lost here), and replies handed to the sender carry their stored ids."""
    replies = [
        Reply(
            text=f"Balasan {n}",
            choices=(("yes", "Ya"), ("no", "Tidak")),
            photo="ab" * 32,
            prompt="reg.ask_phone",
            contact_button="Kirim nomor",
            location_button="Kirim lokasi",
            msgids=("reg.ask_phone", "engine.example"),
        )
        for n in range(3)
    ]
    with app.db.session() as session:
        assert queue(session, "telegram", "77", replies, claim_seconds=20) == 3
        handed: list[Queued] = list(session.info[CLAIMED])
        assert queue(session, "telegram", "77", []) == 0
    stored = unsent(app)
    assert [Reply.from_json(row.payload) for row in stored] == replies
    assert [row.id for row in stored] == [row.id for row in handed]
    assert all(row.claimed_by and row.claimed_until for row in stored)
