"""Health for load balancers and orchestrators, over a real socket.

/health/live: the process answers. /health/ready (and its alias /health): the database
answers, the schema is at the newest migration and the inbox backlog is under
READY_MAX_BACKLOG; otherwise 503 with the check that failed.
"""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import sqlalchemy as sa

from bot.app import App, build_app
from bot.config import Settings
from bot.storage.models import InboundUpdate
from bot.web import create_web_app
from tests.conftest import fresh_postgres_database
from tests.served import Served, free_port


def get(app: App, path: str) -> httpx.Response:
    served = Served(create_web_app(app), free_port())
    try:
        return served.http.get(f"{served.base}{path}")
    finally:
        served.stop()


def test_ready_while_the_database_answers_and_the_schema_is_current(app: App) -> None:
    for path in ("/health/ready", "/health"):
        answer = get(app, path)
        assert answer.status_code == 200
        body = answer.json()
        assert body["ok"] is True and body["failed"] == []
        assert body["checks"]["database"]["ok"] is True
        assert body["checks"]["migrations"]["ok"] is True
        assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]
        assert body["checks"]["backlog"] == {"ok": True, "count": 0, "limit": 1000}


def test_live_answers_even_when_the_database_is_down(tmp_path: Path) -> None:
    down = Settings(
        _env_file=None,
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
        media_dir=tmp_path / "media",
    )
    app = build_app(down, migrate=False)  # nothing listens on that port
    try:
        live = get(app, "/health/live")
        ready = get(app, "/health/ready")
        alias = get(app, "/health")
    finally:
        app.close()
    assert live.status_code == 200 and live.json() == {"ok": True}
    for answer in (ready, alias):
        assert answer.status_code == 503
        body = answer.json()
        assert body["ok"] is False
        assert body["failed"] == ["database"]
        assert body["checks"]["database"]["ok"] is False
        assert body["checks"]["migrations"]["ok"] is None  # not checked without a database


def test_not_ready_on_a_fresh_database_before_db_upgrade(tmp_path: Path) -> None:
    fresh = Settings(_env_file=None, database_url=f"sqlite:///{tmp_path / 'new.db'}")
    app = build_app(fresh, migrate=False)
    try:
        answer = get(app, "/health/ready")
    finally:
        app.close()
    assert answer.status_code == 503
    assert answer.json()["failed"] == ["migrations"]
    assert answer.json()["checks"]["migrations"]["current"] == []


def test_not_ready_while_migrations_are_behind(app: App) -> None:
    head = get(app, "/health/ready").json()["checks"]["migrations"]["head"]
    with app.db.engine.begin() as conn:  # as if the code was deployed before `db upgrade`
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0001'")
    try:
        behind = get(app, "/health/ready")
    finally:
        with app.db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE alembic_version SET version_num = :v"), {"v": head[0]})
    assert behind.status_code == 503
    assert behind.json()["failed"] == ["migrations"]
    assert behind.json()["checks"]["migrations"]["current"] == ["0001"]
    assert get(app, "/health/ready").status_code == 200


def test_not_ready_while_the_inbox_backlog_is_over_the_limit(settings: Settings) -> None:
    app = build_app(settings.model_copy(update={"ready_max_backlog": 3}))
    try:
        with app.db.session() as session:
            for n in range(3):
                session.add(
                    InboundUpdate(channel="telegram", update_id=str(n), seq=n, chat_key="1")
                )
        over = get(app, "/health/ready")
        with app.db.engine.begin() as conn:
            conn.execute(
                sa.update(InboundUpdate)
                .where(InboundUpdate.update_id == "0")
                .values(processed_at=sa.func.now())
            )
        under = get(app, "/health/ready")
    finally:
        app.close()
    assert over.status_code == 503
    assert over.json()["failed"] == ["backlog"]
    assert over.json()["checks"]["backlog"] == {"ok": False, "count": 3, "limit": 3}
    assert under.status_code == 200


def test_run_refuses_a_webhook_without_a_secret(tmp_path: Path) -> None:
    """With PUBLIC_BASE_URL and no TELEGRAM_WEBHOOK_SECRET every update would get 403:
    `pelapak run` says so and does not start."""
    import subprocess
    import sys

    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'p.db'}",
        "MEDIA_DIR": str(tmp_path / "media"),
        "TELEGRAM_BOT_TOKEN": "123:abc",
        "PUBLIC_BASE_URL": "https://pelapak.test",
        "TELEGRAM_WEBHOOK_SECRET": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert "TELEGRAM_WEBHOOK_SECRET" in done.stderr and "Traceback" not in done.stderr


def test_processes_starting_together_migrate_one_at_a_time() -> None:
    """Three processes upgrading a fresh PostgreSQL database at once: no error, one head."""
    from concurrent.futures import ThreadPoolExecutor

    from bot.storage.database import Database

    with fresh_postgres_database("pelapak_migrate") as url:
        databases = [Database(url) for _ in range(3)]
        with ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda db: db.migrate(), databases))
        with databases[0].engine.connect() as conn:
            heads = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        assert len(heads) == 1
        for db in databases:
            db.dispose()
