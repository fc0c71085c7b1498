"""200 simulated owners registering at once over the Telegram webhook, SQLite and PostgreSQL.

Run: `make bench-telegram` (or `.venv/bin/python bench/telegram_webhook.py [owners]`).
Each owner behaves like a person: sends a message, waits for the answer, sends the next.
Prints updates/s, p50/p99 handling time (webhook POST to the bot's reply reaching the fake
Bot API, including the inbox's settle time), and checks nothing was lost or doubled.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import sqlalchemy as sa
from sqlmodel import func, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.app import build_app
from bot.config import Settings
from bot.storage.models import InboundUpdate, ProcessedUpdate, Seller
from tests.fake_telegram import TOKEN, FakeTelegram, Updates
from tests.test_telegram import SECRET, Running, free_port

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def letters(n: int) -> str:
    """A name-like word for owner n (names with many digits are refused, as they should be)."""
    word = ""
    while True:
        n, rest = divmod(n, 26)
        word = "abcdefghijklmnopqrstuvwxyz"[rest] + word
        if n == 0:
            return "Sri " + word.title()


def script(owner: Updates, n: int) -> list[dict]:  # type: ignore[type-arg]
    return [
        owner.text("/start"),
        owner.callback("yes"),
        owner.text(f"Bu {letters(n)}"),
        owner.contact(f"+62812{n:08d}"),
        owner.text(f"Toko Bench {n}"),
        owner.text("2"),
        owner.text("Sidoarjo"),
        owner.text("lewati"),
        owner.text(f"Jl. Bench No. {n}"),
        owner.callback("__skip__"),
        owner.callback("save"),
    ]


async def owner_session(
    client: httpx.AsyncClient, url: str, fake: FakeTelegram, n: int, latencies: list[float]
) -> int:
    owner = Updates(100_000 + n, first_name=f"O{n}")
    chat = 100_000 + n
    posted = 0
    for update in script(owner, n):
        before = fake.per_chat.get(chat, 0)
        start = time.perf_counter()
        for attempt in range(3):  # like Telegram: redeliver when the connection broke
            try:
                response = await client.post(
                    url, json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
                )
                break
            except httpx.TransportError:
                if attempt == 2:
                    raise
        assert response.status_code == 200
        posted += 1
        while fake.per_chat.get(chat, 0) <= before:
            await asyncio.sleep(0.02)
        latencies.append(time.perf_counter() - start)
        await asyncio.sleep(0.3)  # the rest of a multi-message answer, and a human's pause
    return posted


async def drive(url: str, fake: FakeTelegram, owners: int) -> tuple[int, list[float], float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=100)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        start = time.perf_counter()
        posted = await asyncio.gather(
            *(owner_session(client, url, fake, n, latencies) for n in range(owners))
        )
        return sum(posted), latencies, time.perf_counter() - start


def run(label: str, database_url: str, owners: int, rate: float = 30) -> None:
    fake = FakeTelegram()
    media = Path(tempfile.mkdtemp())
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        media_dir=media,
        telegram_bot_token=TOKEN,
        telegram_api_base_url=fake.base_url,
        telegram_api_file_url=fake.file_url,
        telegram_webhook_secret=SECRET,
        public_base_url="https://bench.test",
        port=free_port(),
        telegram_max_messages_per_second=rate,
    )
    app = build_app(settings)
    logging_quiet()
    server = Running(app)
    try:
        posted, latencies, elapsed = asyncio.run(drive(server.url, fake, owners))
    finally:
        server.stop()
    with app.db.session() as s:
        sellers = s.exec(select(func.count()).select_from(Seller)).one()
        shops = s.exec(select(func.count(sa.distinct(Seller.shop_name)))).one()
        processed = s.exec(select(func.count()).select_from(ProcessedUpdate)).one()
        waiting = s.exec(
            select(func.count())
            .select_from(InboundUpdate)
            .where(InboundUpdate.processed_at.is_(None))
        ).one()  # type: ignore[union-attr]
    app.close()
    fake.close()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"{label}, sending capped at {rate:.0f} messages/s: {owners} owners, "
        f"{posted} updates in {elapsed:.1f} s "
        f"({posted / elapsed:.0f} updates/s, owners pause 0.3 s between messages)"
    )
    print(
        f"  handling time p50 {statistics.median(latencies) * 1000:.0f} ms, "
        f"p99 {q[98] * 1000:.0f} ms (includes the inbox's 0.2 s settle)"
    )
    ok = sellers == shops == owners and processed == posted and waiting == 0
    print(
        f"  sellers {sellers}, distinct shops {shops}, processed updates {processed}/{posted}, "
        f"unprocessed {waiting} -> {'nothing lost or doubled' if ok else 'MISMATCH'}"
    )


def logging_quiet() -> None:
    import logging

    logging.getLogger().setLevel(logging.WARNING)


def main() -> None:
    owners = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    # Telegram's own limit (what owners will see), then uncapped (what Pelapak can do).
    run("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.db", owners)
    run("SQLite", f"sqlite:///{tempfile.mkdtemp()}/bench.db", owners, rate=10_000)
    for rate in (30, 10_000):
        with fresh_postgres() as url:
            run("PostgreSQL", url, owners, rate=rate)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    name = f"pelapak_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + "/" + name
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
