"""Dashboard speed on real volumes: 100,000 sellers and 300,000 products on PostgreSQL.

Run: `make bench-dashboard` (or `.venv/bin/python bench/dashboard.py [sellers]`). Seeds a fresh
database (dropped afterwards) with sellers spread over East Java's 38 regencies, three products
each, an account and a conversation per seller, 20,000 people who only chatted and 200,000
imported records; then times the overview page and shop searches over HTTP (a real socket,
signed in with a link), median and worst of repeated requests. Goals: overview < 300 ms,
search < 200 ms.
"""

from __future__ import annotations

import io
import os
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_app
from bot.config import Settings
from bot.dashboard.auth import issue_link
from bot.storage.models import Admin, utcnow
from bot.web import create_web_app
from flows.regions import EAST_JAVA, regencies
from tests.served import Served, free_port

ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
WORDS = [
    "keripik",
    "sambal",
    "batik",
    "kopi",
    "tempe",
    "kerupuk",
    "madu",
    "rengginang",
    "jamu",
    "tas",
    "kaos",
    "bandeng",
]
STATUSES = ["live", "live", "pending", "needs_fix", "draft"]


def _copy(raw: object, table: str, columns: str, rows: list[tuple[object, ...]]) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join("\\N" if v is None else str(v) for v in row) + "\n")
    buffer.seek(0)
    with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:  # type: ignore[attr-defined]
        copy.write(buffer.getvalue())


def seed(engine: sa.Engine, sellers: int) -> None:
    rng = random.Random(7)
    codes = [c for c, r in regencies().items() if r.province_code == EAST_JAVA]
    now = datetime.now(UTC)
    raw = engine.raw_connection()
    try:
        seller_rows, account_rows, conversation_rows, product_rows = [], [], [], []
        for i in range(1, sellers + 1):
            word = rng.choice(WORDS)
            at = now - timedelta(days=rng.randint(0, 120), minutes=rng.randint(0, 1440))
            regency = rng.choice(codes)
            status = "active" if i % 50 else "awaiting_consent"
            seller_rows.append(
                (
                    i,
                    f"S_{i}",
                    status,
                    f"Pemilik {i}",
                    f"+62812{i:08d}",
                    "true",
                    f"{word.title()} {i}",
                    f"{word} {i}",
                    rng.choice(["makanan-minuman", "fashion", "kerajinan"]),
                    "35",
                    regency,
                    "id",
                    "whatsapp",
                    f"PDP-{regency}-001" if i % 3 == 0 else None,
                    at,
                    at,
                )
            )
            account_rows.append((i, "whatsapp", f"+62812{i:08d}", i, "id", "false", at, at))
            conversation_rows.append((i, i, "{}", "{}", 0, at, 0))
            for n in range(3):
                product_rows.append(
                    (
                        i * 3 + n,
                        f"P_{i}_{n}",
                        i,
                        rng.choice(STATUSES),
                        f"{word} {n}",
                        15000,
                        1,
                        "[]",
                        0,
                        at,
                        at + timedelta(days=1),
                    )
                )
        _copy(
            raw,
            "seller",
            "id, ref, status, owner_name, phone, phone_verified, shop_name, "
            "shop_name_key, category, province_code, regency_code, locale, source, "
            "facilitator_code, registered_at, updated_at",
            seller_rows,
        )
        _copy(
            raw,
            "channel_account",
            "id, channel, external_id, seller_id, locale, opted_out, last_inbound_at, created_at",
            account_rows,
        )
        extra = sellers // 5
        _copy(
            raw,
            "channel_account",
            "id, channel, external_id, locale, opted_out, last_inbound_at, created_at",
            [
                (sellers + j, "telegram", str(900000 + j), "id", "false", now, now)
                for j in range(1, extra + 1)
            ],
        )
        conversation_rows += [
            (
                sellers + j,
                sellers + j,
                '{"consent_version": "2026-11"}' if j % 2 else "{}",
                "{}",
                0,
                now,
                0,
            )
            for j in range(1, extra + 1)
        ]
        _copy(
            raw,
            "conversation",
            "id, account_id, draft, meta, version, updated_at, nudges_sent",
            conversation_rows,
        )
        _copy(
            raw,
            "product",
            "id, ref, seller_id, status, name, price, min_order, photos, "
            "version, created_at, updated_at",
            product_rows,
        )
        _copy(
            raw,
            "umkm_record",
            "id, row_key, phone, owner_name, business_name, "
            "province_code, regency_code, source_file, imported_at, updated_at",
            [
                (
                    j,
                    f"r{j}",
                    f"+62813{j:08d}",
                    f"Pemilik {j}",
                    f"Usaha {j}",
                    "35",
                    rng.choice(codes),
                    "bench.csv",
                    now,
                    now,
                )
                for j in range(1, sellers * 2 + 1)
            ],
        )
        with raw.cursor() as cursor:  # type: ignore[attr-defined]
            for table in ("seller", "channel_account", "conversation", "product", "umkm_record"):
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def timed(
    served: Served, path: str, cookies: dict[str, str], runs: int = 15
) -> tuple[float, list[float]]:
    """The first request (nothing kept yet) and then `runs` more."""
    start = time.perf_counter()
    served.http.get(served.base + path, cookies=cookies)
    cold = (time.perf_counter() - start) * 1000
    took = []
    for _ in range(runs):
        start = time.perf_counter()
        response = served.http.get(served.base + path, cookies=cookies)
        took.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return cold, took


def main(sellers: int = 100_000) -> None:
    name = f"pelapak_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        app = build_app(Settings(_env_file=None, database_url=url, media_dir=Path("/tmp/bm")))
        start = time.perf_counter()
        seed(app.db.engine, sellers)
        print(
            f"seeded {sellers:,} sellers, {sellers * 3:,} products in "
            f"{time.perf_counter() - start:.0f} s"
        )
        with app.db.session() as session:
            session.add(Admin(channel="console", external_id="bench"))
        with app.db.session() as session:
            token = issue_link(session, app.settings, "console", "bench", utcnow())
        served = Served(create_web_app(app), free_port())
        try:
            pre = served.http.get(f"{served.base}/admin/login/{token}")
            signed = served.http.post(
                f"{served.base}/admin/login",
                data={"csrf": pre.cookies["pelapak_signin"], "token": token},
                cookies={"pelapak_signin": pre.cookies["pelapak_signin"]},
            )
            cookies = {"pelapak_admin": signed.cookies["pelapak_admin"]}
            for label, path, goal in (
                ("overview", "/admin/", 300),
                ("search by name", "/admin/shops?q=keripik", 200),
                ("search rare name", "/admin/shops?q=rengginang+777", 200),
                ("search regency+step", "/admin/shops?regency=3515&step=live", 200),
                ("search category+step", "/admin/shops?category=fashion&step=registered", 200),
                ("regencies", "/admin/regencies", 300),
            ):
                cold, took = timed(served, path, cookies)
                median = statistics.median(took)
                print(
                    f"{label:22} first {cold:6.1f} ms  median {median:6.1f} ms  "
                    f"worst {max(took):6.1f} ms  goal < {goal} ms  "
                    f"{'ok' if median < goal else 'SLOW'}"
                )
        finally:
            served.stop()
            app.close()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
