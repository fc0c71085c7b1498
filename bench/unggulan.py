"""Produk unggulan at scale: daily stats for N products over D days, sent through the real
webhook (signed batches of 500 over a real socket) into PostgreSQL, then the ranking of every
East Java regency.

The issue's size is 30,000 products x 365 days = 10.95 million events, and 12 million with a
tenth of the figures corrected later (`--corrections 0.1`: each a new event id with a later
occurred_at, replacing the stored row). The bench checks that every event was accepted and
that the stored rows end with the corrected figures.

    .venv/bin/python bench/unggulan.py --products 6000 --days 100    # 600,000 events
    .venv/bin/python bench/unggulan.py --products 30000 --days 365 --corrections 0.1  # 12M

Several sender threads post batches at once (the marketplace retries in parallel too); they,
the web server and its database sessions share one Python process, and PostgreSQL runs on the
same machine.

Figures (2026-11-29, a 2-core machine shared with other sessions, load average 3 to 20 during
the runs, PostgreSQL 15 with its default settings: shared_buffers 128 MB, synchronous_commit
on; so lower than a quiet machine would give):

- 600,000 events, 4 senders: before (jsonschema on every event, executemany): 4,145 events/s
  (2,490 at a busier moment); after (a plain check compiled from the contract, one statement
  per table per batch over a JSON array, no surrogate id on product_stats): 20,335 events/s,
  a batch p50 70 ms, p99 284 ms.
- 12,045,059 events (10,950,000 product-days + 1,095,059 corrections) in 24,091 batches:
  957.5 s (16 min) = 12,579 events/s, a batch p50 109 ms, p99 611 ms. The ranking of all 38
  regencies (76 groups, 30,000 products, the 90 days' sums in one SQL query): 4.3 s, of which
  the SQL 3.4 s; regency by regency (38 queries, as `pelapak unggulan --regency`): 173 s
  before summing only that regency's products and without JIT, 6.9 s after. Stored:
  product_stats 2.4 GB, marketplace_event 1.8 GB, the database 4.2 GB.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa
from pydantic import SecretStr

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_app
from bot.config import Settings
from bot.marketplace_events import sign
from bot.ranking import Method, rank
from bot.sales import ranking_figures
from bot.storage.models import Product, Seller
from bot.web import create_web_app
from flows.regions import regencies
from tests.served import Served, free_port

SECRET = "bench-secret"
NOW = datetime.now(UTC)
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
CATEGORIES = ("makanan-minuman", "kerajinan", "fashion", "kecantikan")


def seed(db, products: int) -> list[str]:  # type: ignore[no-untyped-def]
    """`products` live products over the 38 regencies, 4 categories, 5 products a shop."""
    codes = sorted(c for c in regencies() if c.startswith("35"))
    sellers, rows = [], []
    for s in range((products + 4) // 5):
        sellers.append(
            {
                "ref": f"S_bench{s:07}",
                "status": "active",
                "shop_name": f"Toko {s}",
                "shop_name_key": f"toko {s}",
                "category": CATEGORIES[s % 4],
                "province_code": "35",
                "regency_code": codes[s % len(codes)],
                "locale": "id",
                "source": "import",
                "phone_verified": False,
                "registered_at": NOW,
                "updated_at": NOW,
            }
        )
    with db.engine.begin() as conn:
        conn.execute(sa.insert(Seller.__table__), sellers)  # type: ignore[attr-defined]
        ids = dict(conn.execute(sa.text("SELECT ref, id FROM seller")).all())
        for p in range(products):
            rows.append(
                {
                    "ref": f"P_bench{p:07}",
                    "seller_id": ids[f"S_bench{p // 5:07}"],
                    "status": "live",
                    "name": f"Produk {p}",
                    "category": CATEGORIES[(p // 5) % 4],
                    "price": 25000,
                    "min_order": 1,
                    "photos": [],
                    "version": 1,
                    "created_at": NOW,
                    "updated_at": NOW,
                }
            )
        conn.execute(sa.insert(Product.__table__), rows)  # type: ignore[attr-defined]
    return [r["ref"] for r in rows]


def batches(refs: list[str], days: int, end: date, corrections: float, sent: dict[str, int]):  # type: ignore[no-untyped-def]
    """Day by day, product by product, 500 events a batch. A share `corrections` of the
    figures is corrected later (new figures, a later occurred_at, its own event id), sent two
    days of events after the original so that it replaces a stored row. `sent` counts the
    events and sums the views the stored rows must end with."""
    rng = random.Random(7)
    batch: list[dict[str, object]] = []
    later: dict[int, list[dict[str, object]]] = {}

    def add(event: dict[str, object]) -> bool:
        batch.append(event)
        sent["events"] += 1
        return len(batch) == 500

    for d in range(days + 2):
        day = end - timedelta(days=d)
        for n, ref in enumerate(refs if d < days else ()):
            views = rng.randint(0, 60)
            orders = rng.randint(0, views // 10)
            reviews = rng.randint(0, orders)
            event: dict[str, object] = {
                "id": f"ev-{d:03}-{n:06}",
                "type": "product.stats",
                "occurred_at": f"{day.isoformat()}T23:30:00+07:00",
                "product_ref": ref,
                "period_start": day.isoformat(),
                "period_end": day.isoformat(),
                "views": views,
                "orders": orders,
                "units_sold": orders + rng.randint(0, orders),
                "revenue": {"amount": orders * 25000, "currency": "IDR"},
                "ratings": {"count": reviews, "sum": reviews * rng.randint(3, 5)},
                "returns": 1 if orders and rng.random() < 0.03 else 0,
            }
            sent["views"] += views
            if rng.random() < corrections:  # at most one a row: it ends with views + 1
                sent["views"] += 1
                fixed = dict(event, id=f"ev-fix-{d:03}-{n:06}", views=views + 1)
                fixed["occurred_at"] = f"{(day + timedelta(days=2)).isoformat()}T08:00:00+07:00"
                later.setdefault(d + 2, []).append(fixed)
            if add(event):
                yield batch
                batch = []
        for fixed in later.pop(d, []):
            if add(fixed):
                yield batch
                batch = []
    if batch:
        yield batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--products", type=int, default=2000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--senders", type=int, default=4)
    parser.add_argument(
        "--corrections", type=float, default=0.0, help="share of figures corrected later"
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    name = f"unggulan_bench_{uuid.uuid4().hex[:6]}"  # its own prefix: others clean up theirs
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    settings = Settings(
        _env_file=None, database_url=url, marketplace_webhook_secret=SecretStr(SECRET)
    )
    app = build_app(settings)
    server = Served(create_web_app(app), free_port())
    try:
        refs = seed(app.db, args.products)
        end = date(2026, 11, 28)
        client = httpx.Client(timeout=120, limits=httpx.Limits(max_connections=args.senders))

        latencies: list[float] = []

        def post(batch: list[dict[str, object]]) -> int:
            body = json.dumps({"events": batch}).encode()
            stamp = int(time.time())
            headers = {"Marketplace-Signature": f"t={stamp},v1={sign(SECRET, stamp, body)}"}
            sent_at = time.perf_counter()
            response = client.post(
                f"{server.base}/marketplace/webhook", content=body, headers=headers
            )
            latencies.append(time.perf_counter() - sent_at)
            assert response.status_code == 200, response.text
            return int(response.json()["accepted"])

        sent = {"events": 0, "views": 0}
        started = time.perf_counter()
        # Each sender takes the next batch when it is free (Executor.map would build every
        # batch up front: gigabytes at the full size).
        source = batches(refs, args.days, end, args.corrections, sent)
        lock = threading.Lock()

        def sender() -> int:
            accepted = 0
            while True:
                with lock:
                    batch = next(source, None)
                if batch is None:
                    return accepted
                accepted += post(batch)

        with ThreadPoolExecutor(args.senders) as pool:
            accepted = sum(pool.map(lambda _: sender(), range(args.senders)))
        ingest_s = time.perf_counter() - started
        total = sent["events"]
        assert accepted == total, (accepted, total)
        with app.db.engine.connect() as conn:
            rows, views = conn.exec_driver_sql(
                "SELECT count(*), sum(views) FROM product_stats"
            ).one()
        assert (rows, views) == (args.products * args.days, sent["views"]), (rows, views, sent)

        method = Method()
        started = time.perf_counter()
        with app.db.read_session() as session:
            figures = ranking_figures(session, end - timedelta(days=method.window_days - 1), end)
        sql_s = time.perf_counter() - started
        groups = rank([f for f, _ in figures], method)
        rank_s = time.perf_counter() - started
        regencies_ranked = len({g.regency for g in groups})
        listed = sum(len(g.ranked) for g in groups)
        # what `pelapak unggulan --regency CODE` and an owner's own rank ask: one regency each
        started = time.perf_counter()
        one_by_one = 0
        for code in sorted({g.regency for g in groups}):
            with app.db.read_session() as session:
                some = ranking_figures(
                    session, end - timedelta(days=method.window_days - 1), end, regency=code
                )
            one_by_one += len(rank([f for f, _ in some], method))
        each_s = time.perf_counter() - started
        assert one_by_one == len(groups)
        full = 12_000_000
        latencies.sort()
        p50, p99 = (latencies[int(q * (len(latencies) - 1))] * 1000 for q in (0.5, 0.99))
        print(
            f"events: {total:,} ({rows:,} product-days, {total - rows:,} corrections)"
            f" via {len(latencies):,} signed batches of up to 500, {args.senders} senders"
        )
        print(
            f"ingest: {ingest_s:.1f} s = {total / ingest_s:,.0f} events/s; a batch took"
            f" p50 {p50:.0f} ms, p99 {p99:.0f} ms"
            f" (the issue's {full:,}: ~{full / (total / ingest_s) / 60:.0f} min at this rate)"
        )
        print(
            f"ranking: {regencies_ranked} regencies, {len(groups)} groups, {listed:,} listed "
            f"of {len(figures):,}; SQL sums {sql_s:.2f} s, total {rank_s:.2f} s;"
            f" regency by regency {each_s:.2f} s"
        )
        with app.db.engine.connect() as conn:
            size = conn.exec_driver_sql(
                "SELECT pg_size_pretty(pg_total_relation_size('product_stats')),"
                " pg_size_pretty(pg_total_relation_size('marketplace_event')),"
                " pg_size_pretty(pg_database_size(current_database()))"
            ).one()
        print(
            f"stored: product_stats {size[0]}, marketplace_event {size[1]}; the database {size[2]}"
        )
    finally:
        server.stop()
        app.close()
        if not args.keep:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
