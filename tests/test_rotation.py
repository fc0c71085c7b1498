"""Rotating the Telegram webhook secret and the Twilio auth token without refusing updates:
during the rotation both the old (…_PREVIOUS) and the new value are accepted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from twilio.request_validator import RequestValidator

from bot.app import build_app
from bot.config import Settings
from tests.fake_telegram import FakeTelegram, Updates
from tests.fake_twilio import AUTH_TOKEN, FakeTwilio
from tests.test_telegram import Running as TelegramRunning
from tests.test_telegram import telegram_settings
from tests.test_whatsapp import PUBLIC, message, whatsapp_settings
from tests.test_whatsapp import Running as WhatsAppRunning


@pytest.fixture
def telegram(settings: Settings, fake: FakeTelegram) -> Iterator[TelegramRunning]:
    rotating = telegram_settings(
        settings,
        fake,
        telegram_webhook_secret=SecretStr("new-secret"),
        telegram_webhook_secret_previous=SecretStr("old-secret"),
    )
    app = build_app(rotating)
    server = TelegramRunning(app)
    yield server
    server.stop()
    app.close()


@pytest.mark.any_backend
def test_telegram_accepts_the_old_and_the_new_secret_while_rotating(
    telegram: TelegramRunning, fake: FakeTelegram
) -> None:
    owner = Updates(8101)
    assert telegram.post(owner.text("/start"), secret="new-secret") == 200
    assert telegram.post(owner.text("halo"), secret="old-secret") == 200
    assert telegram.post(owner.text("halo"), secret="wrong") == 403
    assert telegram.post(owner.text("halo"), secret="") == 403
    assert telegram.post(owner.text("halo"), secret=None) == 403
    [webhook] = [p for m, p, _ in fake.calls if m == "setWebhook"]
    assert webhook["secret_token"] == "new-secret"  # Telegram is given the new one


@pytest.mark.any_backend
def test_without_a_previous_secret_only_the_current_one_works(
    settings: Settings, fake: FakeTelegram
) -> None:
    app = build_app(
        telegram_settings(settings, fake, telegram_webhook_secret=SecretStr("new-secret"))
    )
    server = TelegramRunning(app)
    try:
        owner = Updates(8102)
        assert server.post(owner.text("/start"), secret="new-secret") == 200
        assert server.post(owner.text("halo"), secret="old-secret") == 403
    finally:
        server.stop()
        app.close()


def signed(path: str, form: dict[str, str], token: str) -> dict[str, str]:
    return {"X-Twilio-Signature": RequestValidator(token).compute_signature(PUBLIC + path, form)}


@pytest.mark.any_backend
def test_twilio_accepts_signatures_from_the_old_and_the_new_token_while_rotating(
    settings: Settings, twilio: FakeTwilio
) -> None:
    rotating = whatsapp_settings(
        settings, twilio, twilio_auth_token_previous=SecretStr("old-auth-token")
    )
    app = build_app(rotating)
    server = WhatsAppRunning(app)
    try:
        url = server.base + "/whatsapp/webhook"

        def post(token: str) -> int:
            form = message("halo")
            return server.http.post(
                url, data=form, headers=signed("/whatsapp/webhook", form, token)
            ).status_code

        assert post(AUTH_TOKEN) == 200  # the new (current) token
        assert post("old-auth-token") == 200
        assert post("someone-elses-token") == 403
    finally:
        server.stop()
        app.close()
    unrotated = build_app(whatsapp_settings(settings, twilio))
    server = WhatsAppRunning(unrotated)
    try:
        form = message("halo")
        headers = signed("/whatsapp/webhook", form, "old-auth-token")
        assert (
            server.http.post(
                server.base + "/whatsapp/webhook", data=form, headers=headers
            ).status_code
            == 403
        )
    finally:
        server.stop()
        unrotated.close()
