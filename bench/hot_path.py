"""The conversation's hot path alone: CPU per message through `ConversationRunner`, one thread.

Run: `.venv/bin/python bench/hot_path.py --owners 300 --database sqlite` (or `postgres`).

Each owner registers as in bench/telegram_webhook.py (eleven messages: /start, yes, name,
contact, shop, category, regency, skip, address, skip, save), message by message, through
`handle_turn` with the inbox's turn and the replies stored for the sender, as the webhook does,
but with no HTTP, no inbox tasks and no threads. Prints CPU milliseconds per message (this
process; on PostgreSQL the server's share is not in it) and statements per message: a steady
figure to compare changes to the runner with, where the webhook bench's updates/s moves with
whatever else the machine is doing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.app import build_app  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.inbox import Turn  # noqa: E402
from bot.storage.models import InboundUpdate  # noqa: E402
from flows.messages import Inbound  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
PG_NAME = "pelapak_hot_path"  # made anew at each run, dropped after
SYLLABLES = ("ka", "ri", "mu", "se", "to", "la", "ni", "pe", "go", "wu")


def owner_messages(n: int) -> list[dict[str, str | None]]:
    # a syllable per digit ("Toko Bench Rimukan"): letters without vowels read as typed at random
    name = ("".join(SYLLABLES[int(d)] for d in str(n)) + "n").title()  # "Riririn", not "Ririri"
    return [
        {"text": "/start"},
        {"choice": "yes"},
        {"text": f"Bu Sri {name}"},
        {"contact_phone": f"+62812{n:08d}", "sender_phone": f"+62812{n:08d}"},
        {"text": f"Toko Bench {name}"},
        {"text": "2"},
        {"text": "Sidoarjo"},
        {"text": "lewati"},
        {"text": f"Jl. Bench No. {n}"},
        {"choice": "__skip__"},
        {"choice": "save"},
    ]


def pg_admin(statement: str) -> None:
    admin = sa.create_engine(PG.format(name="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(statement)
    admin.dispose()


def fresh_database(kind: str, workdir: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{workdir / 'hot.db'}"
    pg_admin(f"DROP DATABASE IF EXISTS {PG_NAME}")
    pg_admin(f"CREATE DATABASE {PG_NAME}")
    return PG.format(name=PG_NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--owners", type=int, default=300)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        settings = Settings(
            database_url=fresh_database(args.database, workdir),
            media_dir=workdir / "media",
            telegram_bot_token="1:bench",
        )
        app = build_app(settings)
        statements = 0

        def count(*_: object) -> None:
            nonlocal statements
            statements += 1

        sa.event.listen(app.db.engine, "before_cursor_execute", count)
        messages = 0
        per_owner: list[float] = []  # CPU ms per message, owner by owner
        seq = 0
        for n in range(args.owners):
            chat = str(10_000 + n)
            cpu = 0.0
            for i, fields in enumerate(owner_messages(n)):
                seq += 1
                row = InboundUpdate(
                    channel="telegram", update_id=str(seq), seq=seq, chat_key=chat, payload={}
                )
                with app.db.session() as session:  # the inbox's insert, not measured
                    session.add(row)
                inbound = Inbound(
                    user_key=chat,
                    channel="telegram",
                    message_id=f"{chat}:{i}",
                    profile_name="Sri",
                    **fields,  # type: ignore[arg-type]
                )
                before_statements = statements
                started = time.process_time()
                app.runner.handle_turn(inbound, Turn("telegram", chat, (row.id or 0,)), chat)
                cpu += time.process_time() - started
                messages += 1
                if n == 0 and i == 0:
                    statements = before_statements  # the first message warms caches up
            per_owner.append(1000 * cpu / len(owner_messages(n)))
        with app.db.engine.connect() as conn:
            sellers = conn.exec_driver_sql("SELECT count(*) FROM seller").scalar()
        if sellers != args.owners:
            sys.exit(f"{sellers} sellers registered, {args.owners} expected")
        # The median owner: a machine that is busy for a moment moves the mean, not this.
        print(
            f"{args.database}: {messages} messages, {statistics.median(per_owner):.2f} ms "
            f"CPU/message (median owner; mean {statistics.fmean(per_owner):.2f}), "
            f"{statements / (messages - 1):.1f} statements/message; every owner registered"
        )
        app.close()
        if args.database == "postgres":
            pg_admin(f"DROP DATABASE {PG_NAME}")


if __name__ == "__main__":
    main()
