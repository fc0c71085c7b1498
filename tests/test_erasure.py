"""/hapus_data erases every copy of an owner's data: every table, every file, the served media.

An owner registers over WhatsApp (signed webhooks into the real web app, a fake Twilio on
127.0.0.1), lists a product with a photo, is synced to a fake marketplace (done outbox
events, a "your product is live" notice), then erases. Every row of every table and every
file under MEDIA_DIR is then searched for the owner's values, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from bot.app import App, build_app
from bot.config import Settings
from bot.photo_pipeline import process
from bot.storage.models import (
    ChannelAccount,
    OutboxEvent,
    Photo,
    PhotoUpload,
    utcnow,
)
from tests import images
from tests.conftest import Clock
from tests.fake_marketplace import FakeMarketplace
from tests.fake_twilio import FakeTwilio
from tests.served import wait_answered
from tests.test_sync import drain, make_worker
from tests.test_whatsapp import Running, message, say, whatsapp_settings

PHONE = "+6281399887766"
OTHER = "+6285711223344"
# What the owner tells us, each distinctive enough to be found wherever a copy is left.
OWNER_VALUES = (
    "81399887766",  # the number, as +62813..., 0813... or whatsapp:+62813...
    "Sulastri",  # WhatsApp profile name and owner name
    "Wijayakusuma",
    "Gethuk Lindri",  # the shop
    "Kenanga Ungu",  # the address
    "Klepon Pandan",  # the product
    "Kedungsari",  # the product's description
    "-7.4321",  # where the shop is
    "112.6789",
)


@pytest.fixture
def market() -> Iterator[FakeMarketplace]:
    server = FakeMarketplace()
    yield server
    server.close()


@pytest.fixture
def running(settings: Settings, twilio: FakeTwilio) -> Iterator[Running]:
    app = build_app(whatsapp_settings(settings, twilio))
    server = Running(app)
    yield server
    server.stop()
    app.close()


def traces(app: App, values: Iterable[str]) -> list[str]:
    """Every (table, value) where a row of any table holds one of these values as text."""
    found = []
    metadata = sa.MetaData()
    with app.db.engine.connect() as conn:
        metadata.reflect(conn)
        assert {t.name for t in SQLModel.metadata.sorted_tables} <= set(metadata.tables)
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()):
                text = " ".join(_text(value) for value in row).lower()
                found += [f"{table.name}: {v}" for v in values if v.lower() in text]
    return found


def _text(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return str(value)


def files_with(app: App, values: Iterable[str]) -> list[str]:
    """Files under MEDIA_DIR whose name or bytes hold one of these values."""
    found = []
    for path in app.settings.media_dir.rglob("*"):
        if path.is_file():
            data = path.read_bytes().lower()
            found += [
                f"{path.name}: {v}"
                for v in values
                if v.lower() in path.name.lower() or v.lower().encode() in data
            ]
    return found


def photo_form(twilio: FakeTwilio, seed: int, phone: str = PHONE) -> dict[str, str]:
    url = twilio.add_media(images.sharp(seed))
    return message(
        "",
        phone=phone,
        NumMedia="1",
        MediaUrl0=url,
        MediaContentType0="image/jpeg",
        ProfileName="Sulastri",
    )


def chat(running: Running, twilio: FakeTwilio, text: str, **extra: str) -> str:
    """Sends as the owner; returns every reply it got, joined."""
    before = len(twilio.to(PHONE))
    say(running, twilio, message(text, phone=PHONE, ProfileName="Sulastri", **extra), PHONE)
    return "\n".join(m.get("Body", "") for m in twilio.to(PHONE)[before:])


def register_and_list(running: Running, twilio: FakeTwilio) -> str:
    """Registers the owner and one product with one photo; returns the photo's sha256."""
    chat(running, twilio, "halo")
    chat(running, twilio, "1")
    chat(running, twilio, "Sulastri Wijayakusuma")
    chat(running, twilio, "ya")
    chat(running, twilio, "Gethuk Lindri Mbok Sulastri")
    chat(running, twilio, "kue")
    chat(running, twilio, "1")
    chat(running, twilio, "sidoarjo")
    chat(running, twilio, "waru")
    chat(running, twilio, "", Latitude="-7.4321", Longitude="112.6789")
    chat(running, twilio, "Jl. Kenanga Ungu No. 47")
    chat(running, twilio, "lewati")
    assert "Kirim foto produknya" in chat(running, twilio, "simpan")
    say(running, twilio, photo_form(twilio, 301), PHONE)
    for text in ("selesai", "Klepon Pandan Wangi", "ya", "15000", "20", "1", "200 gr", "baru"):
        chat(running, twilio, text)
    chat(running, twilio, "Klepon buatan sendiri dari ketan Desa Kedungsari")
    assert "produk lain" in chat(running, twilio, "simpan")
    chat(running, twilio, "tidak")
    with running.app.db.session() as s:
        [sha] = s.exec(select(Photo.sha256)).all()
    return sha


def test_erasure_leaves_no_copy_in_any_table_or_file(
    running: Running, twilio: FakeTwilio, market: FakeMarketplace
) -> None:
    app = running.app
    sha = register_and_list(running, twilio)
    clock = Clock()
    clock.now = utcnow()
    drain(make_worker(app, market, clock), app, clock)  # seller and product are live: done
    running.channel.deliver_due_notices()
    assert any("Klepon" in m.get("Body", "") for m in twilio.to(PHONE))  # told it is live
    wait_answered(app.db)
    before = traces(app, OWNER_VALUES)
    for table in ("inbound_update", "outbox_event", "notice", "channel_account", "seller"):
        assert any(f.startswith(table + ":") for f in before), (table, before)
    media_url = f"{running.base}/media/{sha}.jpg"
    assert httpx.get(media_url).status_code == 200

    chat(running, twilio, "/hapus_data")
    assert "sudah dihapus" in chat(running, twilio, "Ya, hapus")
    wait_answered(app.db)

    left = sorted(set(traces(app, OWNER_VALUES)))
    assert not left, "\n".join(left)
    assert files_with(app, (*OWNER_VALUES, sha)) == []
    assert traces(app, (sha,)) == []
    assert httpx.get(media_url).status_code == 404
    with app.db.session() as s:
        [delete] = s.exec(select(OutboxEvent).where(OutboxEvent.state == "pending")).all()
        assert delete.kind == "seller.delete" and delete.payload == {}  # the marketplace is told
    drain(make_worker(app, market, clock), app, clock)

    assert "Setuju?" in chat(running, twilio, "halo")  # coming back starts afresh
    with app.db.session() as s:
        fresh = s.exec(select(ChannelAccount).where(ChannelAccount.external_id == PHONE)).one()
        assert fresh.seller_id is None


def test_a_photo_sent_before_consent_is_not_kept(running: Running, twilio: FakeTwilio) -> None:
    app = running.app
    assert "Setuju?" in say(running, twilio, photo_form(twilio, 401), PHONE)
    wait_answered(app.db)
    sha = images_sha(app, 401)
    with app.db.session() as s:
        assert s.exec(select(Photo)).all() == []
        assert s.exec(select(PhotoUpload)).all() == []
    assert not list(app.settings.media_dir.rglob("*.jpg"))
    assert httpx.get(f"{running.base}/media/{sha}.jpg").status_code == 404


def test_a_photo_before_consent_stays_when_another_owner_sent_it(
    running: Running, twilio: FakeTwilio
) -> None:
    app = running.app
    other = OTHER
    say(running, twilio, message("halo", phone=other), other)
    say(running, twilio, message("1", phone=other), other)  # agreed
    say(running, twilio, photo_form(twilio, 402, phone=other), other)
    sha = images_sha(app, 402)
    say(running, twilio, photo_form(twilio, 402), PHONE)  # the same bytes, before consent
    wait_answered(app.db)
    with app.db.session() as s:
        assert s.exec(select(Photo.sha256)).all() == [sha]
        uploads = s.exec(select(PhotoUpload.sha256)).all()
    assert uploads == [sha]  # the other owner's only
    assert httpx.get(f"{running.base}/media/{sha}.jpg").status_code == 200


def images_sha(app: App, seed: int) -> str:
    """The sha256 our pipeline stores this picture under, without storing it."""
    processed = process(images.sharp(seed), app.settings.media_dir.parent)
    processed.discard()
    return processed.sha256
