"""Sync worker throughput: events/s against a zero-latency and a 200 ms marketplace.

Run: `make bench-sync` (or `.venv/bin/python bench/sync.py [sellers]`). Each seller has one
product with one photo, so every seller brings two events (seller, then product: a media PUT
and a product PUT). One seller's events are pushed in order; sellers run concurrently.
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_app
from bot.config import Settings
from bot.storage.models import ChannelAccount, OutboxEvent
from bot.storage.products import save_product
from bot.storage.sellers import save_seller
from bot.sync.client import MarketplaceClient
from bot.sync.worker import SyncWorker
from flows.messages import PhotoRef
from tests import images
from tests.fake_marketplace import API_KEY, FakeMarketplace, Faults


def seed(sellers: int) -> object:
    folder = Path(tempfile.mkdtemp())
    app = build_app(
        Settings(
            _env_file=None, database_url=f"sqlite:///{folder}/sync.db", media_dir=folder / "media"
        )
    )
    photo = app.media.ingest(images.sharp(1))
    assert isinstance(photo, PhotoRef)
    with app.db.session() as session:
        for n in range(sellers):
            account = ChannelAccount(channel="console", external_id=f"bench-{n}")
            session.add(account)
            session.flush()
            seller = save_seller(
                session,
                account,
                {
                    "owner_name": "Sri",
                    "phone": f"+62812{n:08d}",
                    "shop_name": f"Toko Sinkron {n}",
                    "category": "fashion",
                    "province_code": "35",
                    "regency_code": "3515",
                    "address": "Jl. Raya Waru 1",
                    "consent_version": "v1",
                    "consent_at": "2026-11-28T00:00:00+00:00",
                },
                source="telegram",
            )
            save_product(
                session,
                seller,
                {
                    "photos": [photo.to_json()],
                    "name": f"Produk {n}",
                    "category": "fashion",
                    "price": 25000,
                    "stock": 10,
                    "min_order": 1,
                    "weight_grams": 250,
                    "condition": "new",
                    "description": "Produk contoh untuk uji kecepatan sinkron.",
                },
                None,
            )
    return app


def run(sellers: int, latency: float, pool: int) -> None:
    app = seed(sellers)
    market = FakeMarketplace(Faults(latency=latency))
    client = MarketplaceClient(market.url, API_KEY, pool_size=pool)
    worker = SyncWorker(app.db, app.media, client, concurrency=pool)  # type: ignore[attr-defined]

    async def go() -> float:
        start = time.perf_counter()
        await worker.run_once()
        elapsed = time.perf_counter() - start
        await client.close()
        return elapsed

    elapsed = asyncio.run(go())
    with app.db.session() as s:  # type: ignore[attr-defined]
        done = s.exec(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.state == "done")
        ).one()
    market.close()
    app.close()  # type: ignore[attr-defined]
    print(
        f"  latency {latency * 1000:4.0f} ms, pool {pool:3d}: {done} events in {elapsed:6.2f} s"
        f" = {done / elapsed:7.1f} events/s ({len(market.requests)} HTTP calls)"
    )


def main() -> None:
    sellers = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    print(f"{sellers} sellers with one product each ({2 * sellers} events), SQLite:")
    for latency, pool in ((0.0, 8), (0.2, 1), (0.2, 8), (0.2, 32)):
        run(sellers if latency == 0 or pool > 1 else min(sellers, 20), latency, pool)


if __name__ == "__main__":
    main()
