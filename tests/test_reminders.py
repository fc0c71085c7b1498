"""Nudges under a fixed clock: 24 and 72 hours, quiet hours, opt-out, resuming in place."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from bot.app import App
from bot.conversation import ConversationRunner
from bot.reminders import quiet_hours, send_nudges
from bot.scheduler import build_scheduler
from bot.storage.models import ChannelAccount, Conversation, Notice
from tests.conftest import Chat, Clock
from tests.test_durable_replies import _waiting_for_a_lock

WIB = timedelta(hours=7)


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC) - WIB


def stalled_owner(runner: ConversationRunner, clock: Clock) -> Chat:
    clock.now = wib(2, 10)  # Monday 10:00 WIB
    owner = Chat(runner, "+6281234567890", phone="+6281234567890")
    owner.send("/start")
    owner.send("ya")
    owner.send("Sri Wahyuni")  # stops at the phone question
    return owner


def notices(app: App) -> list[Notice]:
    with app.db.session() as s:
        return list(s.exec(select(Notice).order_by(Notice.id)))


def test_nudged_after_24_then_72_hours_then_never(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    stalled_owner(runner, clock)
    assert send_nudges(app.db, wib(3, 9, 59)) == 0  # 23 h 59 m
    assert send_nudges(app.db, wib(3, 10, 1)) == 1  # 24 h
    assert send_nudges(app.db, wib(3, 15)) == 0
    assert send_nudges(app.db, wib(5, 9)) == 0  # 71 h
    assert send_nudges(app.db, wib(5, 10, 30)) == 1  # 72 h
    assert send_nudges(app.db, wib(9, 10)) == 0  # at most twice
    assert [n.msgid for n in notices(app)] == ["nudge.registration"] * 2


def test_quiet_hours_wait_for_the_morning(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    stalled_owner(runner, clock)
    assert quiet_hours(wib(3, 21)) and quiet_hours(wib(4, 6, 59)) and not quiet_hours(wib(4, 7))
    assert send_nudges(app.db, wib(3, 22)) == 0
    assert send_nudges(app.db, wib(4, 6, 30)) == 0
    assert send_nudges(app.db, wib(4, 7, 10)) == 1


def test_opted_out_owner_is_never_nudged(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    owner = stalled_owner(runner, clock)
    owner.send("berhenti")
    with app.db.session() as s:
        assert s.exec(select(ChannelAccount)).one().opted_out
    assert send_nudges(app.db, wib(4, 10)) == 0


def test_answering_a_nudge_resumes_exactly_where_they_stopped(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    owner = stalled_owner(runner, clock)
    send_nudges(app.db, wib(3, 10, 5))
    clock.now = wib(3, 11)
    owner.send("ya")
    assert "pendaftaran toko Kakak tinggal sedikit lagi" in owner.text  # the nudge itself
    assert "0812-3456-7890, betul?" in owner.last  # the question where Sri stopped
    owner.send("ya")
    assert "nama toko" in owner.last


async def test_scheduler_keeps_its_jobs_in_the_database(app: App) -> None:
    scheduler = build_scheduler(app.settings)
    scheduler.start(paused=True)
    try:
        with app.db.engine.connect() as conn:
            ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM apscheduler_jobs"))]
        assert sorted(ids) == ["inbound_retention", "nudges", "sales_digest"]
    finally:
        scheduler.shutdown(wait=False)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # row locks
def test_a_conversation_a_message_is_changing_is_left_for_the_next_round(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    """The job read conversations without a lock and wrote its stale `meta` back over what
    a message in progress had just saved; now it skips a conversation held by a message."""
    stalled_owner(runner, clock)
    with app.db.session() as message:  # a message, inside its transaction
        held = message.exec(select(Conversation).with_for_update(key_share=True)).one()
        assert held.flow == "registration"
        nudged: list[int] = []
        job = threading.Thread(target=lambda: nudged.append(send_nudges(app.db, wib(3, 10, 1))))
        job.start()
        while job.is_alive() and not _waiting_for_a_lock(app):
            time.sleep(0.02)
        waited = _waiting_for_a_lock(app)  # without the lock it waits on the message's
    job.join()
    assert not waited, "the job waited for the message"
    assert nudged == [0]
    assert notices(app) == []
    assert send_nudges(app.db, wib(3, 10, 2)) == 1  # the next round, the message done


@pytest.mark.any_backend  # naming only
def test_the_nudge_greets_them_by_the_name_they_gave_without_a_second_title(
    app: App, runner: ConversationRunner, clock: Clock
) -> None:
    """A profile named 'Pak Joko' was greeted 'Halo Kak Pak'; no profile name at all gave
    'Halo Kak Kak'. The name they typed comes first, without its title."""
    clock.now = wib(2, 10)
    owner = Chat(runner, "+6281234567891", phone="+6281234567891")
    owner.send("/start")
    owner.send("ya")
    owner.send("pak joko santoso")
    nobody = Chat(runner, "+6281234567892", phone="+6281234567892")
    nobody.send("/start")
    with app.db.session() as s:
        for account in s.exec(select(ChannelAccount)):
            account.profile_name = "Pak Joko" if account.external_id.endswith("91") else None
            s.add(account)
        s.commit()
    assert send_nudges(app.db, wib(3, 10, 1)) == 2
    names = sorted(n.params["name"] for n in notices(app))
    assert names == ["Joko", "👋"]
