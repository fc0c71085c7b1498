"""The inbox's reads on a table that has grown: milliseconds per read with N processed updates.

Run: `.venv/bin/python bench/inbox_reads.py --stored 1000000 --database sqlite` (or
`postgres`). Processed updates stay in `inbound_update` (scrubbed) so that a redelivery is
dropped, so the reads the inbox makes while updates arrive must not grow with them:
what was stored between two update numbers (while an update waits for earlier ones), the
chats with waiting updates (every process, every few seconds), a chat's waiting updates and
its first one (every update).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.hot_path import PG, pg_admin  # noqa: E402
from bot.inbox import Inbox, Turn  # noqa: E402
from bot.storage.database import Database  # noqa: E402

PG_NAME = "pelapak_inbox_reads"  # made anew at each run, dropped after


def fill(db: Database, n: int) -> None:
    """`n` processed, scrubbed updates, as months of traffic leave them."""
    with db.engine.begin() as conn:
        if db.is_sqlite:
            conn.exec_driver_sql(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
                "INSERT INTO inbound_update (channel, update_id, seq, chat_key, payload,"
                " received_at, processed_at, attempts) SELECT 'telegram', i, i, '-', '{}',"
                " '2026-01-01 00:00:00', '2026-01-01 00:00:01', 1 FROM n",
                (n,),
            )
        else:
            conn.exec_driver_sql(
                "INSERT INTO inbound_update (channel, update_id, seq, chat_key, payload,"
                " received_at, processed_at, attempts) SELECT 'telegram', i::text, i, '-', '{}',"
                " '2026-01-01', '2026-01-01', 1 FROM generate_series(1, %(n)s) i",
                {"n": n},
            )
            conn.exec_driver_sql("ANALYZE inbound_update")


def timed(what: str, read: Callable[[], object], repeat: int = 200) -> None:
    read()  # the first use builds the statement
    started = time.perf_counter()
    for _ in range(repeat):
        read()
    print(f"  {what:<38} {(time.perf_counter() - started) / repeat * 1000:8.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--stored", type=int, default=1_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.database == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'inbox.db'}"
        else:
            pg_admin(f"DROP DATABASE IF EXISTS {PG_NAME}")
            pg_admin(f"CREATE DATABASE {PG_NAME}")
            url = PG.format(name=PG_NAME)
        db = Database(url)
        db.migrate()
        fill(db, args.stored)
        inbox = Inbox(db, "telegram", handler=None)  # type: ignore[arg-type]
        top = args.stored

        def first_waiting() -> None:
            with db.session() as session:
                Turn("telegram", "42", (1,)).claim(session)

        print(f"{args.database}: {args.stored:,} processed updates stored")
        timed("stored between two numbers", lambda: inbox._stored_between(top - 5, top + 10))
        timed("chats with waiting updates", lambda: inbox._pending_chats(timedelta(seconds=5)))
        timed("a chat's waiting updates", lambda: inbox._pending("42"))
        timed("a chat's first waiting update (claim)", first_waiting)
        db.dispose()
        if args.database == "postgres":
            pg_admin(f"DROP DATABASE {PG_NAME}")


if __name__ == "__main__":
    main()
