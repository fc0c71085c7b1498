"""Webhooks under abuse, over a real socket: bodies read only up to a limit and only after
the secret (or signature header) is checked; malformed but authenticated payloads get a
4xx and one log line, never a 500 that makes the platform redeliver forever."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import select
from twilio.request_validator import RequestValidator

from bot.app import build_app
from bot.config import Settings
from bot.storage.models import InboundUpdate, OutboundMessage
from tests.fake_telegram import FakeTelegram, Updates
from tests.fake_twilio import AUTH_TOKEN, FakeTwilio
from tests.test_telegram import SECRET, telegram_settings
from tests.test_telegram import Running as TelegramRunning
from tests.test_whatsapp import PUBLIC, message, whatsapp_settings
from tests.test_whatsapp import Running as WhatsAppRunning

pytestmark = pytest.mark.any_backend  # refused before anything is stored

HUGE = 256 * 1024 * 1024  # what an attacker offers; never generated whole
ROOM = 24 * 1024 * 1024  # the limit plus what the kernel's socket buffers can swallow


class Feed:
    """A body generated lazily, 64 KB at a time, counting how much the client was asked for."""

    def __init__(self, total: int = HUGE, head: bytes = b"") -> None:
        self.total = total
        self.head = head
        self.taken = 0

    def __iter__(self) -> Iterator[bytes]:
        piece = b"a" * 65536
        if self.head:
            self.taken += len(self.head)
            yield self.head
        while self.taken < self.total:
            part = piece[: self.total - self.taken]
            self.taken += len(part)
            yield part


@pytest.fixture
def tg(settings: Settings, fake: FakeTelegram) -> Iterator[TelegramRunning]:
    app = build_app(telegram_settings(settings, fake))
    server = TelegramRunning(app)
    yield server
    server.stop()
    app.close()


@pytest.fixture
def wa(settings: Settings, twilio: FakeTwilio) -> Iterator[WhatsAppRunning]:
    app = build_app(whatsapp_settings(settings, twilio))
    server = WhatsAppRunning(app)
    yield server
    server.stop()
    app.close()


def stored(app_db: Any) -> list[InboundUpdate]:
    with app_db.session() as s:
        return list(s.exec(select(InboundUpdate)))


def post_feed(server: Any, path: str, feed: Feed, headers: dict[str, str]) -> int:
    response = server.http.post(server.base + path, content=feed, headers=headers)
    return int(response.status_code)


# --- bodies -------------------------------------------------------------------------------


def test_telegram_body_without_the_secret_is_not_read(tg: TelegramRunning) -> None:
    feed = Feed()
    assert post_feed(tg, "/telegram/webhook", feed, {}) == 403
    assert feed.taken < ROOM
    feed = Feed()
    assert post_feed(tg, "/telegram/webhook", feed, {"Content-Length": str(HUGE)}) == 403
    assert feed.taken < ROOM
    assert stored(tg.app.db) == []


def test_telegram_body_over_the_limit_is_refused_while_streaming(tg: TelegramRunning) -> None:
    secret = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    feed = Feed(head=b'{"update_id": 1, "message": {"text": "')
    assert post_feed(tg, "/telegram/webhook", feed, secret) == 413  # chunked: no length given
    assert feed.taken < ROOM
    feed = Feed()
    declared = {**secret, "Content-Length": str(HUGE)}
    assert post_feed(tg, "/telegram/webhook", feed, declared) == 413  # refused on the header
    assert feed.taken < ROOM
    assert stored(tg.app.db) == []
    assert tg.post(Updates(5).text("/start")) == 200  # the server is fine afterwards


@pytest.mark.parametrize("path", ["/whatsapp/webhook", "/whatsapp/status"])
def test_twilio_body_without_a_signature_is_not_read(wa: WhatsAppRunning, path: str) -> None:
    feed = Feed(head=b"Body=")
    assert post_feed(wa, path, feed, {"Content-Type": "application/x-www-form-urlencoded"}) == 403
    assert feed.taken < ROOM
    assert stored(wa.app.db) == []


@pytest.mark.parametrize("path", ["/whatsapp/webhook", "/whatsapp/status"])
def test_twilio_body_over_64_kb_is_refused_before_the_signature(
    wa: WhatsAppRunning, path: str
) -> None:
    form = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": "Zm9v"}
    feed = Feed(head=b"Body=")
    assert post_feed(wa, path, feed, form) == 413
    assert feed.taken < ROOM
    feed = Feed(total=70_000)
    assert post_feed(wa, path, feed, {**form, "Content-Length": "70000"}) == 413
    assert stored(wa.app.db) == []


def test_a_real_twilio_form_fits_under_the_limit(wa: WhatsAppRunning) -> None:
    form = message("x" * 4000, ProfileName="Sri")
    assert wa.post("/whatsapp/webhook", form) == 200
    assert len(stored(wa.app.db)) == 1


# --- malformed but authenticated payloads --------------------------------------------------


def _update(**fields: Any) -> dict[str, Any]:
    base = Updates(321).text("halo")
    base["update_id"] = 7
    base.update(fields)
    return base


def _message(**fields: Any) -> dict[str, Any]:
    update = _update()
    update["message"].update(fields)
    return update


def _without(key: str, inner: str | None = None) -> dict[str, Any]:
    update = _update()
    target = update["message"] if inner is None else update["message"][inner]
    del target[key]
    return update


def _raw(update: dict[str, Any]) -> bytes:
    return json.dumps(update).encode()


def _nested(levels: int) -> bytes:
    return b'{"update_id": 1, "message": ' + b"[" * levels + b"]" * levels + b"}"


TELEGRAM_CASES: dict[str, bytes] = {
    "nested 1000 levels": _nested(1000),
    "nested 100000 levels": _nested(100_000),
    "nested 200 levels (parses)": _nested(200),
    "not json": b"update_id=1",
    "invalid utf-8": b'{"update_id": 1, "message": "\xff\xfe"}',
    "empty body": b"",
    "json list": b"[1, 2]",
    "json string": b'"update"',
    "update_id abc": _raw(_update(update_id="abc")),
    "update_id null": _raw(_update(update_id=None)),
    "update_id 2**70": _raw(_update(update_id=2**70)),
    "update_id negative": _raw(_update(update_id=-1)),
    "update_id float": _raw(_update(update_id=1.5)),
    "update_id true": _raw(_update(update_id=True)),
    "update_id missing": _raw({k: v for k, v in _update().items() if k != "update_id"}),
    "update_id NaN": b'{"update_id": NaN}',
    "message as list": _raw(_update(message=[1, 2])),
    "message as text": _raw(_update(message="halo")),
    "message without chat": _raw(_without("chat")),
    "message without message_id": _raw(_without("message_id")),
    "chat id text": _raw(_message(chat={"id": "abc", "type": "private"})),
    "chat id 2**70": _raw(_message(chat={"id": 2**70, "type": "private"})),
    "chat without type": _raw(_message(chat={"id": 321})),
    "private chat of someone else": _raw(_message(chat={"id": 999, "type": "private"})),
    "from without id": _raw(_without("id", "from")),
    "from id text": _raw(_message(**{"from": {"id": "321", "is_bot": False, "first_name": "S"}})),
    "from as list": _raw(_message(**{"from": [321]})),
    "text as number": _raw(_message(text=12)),
    "text as object": _raw(_message(text={"a": 1})),
    "photo as object": _raw(_message(photo={"file_id": "f"})),
    "photo size without file_id": _raw(_message(photo=[{"width": 1}])),
    "document without file_id": _raw(_message(document={"file_name": "a.jpg"})),
    "contact without phone": _raw(_message(contact={"first_name": "S"})),
    "location text": _raw(_message(location={"latitude": "x", "longitude": 1})),
    "location overflow": _raw(_update()).replace(
        b'"text": "halo"', b'"location": {"latitude": 1e400, "longitude": 1}'
    ),
    "media_group_id long": _raw(_message(media_group_id="g" * 200)),
    "NUL in text": _raw(_message(text="ha\x00lo")),
    "lone surrogate in text": b'{"update_id": 7, "message": {"message_id": 7, "date": 1, '
    b'"chat": {"id": 321, "type": "private"}, "from": {"id": 321, "is_bot": false, '
    b'"first_name": "S"}, "text": "\\ud800"}}',
    "callback_query as list": _raw({"update_id": 8, "callback_query": [1]}),
    "callback_query without from": _raw(
        {"update_id": 8, "callback_query": {"id": "c", "chat_instance": "i", "data": "yes"}}
    ),
    "callback_query data number": _raw(
        {
            "update_id": 8,
            "callback_query": {
                "id": "c",
                "chat_instance": "i",
                "from": {"id": 321, "is_bot": False, "first_name": "S"},
                "data": 5,
            },
        }
    ),
}


@pytest.mark.parametrize("case", list(TELEGRAM_CASES))
def test_malformed_telegram_update_gets_a_4xx_and_a_log_line(
    tg: TelegramRunning, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    response = tg.http.post(
        tg.url,
        content=TELEGRAM_CASES[case],
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert response.status_code == 400, case
    assert stored(tg.app.db) == []
    refused = [r for r in caplog.records if r.name == "bot.web" and "refused" in r.getMessage()]
    assert len(refused) == 1
    assert "halo" not in caplog.text
    assert tg.post(Updates(6).text("/start")) == 200  # and the next good one is stored


def _form(**fields: str | None) -> dict[str, str]:
    form = message("halo")
    for key, value in fields.items():
        if value is None:
            form.pop(key, None)
        else:
            form[key] = value
    return form


WHATSAPP_CASES: dict[str, dict[str, str]] = {
    "From over 64 chars": _form(From="whatsapp:+" + "6" * 70),
    "From not whatsapp": _form(From="+6281234567890"),
    "From letters": _form(From="whatsapp:+62abc"),
    "From missing": _form(From=None),
    "From with a NUL": _form(From="whatsapp:+6281234567890\x00"),
    "MessageSid over 128": _form(MessageSid="SM" + "0" * 140),
    "MessageSid missing": _form(MessageSid=None),
    "MessageSid punctuation": _form(MessageSid="SM../../x"),
    "NumMedia abc": _form(NumMedia="abc"),
    "NumMedia negative": _form(NumMedia="-1"),
    "NumMedia 11": _form(NumMedia="11"),
    "NumMedia huge": _form(NumMedia="9" * 40),
    "NumMedia fraction": _form(NumMedia="1.5"),
    "NumMedia without MediaUrl0": _form(NumMedia="1"),
    "MediaUrl0 not http": _form(NumMedia="1", MediaUrl0="file:///etc/passwd"),
    "MediaUrl0 too long": _form(NumMedia="1", MediaUrl0="https://api.twilio.com/" + "a" * 3000),
    "Body with a NUL": _form(Body="ha\x00lo"),
    "Body too long": _form(Body="a" * 9000),
    "ProfileName too long": _form(ProfileName="S" * 300),
    "ButtonPayload too long": _form(ButtonPayload="p" * 300),
    "Latitude abc": _form(Latitude="abc", Longitude="112.7"),
    "Latitude 91": _form(Latitude="91", Longitude="112.7"),
    "Longitude inf": _form(Latitude="-7", Longitude="inf"),
}

STATUS_CASES: dict[str, dict[str, str]] = {
    "status MessageSid over 64": {"MessageSid": "SM" + "0" * 80, "MessageStatus": "sent"},
    "status without a sid": {"MessageStatus": "sent"},
    "status ErrorCode text": {"MessageSid": "SM1", "MessageStatus": "failed", "ErrorCode": "x"},
    "status ErrorCode long": {"MessageSid": "SM1", "ErrorCode": "1" * 40},
    "status with a NUL": {"MessageSid": "SM1", "MessageStatus": "fail\x00ed"},
    "status too long": {"MessageSid": "SM1", "MessageStatus": "s" * 300},
}


@pytest.mark.parametrize("case", list(WHATSAPP_CASES) + list(STATUS_CASES))
def test_malformed_twilio_form_gets_a_4xx_and_a_log_line(
    wa: WhatsAppRunning, case: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    path = "/whatsapp/status" if case in STATUS_CASES else "/whatsapp/webhook"
    form = STATUS_CASES.get(case) or WHATSAPP_CASES[case]
    assert wa.post(path, form) == 400, case
    assert stored(wa.app.db) == []
    with wa.app.db.session() as s:
        assert list(s.exec(select(OutboundMessage))) == []
    refused = [r for r in caplog.records if r.name == "bot.web" and "refused" in r.getMessage()]
    assert len(refused) == 1
    assert "6281234567890" not in caplog.text and "halo" not in caplog.text
    assert wa.post("/whatsapp/webhook", message("halo lagi")) == 200


def test_signature_still_checked_on_a_malformed_form(wa: WhatsAppRunning) -> None:
    form = _form(NumMedia="abc")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/elsewhere", form)
    assert wa.post("/whatsapp/webhook", form, signature=signature) == 403
