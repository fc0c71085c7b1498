"""/metrics in Prometheus text format, scraped over a real socket while real updates flow."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import select

from bot.app import App, build_app
from bot.config import Settings
from bot.storage.models import (
    Broadcast,
    BroadcastDelivery,
    ChannelAccount,
    InboundUpdate,
    Notice,
    OutboxEvent,
)
from tests.fake_telegram import FakeTelegram, Updates
from tests.fake_twilio import FakeTwilio
from tests.served import wait_answered
from tests.test_telegram import Running as TelegramRunning
from tests.test_telegram import telegram_settings
from tests.test_whatsapp import Running as WhatsAppRunning
from tests.test_whatsapp import message, say, whatsapp_settings


def value(text: str, name: str, **labels: str) -> float:
    """One sample of a scrape (0 when the series is not there yet)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


@pytest.fixture
def telegram(settings: Settings, fake: FakeTelegram) -> Iterator[TelegramRunning]:
    app = build_app(telegram_settings(settings, fake))
    server = TelegramRunning(app)
    yield server
    server.stop()
    app.close()


def scrape(served: TelegramRunning | WhatsAppRunning) -> str:
    answer = served.http.get(f"{served.base}/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return answer.text


def test_a_processed_telegram_update_moves_the_counters(
    telegram: TelegramRunning, fake: FakeTelegram
) -> None:
    before = scrape(telegram)
    owner = Updates(9001)
    assert telegram.post(owner.text("/start")) == 200
    fake.wait_for(lambda: len(fake.sent(9001)) >= 1)
    while value(scrape(telegram), "pelapak_updates_processed_total", channel="telegram") <= value(
        before, "pelapak_updates_processed_total", channel="telegram"
    ):
        time.sleep(0.05)  # until the processed counter moves (pytest-timeout bounds it)
    wait_answered(telegram.app.db)  # every reply sent, and counted once the send returned
    after = scrape(telegram)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("pelapak_updates_received_total", channel="telegram") == 1
    assert moved("pelapak_updates_processed_total", channel="telegram") == 1
    assert moved("pelapak_updates_failed_total", channel="telegram") == 0
    assert moved("pelapak_update_processing_seconds_count", channel="telegram") == 1
    assert moved("pelapak_update_processing_seconds_sum", channel="telegram") > 0
    assert moved("pelapak_messages_sent_total", channel="telegram", result="sent") == len(
        fake.sent(9001)
    )
    assert value(after, "pelapak_inbox_backlog", channel="telegram") == 0
    assert value(after, "pelapak_database_up") == 1

    assert telegram.post(owner.text("/start") | {"update_id": 10**9}) == 200
    assert telegram.post(owner.text("/start") | {"update_id": 10**9}) == 200  # redelivered
    again = scrape(telegram)
    assert (
        value(again, "pelapak_updates_duplicate_total", channel="telegram")
        - value(after, "pelapak_updates_duplicate_total", channel="telegram")
        == 1
    )


@pytest.mark.any_backend
def test_backlog_sync_and_broadcast_gauges_are_read_from_the_database(
    telegram: TelegramRunning,
) -> None:
    with telegram.app.db.session() as session:
        session.add(InboundUpdate(channel="whatsapp", update_id="w1", seq=1, chat_key="x"))
        session.add(InboundUpdate(channel="whatsapp", update_id="w2", seq=2, chat_key="x"))
        for state in ("pending", "pending", "failed", "done"):
            session.add(OutboxEvent(kind="seller.upsert", aggregate_ref="S1", state=state))
        broadcast = Broadcast(segment="everyone", text="Halo")
        session.add(broadcast)
        session.flush()
        for n, status in enumerate(("sent", "sent", "pending", "failed")):
            account = ChannelAccount(channel="telegram", external_id=str(n))
            session.add(account)
            session.flush()
            session.add(
                BroadcastDelivery(
                    broadcast_id=broadcast.id or 0,
                    account_id=account.id or 0,
                    channel="telegram",
                    status=status,
                )
            )
    text = scrape(telegram)
    assert value(text, "pelapak_inbox_backlog", channel="whatsapp") == 2
    assert value(text, "pelapak_sync_events", state="pending") == 2
    assert value(text, "pelapak_sync_events", state="failed") == 1
    assert value(text, "pelapak_sync_events", state="done") == 1
    assert value(text, "pelapak_broadcast_deliveries", state="sent") == 2
    assert value(text, "pelapak_broadcast_deliveries", state="pending") == 1
    assert value(text, "pelapak_broadcast_deliveries", state="failed") == 1


def test_whatsapp_sends_and_missing_templates_are_counted(
    settings: Settings, twilio: FakeTwilio
) -> None:
    app: App = build_app(whatsapp_settings(settings, twilio))  # no templates configured
    served = WhatsAppRunning(app)
    try:
        before = scrape(served)
        say(served, twilio, message("halo"))
        time.sleep(0.3)
        with app.db.session() as session:
            account = session.exec(select(ChannelAccount)).one()
            account.last_inbound_at = None  # outside the 24-hour window
            session.add(account)
            session.add(Notice(account_id=account.id or 0, msgid="sync.product_live"))
        assert served.channel.deliver_due_notices() == 1
        after = scrape(served)
    finally:
        served.stop()
        app.close()
    sent = value(after, "pelapak_messages_sent_total", channel="whatsapp", result="sent")
    assert (
        sent - value(before, "pelapak_messages_sent_total", channel="whatsapp", result="sent") >= 1
    )
    assert (
        value(after, "pelapak_messages_sent_total", channel="whatsapp", result="template_missing")
        - value(
            before, "pelapak_messages_sent_total", channel="whatsapp", result="template_missing"
        )
        == 1
    )
    assert value(after, "pelapak_updates_processed_total", channel="whatsapp") >= 1
