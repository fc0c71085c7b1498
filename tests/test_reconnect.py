"""Pooled connections the server closed are replaced at checkout, without a ping per checkout."""

from __future__ import annotations

import time

import sqlalchemy as sa

from bot.storage.database import Database


def _terminate_others(url: str) -> int:
    """What a PostgreSQL restart or failover does to the pool's idle connections."""
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    others = "FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    try:
        with admin.connect() as conn:
            ended = len(conn.exec_driver_sql(f"SELECT pg_terminate_backend(pid) {others}").all())
            for _ in range(100):  # terminating is asynchronous: until they have closed
                if not conn.exec_driver_sql(f"SELECT count(*) {others}").scalar():
                    break
                time.sleep(0.05)
            return ended
    finally:
        admin.dispose()


def test_sessions_work_after_the_server_closed_every_pooled_connection(postgres_url: str) -> None:
    db = Database(postgres_url)
    statements: list[str] = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    try:
        with db.session() as a, db.read_session() as b:  # two connections in the pool
            a.execute(sa.text("SELECT 1"))
            b.execute(sa.text("SELECT 1"))
        assert _terminate_others(postgres_url) >= 2
        for _ in range(3):
            with db.session() as session:
                assert session.execute(sa.text("SELECT 42")).scalar() == 42
        assert statements.count("SELECT 1") == 2  # no ping per checkout
    finally:
        db.dispose()


def test_no_ping_round_trip_per_checkout(postgres_url: str) -> None:
    db = Database(postgres_url)
    assert db.engine.pool._pre_ping is False  # type: ignore[attr-defined]
    db.dispose()
