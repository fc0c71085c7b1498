"""/health says whether this process can serve: 200 while the database answers, else 503."""

from __future__ import annotations

from pathlib import Path

from bot.app import App, build_app
from bot.config import Settings
from bot.web import create_web_app
from tests.served import Served, free_port


def test_health_is_ok_while_the_database_answers(app: App) -> None:
    served = Served(create_web_app(app), free_port())
    try:
        answer = served.http.get(f"{served.base}/health")
    finally:
        served.stop()
    assert answer.status_code == 200
    assert answer.json() == {"ok": True, "database": True}


def test_health_is_503_when_the_database_is_down(tmp_path: Path) -> None:
    down = Settings(
        _env_file=None,
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone",
        media_dir=tmp_path / "media",
    )
    app = build_app(down, migrate=False)  # nothing listens on that port
    served = Served(create_web_app(app), free_port())
    try:
        answer = served.http.get(f"{served.base}/health")
    finally:
        served.stop()
        app.close()
    assert answer.status_code == 503
    assert answer.json() == {"ok": False, "database": False}
