"""Raw platform updates keep their payload only INBOUND_RETENTION_HOURS once handled."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlmodel import col, select

from bot.app import build_app
from bot.config import Settings
from bot.scheduler import build_scheduler, forget_old_inbound, run_inbound_retention
from bot.storage.models import InboundUpdate, OutgoingMessage, utcnow
from tests.fake_twilio import FakeTwilio
from tests.served import wait_answered
from tests.test_whatsapp import PHONE, Running, message, say, whatsapp_settings


@pytest.fixture
def running(settings: Settings, twilio: FakeTwilio) -> Iterator[Running]:
    app = build_app(whatsapp_settings(settings, twilio))
    server = Running(app)
    yield server
    server.stop()
    app.close()


def stored(running: Running) -> list[InboundUpdate]:
    with running.app.db.session() as s:
        return list(s.exec(select(InboundUpdate).order_by(col(InboundUpdate.id))))


def test_handled_updates_are_scrubbed_after_the_retention_period(
    running: Running, twilio: FakeTwilio
) -> None:
    app = running.app
    form = message("halo", ProfileName="Sulastri Wijayakusuma")
    say(running, twilio, form)
    wait_answered(app.db)
    with app.db.session() as s:  # one still waiting (another channel's, never handled here)
        s.add(
            InboundUpdate(
                channel="telegram",
                update_id="77",
                seq=77,
                chat_key="5550001",
                payload={"message": {"text": "Jl. Kenanga Ungu"}},
                received_at=utcnow() - timedelta(days=3),
            )
        )
    [handled, waiting] = stored(running)
    assert handled.processed_at is not None
    assert handled.payload["ProfileName"] == "Sulastri Wijayakusuma"

    assert forget_old_inbound(app.db, handled.processed_at + timedelta(hours=23), 24) == 0
    assert stored(running)[0].payload == handled.payload  # still within the period
    with app.db.read_session() as s:  # what we answered quotes them: kept as long
        assert s.exec(select(OutgoingMessage).where(OutgoingMessage.chat_key == PHONE)).all()

    assert forget_old_inbound(app.db, handled.processed_at + timedelta(hours=25), 24) == 1
    [scrubbed, still_waiting] = stored(running)
    assert scrubbed.payload == {} and PHONE not in scrubbed.chat_key
    assert scrubbed.update_id == form["MessageSid"]  # kept: a redelivery is still dropped
    assert still_waiting.payload == waiting.payload  # not handled yet: never scrubbed
    assert forget_old_inbound(app.db, handled.processed_at + timedelta(hours=48), 24) == 0
    with app.db.read_session() as s:
        assert s.exec(select(OutgoingMessage).where(OutgoingMessage.chat_key == PHONE)).all() == []

    replies = len(twilio.to(PHONE))
    assert running.post("/whatsapp/webhook", form) == 200  # Twilio retries, late
    time.sleep(0.3)
    assert len(twilio.to(PHONE)) == replies and len(stored(running)) == 2


def test_the_scheduler_runs_the_retention_job(running: Running, twilio: FakeTwilio) -> None:
    app = running.app
    settings = app.settings.model_copy(update={"inbound_retention_hours": 0.0})
    job = build_scheduler(settings).get_job("inbound_retention")
    assert job is not None and job.func is run_inbound_retention
    assert job.trigger.interval == timedelta(minutes=30)
    assert job.args[1] == 0.0
    say(running, twilio, message("halo"))
    wait_answered(app.db)
    assert job.func(*job.args) == 1  # a retention of 0 hours: everything handled goes
    assert [row.payload for row in stored(running)] == [{}]
    assert Settings(_env_file=None).inbound_retention_hours == 24
