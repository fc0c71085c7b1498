"""WhatsApp through Twilio: signed webhooks to the real web app, a fake Twilio API on 127.0.0.1."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlmodel import select
from twilio.request_validator import RequestValidator

from bot.app import App, build_app
from bot.channels.whatsapp import WhatsAppChannel
from bot.config import Settings
from bot.storage.models import (
    ChannelAccount,
    InboundUpdate,
    Notice,
    OutboundMessage,
    Product,
    Seller,
    utcnow,
)
from bot.web import create_web_app
from tests import images
from tests.conftest import Chat
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.served import Served, free_port, wait_answered

PUBLIC = "https://pelapak.test"
BOT_NUMBER = "whatsapp:+14155238886"
PHONE = "+6281234567890"
sids = itertools.count(1)


class Running(Served):
    """Our web app with the WhatsApp channel, on a loopback port."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.channel = WhatsAppChannel(app.settings, app.db, app.runner, app.media)
        super().__init__(create_web_app(app, None, self.channel), app.settings.port)

    def post(self, path: str, form: dict[str, str], signature: str | None = "sign") -> int:
        headers = {}
        if signature == "sign":
            signature = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + path, form)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.http.post(self.base + path, data=form, headers=headers).status_code


def whatsapp_settings(settings: Settings, twilio: FakeTwilio, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "twilio_account_sid": ACCOUNT_SID,
            "twilio_auth_token": SecretStr(AUTH_TOKEN),
            "twilio_whatsapp_from": BOT_NUMBER,
            "twilio_api_base_url": twilio.url,
            "public_base_url": PUBLIC,
            "port": free_port(),
            "inbox_settle_seconds": 0.05,
            **extra,
        }
    )


@pytest.fixture
def running(settings: Settings, twilio: FakeTwilio) -> Iterator[Running]:
    templates = {
        "sync.product_live": {"content_sid": "HX" + "1" * 32, "variables": ["name", "url"]}
    }
    app = build_app(whatsapp_settings(settings, twilio, whatsapp_templates=templates))
    server = Running(app)
    yield server
    server.stop()
    app.close()


def message(body: str = "", phone: str = PHONE, **extra: str) -> dict[str, str]:
    return {
        "MessageSid": f"SM{next(sids):032d}",
        "AccountSid": ACCOUNT_SID,
        "From": f"whatsapp:{phone}",
        "To": BOT_NUMBER,
        "Body": body,
        "NumMedia": "0",
        "ProfileName": "Sri",
        **extra,
    }


def say(running: Running, twilio: FakeTwilio, form: dict[str, str], phone: str = PHONE) -> str:
    before = len(twilio.to(phone))
    assert running.post("/whatsapp/webhook", form) == 200
    deadline = time.monotonic() + 15
    while len(twilio.to(phone)) <= before:
        assert time.monotonic() < deadline, "no reply"
        time.sleep(0.02)
    wait_answered(running.app.db)  # every reply of it sent
    return str(twilio.to(phone)[-1].get("Body", ""))


@pytest.mark.any_backend
def test_forged_missing_and_tampered_signatures_are_refused(
    running: Running, twilio: FakeTwilio
) -> None:
    form = message("halo")
    assert running.post("/whatsapp/webhook", form, signature=None) == 403
    assert running.post("/whatsapp/webhook", form, signature="Zm9yZ2Vk") == 403
    signed = RequestValidator(AUTH_TOKEN).compute_signature(PUBLIC + "/whatsapp/webhook", form)
    changed = {**form, "Body": "halo, saya ubah"}
    assert running.post("/whatsapp/webhook", changed, signature=signed) == 403
    assert (
        running.post(
            "/whatsapp/status", {"MessageSid": "SM1", "MessageStatus": "failed"}, signature=None
        )
        == 403
    )
    time.sleep(0.3)
    with running.app.db.session() as s:
        assert list(s.exec(select(InboundUpdate))) == []
        assert list(s.exec(select(OutboundMessage))) == []
    assert twilio.messages == []


def test_registration_and_product_over_whatsapp(running: Running, twilio: FakeTwilio) -> None:
    assert "Setuju?" in say(running, twilio, message("halo"))
    assert "1. Setuju" in twilio.to(PHONE)[-1]["Body"]
    assert "Pilih *Sri*" in say(running, twilio, message("1"))  # ProfileName offered
    assert "0812-3456-7890, betul?" in say(running, twilio, message("Sri Wahyuni"))
    say(running, twilio, message("ya"))  # the number WhatsApp vouches for
    say(running, twilio, message("Keripik Tempe Bu Sri"))
    say(running, twilio, message("keripik"))
    say(running, twilio, message("1"))
    say(running, twilio, message("sidoarjo"))
    say(running, twilio, message("waru"))
    location = message("", Latitude="-7.35", Longitude="112.72")
    assert "ketik alamat jalannya" in say(running, twilio, location)
    say(running, twilio, message("Jl. Raya Waru No. 12"))
    say(running, twilio, message("lewati"))
    assert "Kirim foto produknya" in say(running, twilio, message("simpan"))
    urls = [twilio.add_media(images.sharp(seed)) for seed in (81, 82, 83)]
    photos = message(
        "",
        NumMedia="3",
        **{f"MediaUrl{i}": u for i, u in enumerate(urls)},
        **{f"MediaContentType{i}": "image/jpeg" for i in range(3)},
    )
    assert "3 dari 5" in say(running, twilio, photos)
    for text in ("selesai", "Keripik Tempe Pedas", "ya", "25000", "50", "1", "250 gr", "baru", "1"):
        reply = say(running, twilio, message(text))
    summary = twilio.to(PHONE)[-1]
    assert "Rp25.000" in reply and summary["MediaUrl"].startswith(f"{PUBLIC}/media/")
    assert say(running, twilio, message("simpan"))
    with running.app.db.session() as s:
        seller = s.exec(select(Seller)).one()
        product = s.exec(select(Product)).one()
    assert (seller.phone, seller.phone_verified, seller.source) == (PHONE, True, "whatsapp")
    assert (seller.latitude, seller.longitude) == (-7.35, 112.72)
    assert (product.price, len(product.photos)) == (25000, 3)
    media = httpx.get(f"{running.base}/media/{product.photos[0]['sha256']}.jpg")
    assert media.status_code == 200 and media.headers["content-type"] == "image/jpeg"


def test_twilio_retry_is_processed_once_and_status_is_recorded(
    running: Running, twilio: FakeTwilio
) -> None:
    form = message("halo")
    assert running.post("/whatsapp/webhook", form) == 200
    assert running.post("/whatsapp/webhook", form) == 200  # Twilio retried
    wait_answered(running.app.db)  # both stored, the retry dropped, every reply sent
    assert len(twilio.to(PHONE)) == 2  # welcome + consent, once
    sid = twilio.to(PHONE)[-1]["sid"]
    status = {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "63016"}
    assert running.post("/whatsapp/status", status) == 204
    with running.app.db.session() as s:
        row = s.exec(select(OutboundMessage).where(OutboundMessage.sid == sid)).one()
    assert (row.status, row.error_code) == ("undelivered", "63016")


def test_media_only_from_twilio(running: Running, twilio: FakeTwilio) -> None:
    say(running, twilio, message("halo"))
    elsewhere = twilio.add_media(images.sharp(1)).replace("127.0.0.1", "localhost")
    reply = say(
        running,
        twilio,
        message("", NumMedia="1", MediaUrl0=elsewhere, MediaContentType0="image/jpeg"),
    )
    assert "Setuju?" in reply and not list(running.app.settings.media_dir.rglob("*.jpg"))


def _business_notice(
    app: App, hours_since_inbound: float, opted_out: bool = False, msgid: str = "sync.product_live"
) -> None:
    with app.db.session() as s:
        account = s.exec(select(ChannelAccount)).one()
        account.last_inbound_at = utcnow() - timedelta(hours=hours_since_inbound)
        account.opted_out = opted_out
        s.add(account)
        s.add(
            Notice(
                account_id=account.id or 0,
                msgid=msgid,
                params={"name": "Keripik", "url": "https://toko.test/p1", "reason": "x"},
            )
        )


def test_business_messages_follow_the_window_templates_and_opt_out(
    running: Running, twilio: FakeTwilio
) -> None:
    say(running, twilio, message("halo"))
    channel = running.channel
    _business_notice(running.app, 1)
    assert channel.deliver_due_notices() == 1
    assert "sudah tayang" in twilio.to(PHONE)[-1]["Body"]  # inside the window: free text
    _business_notice(running.app, 30)
    channel.deliver_due_notices()
    last = twilio.to(PHONE)[-1]
    assert last["ContentSid"] == "HX" + "1" * 32 and "Body" not in last
    assert '"1": "Keripik"' in last["ContentVariables"]
    sent = len(twilio.to(PHONE))
    _business_notice(running.app, 30, msgid="sync.product_rejected")  # no template for it
    channel.deliver_due_notices()
    _business_notice(running.app, 1, opted_out=True)
    channel.deliver_due_notices()
    assert len(twilio.to(PHONE)) == sent
    assert channel.not_sent == {"not_sent_no_template": 1, "not_sent_opted_out": 1}
    with running.app.db.session() as s:
        statuses = [n.status for n in s.exec(select(Notice).order_by(Notice.id))]
    assert statuses == ["sent", "template", "not_sent_no_template", "not_sent_opted_out"]


def test_stop_and_start_again(running: Running, twilio: FakeTwilio) -> None:
    say(running, twilio, message("halo"))
    assert "tidak akan kirim pengingat" in say(running, twilio, message("STOP"))
    with running.app.db.session() as s:
        assert s.exec(select(ChannelAccount)).one().opted_out
    assert "Siapa nama Kakak" in say(running, twilio, message("1"))  # chatting still works
    say(running, twilio, message("MULAI"))
    assert any("aktif lagi" in m["Body"] for m in twilio.to(PHONE)[-3:])
    with running.app.db.session() as s:
        assert not s.exec(select(ChannelAccount)).one().opted_out


def test_telegram_owner_continues_on_whatsapp(running: Running, twilio: FakeTwilio) -> None:
    app = running.app
    telegram = Chat(app.runner, "tg-321", channel="telegram")
    telegram.send("/start")
    telegram.send("ya")
    telegram.send("Sri Wahyuni")
    telegram.send(contact_phone=PHONE, sender_phone=PHONE)  # Telegram's own-number share
    for answer in (
        "Keripik Bu Sri",
        "1",
        "sidoarjo",
        "lewati",
        "Jl. Raya Waru 1",
        "lewati",
        "simpan",
    ):
        telegram.send(answer)
    assert "sudah terdaftar" in telegram.text
    reply = say(running, twilio, message("halo"))
    bodies = " ".join(m["Body"] for m in twilio.to(PHONE)[-2:])
    assert "sudah terdaftar untuk toko *Keripik Bu Sri*" in bodies
    assert "Mau apa sekarang" in reply
    with app.db.session() as s:
        assert len(list(s.exec(select(Seller)))) == 1
        accounts = list(s.exec(select(ChannelAccount)))
    assert {a.channel for a in accounts} == {"telegram", "whatsapp"}
    assert len({a.seller_id for a in accounts}) == 1


def test_quick_reply_buttons_when_configured(settings: Settings, twilio: FakeTwilio) -> None:
    quick = {"reg.consent": {"content_sid": "HX" + "2" * 32}}
    app = build_app(whatsapp_settings(settings, twilio, whatsapp_quick_replies=quick))
    running = Running(app)
    try:
        say(running, twilio, message("halo"))
        consent = twilio.to(PHONE)[-1]
        assert consent["ContentSid"] == "HX" + "2" * 32 and "Body" not in consent
        assert "Setuju?" in consent["ContentVariables"]  # our words, in the owner's language
        tapped = message("", ButtonPayload="yes", ButtonText="Setuju")
        assert "Siapa nama Kakak" in say(running, twilio, tapped)
    finally:
        running.stop()
        app.close()


class Origin:
    """An HTTP server on its own loopback port that records requests and answers from a map."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []  # path, Authorization
        self.routes: dict[str, tuple[int, dict[str, str], bytes]] = {}
        origin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                origin.requests.append((self.path, self.headers.get("Authorization")))
                status, headers, body = origin.routes.get(self.path, (404, {}, b""))
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.01,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def origins() -> Iterator[list[Origin]]:
    servers = [Origin() for _ in range(3)]
    yield servers
    for server in servers:
        server.close()


def _photo(url: str) -> dict[str, str]:
    return message("", NumMedia="1", MediaUrl0=url, MediaContentType0="image/jpeg")


def test_media_origin_is_scheme_host_and_port(
    settings: Settings, twilio: FakeTwilio, origins: list[Origin]
) -> None:
    """A bare host means https:443; credentials and redirects stay within allowed origins."""
    allowed, elsewhere, cdn = origins
    hosts = ["127.0.0.1", allowed.url, cdn.url]  # the bare host allows https://127.0.0.1 only
    app = build_app(whatsapp_settings(settings, twilio, twilio_media_hosts=hosts))
    running = Running(app)
    try:
        say(running, twilio, message("halo"))
        elsewhere.routes["/m/1"] = (200, {"Content-Type": "image/jpeg"}, images.sharp(3))
        for url in (f"{elsewhere.url}/m/1", "http://127.0.0.1:5432/", "http://localhost:5432/"):
            assert "Setuju?" in say(running, twilio, _photo(url))
        assert elsewhere.requests == []  # same host as an allowed one, other port: no request
        allowed.routes["/m/2"] = (307, {"Location": f"{elsewhere.url}/m/1"}, b"")
        assert "Setuju?" in say(running, twilio, _photo(f"{allowed.url}/m/2"))
        assert elsewhere.requests == []  # a redirect to another origin is not followed
        assert not list(app.settings.media_dir.rglob("*.jpg"))
        allowed.routes["/m/3"] = (307, {"Location": f"{cdn.url}/m/3"}, b"")
        cdn.routes["/m/3"] = (200, {"Content-Type": "image/jpeg"}, images.sharp(4))
        say(running, twilio, _photo(f"{allowed.url}/m/3"))
        assert allowed.requests[-1][1] is not None and allowed.requests[-1][1].startswith("Basic")
        assert cdn.requests == [("/m/3", None)]  # credentials only where the URL pointed
        # (downloaded and checked; not kept, as nothing is before the owner's consent)
    finally:
        running.stop()
        app.close()
