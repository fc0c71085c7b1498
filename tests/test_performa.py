"""/performa: an owner asks over `pelapak chat --jsonl` (a real process) and sees the figures
the marketplace sent through the signed webhook; the weekly digest."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
from pydantic import SecretStr
from sqlmodel import col, select

from bot.app import App, build_app
from bot.config import Settings
from bot.digest import send_digests
from bot.sales import local_day
from bot.storage.models import ChannelAccount, Notice, SalesDigest, utcnow
from bot.web import create_web_app
from tests.marketplace import SECRET, make_shop, signed, stats_event
from tests.served import Served, free_port
from tests.test_console_jsonl import exchange, start_chat


@pytest.fixture
def served(settings: Settings) -> Iterator[tuple[App, Served]]:
    app = build_app(settings.model_copy(update={"marketplace_webhook_secret": SecretStr(SECRET)}))
    server = Served(create_web_app(app), free_port())
    yield app, server
    server.stop()
    app.close()


def send(server: Served, events: list[dict[str, object]]) -> None:
    body, headers = signed(events)
    response = server.http.post(f"{server.base}/marketplace/webhook", content=body, headers=headers)
    assert response.status_code == 200, response.text


def test_performa_shows_the_figures_the_marketplace_sent(served: tuple[App, Served]) -> None:
    app, server = served
    _, (selling, looked_at, unseen) = make_shop(
        app.db, products=("Keripik Tempe", "Sambal Bawang", "Kopi Bubuk")
    )
    today = local_day(utcnow())
    days_ago = [today - timedelta(days=n) for n in range(0, 40)]
    events = [
        # three days in the last week: 10 views, 1 order, 2 units, Rp50.000 each
        *(
            stats_event(
                f"ev-sell-{n:03}",
                selling,
                days_ago[n],
                views=10,
                orders=1,
                units=2,
                revenue=50000,
                ratings=(1, 5 if n != 2 else 4),
            )
            for n in (1, 2, 3)
        ),
        # twenty days ago: counted in 30 days, not in 7
        stats_event(
            "ev-sell-020", selling, days_ago[20], views=100, orders=4, units=4, revenue=100000
        ),
        # thirty-five days ago: in neither
        stats_event(
            "ev-sell-035", selling, days_ago[35], views=999, orders=99, units=99, revenue=9999999
        ),
        # looked at, never bought (one photo): the photo tip
        stats_event("ev-look-001", looked_at, days_ago[2], views=40),
        stats_event("ev-look-002", unseen, days_ago[2], views=0),
    ]
    send(server, events)
    # the marketplace corrects a day: the new figures replace the old ones, never add
    corrected = stats_event(
        "ev-sell-fix1",
        selling,
        days_ago[1],
        views=12,
        orders=1,
        units=2,
        revenue=50000,
        ratings=(1, 5),
        at=datetime.combine(today + timedelta(days=1), time(23, 0)),
    )
    send(server, [corrected])

    proc = start_chat(app)
    try:
        replies = exchange(proc, {"text": "/performa"})
        again = exchange(proc, {"text": "laku berapa"})
        english = exchange(proc, {"text": "penjualan"})
    finally:
        assert proc.stdin
        proc.stdin.close()
        proc.wait(timeout=30)
    texts = [r["text"] for r in replies]
    assert texts[0] == "Penjualan 3 produk Kakak yang tayang 📊"
    by_name = {text.splitlines()[0].strip("*"): text for text in texts[1:]}
    keripik = by_name["Keripik Tempe"].splitlines()
    assert keripik[1] == (
        "7 hari terakhir: dilihat 32 kali, 3 pesanan, 6 terjual, Rp150.000, rating 4,7 (3 ulasan)"
    )
    assert keripik[2] == (
        "30 hari terakhir: dilihat 132 kali, 7 pesanan, 10 terjual, Rp250.000, "
        "rating 4,7 (3 ulasan)"
    )
    assert len(keripik) == 3  # it sells: no tip
    sambal = by_name["Sambal Bawang"]
    assert "dilihat 40 kali, 0 pesanan" in sambal and "belum ada ulasan" in sambal
    assert "Tambah fotonya" in sambal  # one photo: the tip is about photos
    assert "belum ada yang lihat" in by_name["Kopi Bubuk"]
    assert [r["text"] for r in again] == texts  # "laku berapa" is the same command
    assert [r["text"] for r in english] == texts


@pytest.mark.any_backend
def test_performa_before_anything_is_live(app: App) -> None:
    make_shop(app.db, products=("Keripik Tempe",), status="pending")
    proc = start_chat(app)
    try:
        replies = exchange(proc, {"text": "performa"})
    finally:
        assert proc.stdin
        proc.stdin.close()
        proc.wait(timeout=30)
    assert [r["text"] for r in replies] == [
        "Belum ada produk Kakak yang tayang, jadi belum ada angka penjualan. "
        "Ketik *produk saya* untuk cek statusnya."
    ]


MONDAY_10_WIB = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


def test_weekly_digest_once_a_week_to_owners_with_live_products(app: App) -> None:
    from bot.marketplace_events import check_batch, ingest

    seller, (ref,) = make_shop(app.db, phone="+6281111111111")
    make_shop(app.db, phone="+6282222222222", status="pending")  # nothing live: no digest
    quiet, _ = make_shop(app.db, phone="+6283333333333")  # live, but said STOP
    with app.db.session() as session:
        account = session.exec(
            select(ChannelAccount).where(ChannelAccount.seller_id == quiet)
        ).one()
        account.opted_out = True
        session.add(account)
    last_week = [date(2026, 11, 16) + timedelta(days=n) for n in range(7)]
    batch = check_batch(
        {
            "events": [
                stats_event(f"ev-week-{n}", ref, day, views=5, orders=1, units=1, revenue=25000)
                for n, day in enumerate(last_week)
            ]
            + [stats_event("ev-this-week", ref, date(2026, 11, 23), views=50)]
        }
    )
    assert isinstance(batch, list)
    ingest(app.db, batch)
    assert send_digests(app.db, MONDAY_10_WIB - timedelta(days=1)) == 0  # Sunday
    assert send_digests(app.db, MONDAY_10_WIB.replace(hour=1)) == 0  # Monday 08:00 WIB
    assert send_digests(app.db, MONDAY_10_WIB) == 1
    assert send_digests(app.db, MONDAY_10_WIB + timedelta(hours=2)) == 0  # once a week
    with app.db.read_session() as session:
        notices = session.exec(select(Notice).order_by(col(Notice.id))).all()
        digests = session.exec(select(SalesDigest)).all()
    assert [n.msgid for n in notices] == ["perf.digest"]
    assert notices[0].params == {
        "views": 35,
        "orders": 7,
        "units": 7,
        "revenue": {"rupiah": 175000},
    }
    assert {d.seller_id for d in digests} == {seller, quiet}
    assert send_digests(app.db, MONDAY_10_WIB + timedelta(days=7)) == 1  # the next week
