"""The sync worker against a marketplace on 127.0.0.1 that implements the contract, with faults."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlmodel import select

from bot.app import App, build_app
from bot.config import Settings
from bot.conversation import ConversationRunner
from bot.storage.models import OutboxEvent, Product, Seller, utcnow
from bot.sync.client import MarketplaceClient
from bot.sync.runner import build_worker
from bot.sync.status import requeue, sync_report
from bot.sync.worker import SyncWorker, Tally
from tests import images
from tests.conftest import Chat, Clock
from tests.fake_marketplace import API_KEY, FakeMarketplace, Faults
from tests.test_registration import register


@pytest.fixture
def market() -> Iterator[FakeMarketplace]:
    server = FakeMarketplace()
    yield server
    server.close()


@pytest.fixture
def now_clock() -> Clock:
    clock = Clock()
    clock.now = utcnow()
    return clock


def make_worker(app: App, market: FakeMarketplace, clock: Clock, **kw: object) -> SyncWorker:
    client = MarketplaceClient(market.url, API_KEY, timeout=1.0)
    return SyncWorker(app.db, app.media, client, clock=clock, **kw)  # type: ignore[arg-type]


def pending(app: App) -> int:
    with app.db.session() as s:
        return len(list(s.exec(select(OutboxEvent).where(OutboxEvent.state == "pending"))))


def drain(worker: SyncWorker, app: App, clock: Clock, rounds: int = 80) -> None:
    """Run the worker, moving the clock past backoffs, until nothing is pending."""

    async def run() -> None:
        try:
            for _ in range(rounds):
                await worker.run_once()
                if pending(app) == 0:
                    return
                clock.advance(minutes=20)
            raise AssertionError(f"{pending(app)} events still pending")
        finally:
            await worker.client.close()

    asyncio.run(run())


def list_product(
    app: App, owner: Chat, name: str, description: str = "pakai", seeds: tuple[int, ...] = (1, 2)
) -> None:
    owner.send(photos=tuple(app.media.ingest(images.sharp(s)) for s in seeds))
    owner.send("selesai")
    owner.send(name)
    owner.send("ya")
    for answer in ("15000", "20", "1", "200 gr", "baru", description, "simpan"):
        owner.send(answer)
    assert "sudah disimpan" in owner.text, owner.text


def owner_with_product(
    app: App, runner: ConversationRunner, phone: str, shop: str, product: str, **kw: object
) -> Chat:
    owner = Chat(runner, phone, phone=phone)
    register(owner, shop=shop)
    list_product(app, owner, product, **kw)  # type: ignore[arg-type]
    owner.send("tidak")
    return owner


def test_seller_photos_product_pushed_and_owner_told(
    app: App, runner: ConversationRunner, market: FakeMarketplace, now_clock: Clock
) -> None:
    owner = owner_with_product(
        app, runner, "+6281234567890", "Keripik Bu Sri", "Keripik Tempe Pedas"
    )
    drain(make_worker(app, market, now_clock), app, now_clock)
    with app.db.session() as s:
        seller = s.exec(select(Seller)).one()
        product = s.exec(select(Product)).one()
    assert market.sellers[seller.ref]["shop_name"] == "Keripik Bu Sri"
    assert market.products[product.ref]["price"] == {"amount": 15000, "currency": "IDR"}
    assert len(market.media) == 2
    assert (product.status, product.url) == ("live", f"https://toko.test/{product.ref}")
    assert seller.marketplace_id == f"m-{seller.ref}"
    order = [path.split("/")[2] for _, path, _, _ in market.requests]
    assert order == ["sellers", "media", "media", "products"]  # seller, photos, then product
    owner.send("menu")
    assert "sudah tayang: https://toko.test/" in owner.text
    report = sync_report(app.db)
    assert report.counts == {"done": 2} and report.oldest_pending_age is None


def test_faults_still_give_exactly_once(
    app: App, runner: ConversationRunner, now_clock: Clock
) -> None:
    market = FakeMarketplace(
        Faults(
            server_error=0.2, too_many=0.1, timeout=0.05, drop_after_store=0.15, hang_seconds=1.5
        )
    )
    try:
        for n in range(4):
            owner = owner_with_product(
                app,
                runner,
                f"+628123456780{n}",
                f"Toko Uji {n}",
                f"Produk Uji {n}",
                seeds=(10 + n, 20 + n),
            )
            list_product(app, owner, f"Produk Kedua {n}", seeds=(30 + n,))
            owner.send("tidak")
        drain(make_worker(app, market, now_clock), app, now_clock)
        with app.db.session() as s:
            events = list(s.exec(select(OutboxEvent)))
            products = list(s.exec(select(Product)))
            sellers = list(s.exec(select(Seller)))
        assert {e.state for e in events} == {"done"}
        assert len(market.sellers) == 4 and len(market.products) == 8
        for product in products:
            assert market.products[product.ref]["name"] == product.name
            assert market.stores[f"/v1/products/{product.ref}"] == 1  # stored once, replays cached
        assert all(market.stores[f"/v1/sellers/{s.ref}"] == 1 for s in sellers)
        keys = {e.idempotency_key for e in events}
        by_key: dict[str, set[tuple[str, str]]] = {}
        for _, path, key, digest in market.requests:
            assert key in keys or key.rsplit(".m", 1)[0] in keys
            by_key.setdefault(key, set()).add((path, digest))
        assert all(len(v) == 1 for v in by_key.values())  # one key, one request, however retried
        retried = [e for e in events if e.attempts > 0]
        assert retried  # the faults did happen
    finally:
        market.close()


def test_field_error_is_explained_and_fixed_from_chat(
    app: App, runner: ConversationRunner, market: FakeMarketplace, now_clock: Clock
) -> None:
    owner = owner_with_product(
        app,
        runner,
        "+6281234567890",
        "Batik Bu Ani",
        "Batik Tulis",
        description="TOLAK deskripsi ini yang cukup panjang",
    )
    drain(make_worker(app, market, now_clock), app, now_clock)
    with app.db.session() as s:
        product = s.exec(select(Product)).one()
        failed = s.exec(select(OutboxEvent).where(OutboxEvent.state == "failed")).one()
    assert product.status == "needs_fix" and "deskripsi" in (product.reason or "")
    assert "description" in (failed.last_error or "")
    owner.send("menu")
    assert "Ketik *ubah deskripsi*" in owner.text
    owner.send("ubah deskripsi")
    assert "Deskripsi sekarang" in owner.last
    owner.send("Batik tulis asli Sidoarjo, kain katun halus, ukuran 2 x 1,15 meter.")
    assert "Cek produknya" in owner.last
    owner.choose("Simpan")
    drain(make_worker(app, market, now_clock), app, now_clock)
    with app.db.session() as s:
        product = s.exec(select(Product)).one()
    assert product.status == "live" and market.products[product.ref]["description"].startswith(
        "Batik tulis asli"
    )
    assert sync_report(app.db).counts.get("failed") == 1  # the refused version stays recorded


def test_unauthorized_pauses_everything_and_alerts_admins(
    settings: Settings, market: FakeMarketplace
) -> None:
    from tests.fake_telegram import TOKEN, FakeTelegram

    telegram = FakeTelegram()
    app = build_app(
        settings.model_copy(
            update={
                "marketplace_api_url": market.url,
                "marketplace_api_key": SecretStr("wrong-key"),
                "telegram_bot_token": SecretStr(TOKEN),
                "telegram_api_base_url": telegram.base_url,
                "admin_telegram_ids": [4242],
            }
        )
    )
    try:
        owner_with_product(app, app.runner, "+6281234567890", "Toko Kunci", "Produk Kunci")
        worker = build_worker(app)
        assert worker is not None

        async def once() -> Tally:
            try:
                return await worker.run_once()
            finally:
                await worker.client.close()

        tally = asyncio.run(once())
        assert tally.paused and tally.done == 0
        with app.db.session() as s:
            events = list(s.exec(select(OutboxEvent)))
        assert {(e.state, e.attempts) for e in events} == {("pending", 0)}
        assert len(market.requests) == 1  # stopped after the first refusal
        [alert] = telegram.sent(4242)
        assert "MARKETPLACE_API_KEY" in alert["text"]
    finally:
        app.close()
        telegram.close()


def test_product_waits_for_its_seller_and_edits_supersede(
    app: App, runner: ConversationRunner, market: FakeMarketplace, now_clock: Clock
) -> None:
    owner = owner_with_product(app, runner, "+6281234567890", "Toko Urut", "Produk Urut")
    worker = make_worker(app, market, now_clock)
    now_clock.now = utcnow()
    [first] = worker.claim(10)
    assert first.kind == "seller.upsert"  # the product is held back until its seller is done
    assert worker.claim(10) == []  # leased; and the product still waits
    owner.send("produk saya")
    owner.send("1")
    owner.choose("Ubah")
    owner.send("ubah harga")
    owner.send("17500")
    owner.choose("Simpan")
    with app.db.session() as s:
        states = [(e.kind, e.state) for e in s.exec(select(OutboxEvent).order_by(OutboxEvent.id))]
    assert states == [
        ("seller.upsert", "pending"),
        ("product.upsert", "superseded"),
        ("product.upsert", "pending"),
    ]
    now_clock.advance(minutes=5)  # the lease of the first claim runs out
    drain(worker, app, now_clock)
    [product] = market.products.values()
    assert product["price"]["amount"] == 17500


def test_deletes_propagate(
    app: App, runner: ConversationRunner, market: FakeMarketplace, now_clock: Clock
) -> None:
    owner = owner_with_product(app, runner, "+6281234567890", "Toko Hapus", "Produk Hapus")
    list_product(app, owner, "Produk Tetap", seeds=(5,))
    owner.send("tidak")
    drain(make_worker(app, market, now_clock), app, now_clock)
    assert len(market.products) == 2
    owner.send("produk saya")
    owner.send("2")
    owner.choose("Hapus")
    owner.choose("Ya, hapus")
    drain(make_worker(app, market, now_clock), app, now_clock)
    assert len(market.products) == 1
    owner.send("/hapus_data")
    owner.choose("Ya, hapus")
    drain(make_worker(app, market, now_clock), app, now_clock)
    assert market.sellers == {} and market.products == {}


def test_two_workers_on_postgresql_never_push_the_same_event_together(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        _env_file=None, database_url=postgres_url, media_dir=tmp_path / "m", strict_messages=True
    )
    from tests.conftest import truncate_all

    truncate_all(postgres_url)
    app = build_app(settings)
    market = FakeMarketplace(Faults(latency=0.05, server_error=0.1))
    clock = Clock()
    clock.now = utcnow()
    try:
        for n in range(6):
            owner_with_product(
                app,
                app.runner,
                f"+628129999000{n}",
                f"Toko Dua {n}",
                f"Produk Dua {n}",
                seeds=(40 + n,),
            )

        async def both() -> None:
            workers = [make_worker(app, market, clock) for _ in range(2)]
            for _ in range(40):
                await asyncio.gather(*(w.run_once() for w in workers))
                if pending(app) == 0:
                    break
                clock.advance(minutes=20)
            for w in workers:
                await w.client.close()

        asyncio.run(both())
        assert pending(app) == 0
        assert market.overlaps == 0
        assert len(market.products) == 6
        assert all(n == 1 for path, n in market.stores.items() if "/products/" in path)
    finally:
        market.close()
        app.close()


@pytest.mark.slow
def test_kill_9_mid_batch_loses_nothing(
    app: App, runner: ConversationRunner, settings: Settings
) -> None:
    market = FakeMarketplace(Faults(latency=0.2))
    try:
        for n in range(5):
            owner_with_product(
                app,
                runner,
                f"+628127777000{n}",
                f"Toko Mati {n}",
                f"Produk Mati {n}",
                seeds=(50 + n,),
            )
        env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "MEDIA_DIR": str(settings.media_dir),
            "MARKETPLACE_API_URL": market.url,
            "MARKETPLACE_API_KEY": API_KEY,
            "SYNC_CONCURRENCY": "2",
        }
        root = Path(__file__).resolve().parent.parent
        worker = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "worker"],
            env=env,
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 20
        while len(market.requests) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        assert 0 < len(market.products) < 5 or pending(app) > 0  # killed mid-way
        with app.db.session() as s:
            for event in s.exec(select(OutboxEvent)):
                event.claimed_until = None  # what the lease running out amounts to
                s.add(event)
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "worker", "--once"],
            env=env,
            cwd=root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr[-2000:]
        assert pending(app) == 0
        assert len(market.products) == 5 and len(market.sellers) == 5
        assert all(n == 1 for n in market.stores.values())
    finally:
        market.close()


def test_requeue_failed(
    app: App, runner: ConversationRunner, market: FakeMarketplace, now_clock: Clock
) -> None:
    owner_with_product(
        app,
        runner,
        "+6281234567890",
        "Toko Ulang",
        "Produk Ulang",
        description="TOLAK deskripsi yang panjangnya cukup",
    )
    drain(make_worker(app, market, now_clock), app, now_clock)
    [failed] = sync_report(app.db).failures
    assert requeue(app.db, failed.id) == 1
    assert pending(app) == 1
