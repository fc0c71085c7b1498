"""`pelapak doctor` against the fake Telegram and Twilio servers and our own web app."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from bot.app import App
from bot.doctor import BUSINESS_MESSAGES
from bot.i18n import translations
from bot.web import create_web_app
from tests.fake_telegram import TOKEN, FakeTelegram
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.served import Served, free_port

TEMPLATES = (
    "{"
    + ", ".join(
        f'"{m}": {{"content_sid": "HX{n:032d}", "variables": []}}'
        for n, m in enumerate(BUSINESS_MESSAGES)
    )
    + "}"
)


def doctor(cwd: Path, **env: str) -> tuple[int, dict[str, str], dict[str, str], str]:
    """Run `pelapak doctor`: the exit code, each check's ok/MISSING and detail, the output."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("TELEGRAM_", "TWILIO_"))}
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "doctor"],
        env={**clean, "COLUMNS": "200", **env},
        cwd=cwd,
        capture_output=True,
        timeout=60,
    )
    out = done.stdout.decode()
    rows: dict[str, list[str]] = {}
    area = ""
    for line in out.splitlines():
        cells = [c.strip() for c in line.split("│")]
        if len(cells) < 4:
            continue
        if cells[2] in ("ok", "MISSING"):
            area = cells[1]
            rows[area] = [cells[2], cells[3]]
        elif area and not cells[1]:  # a detail wrapped onto the next line
            rows[area][1] += " " + cells[3]
    return (
        done.returncode,
        {a: r[0] for a, r in rows.items()},
        {a: r[1] for a, r in rows.items()},
        out,
    )


def platform_env(fake: FakeTelegram, twilio: FakeTwilio, public: str) -> dict[str, str]:
    return {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_WEBHOOK_SECRET": "s3cret",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_WHATSAPP_FROM": "whatsapp:+14155238886",
        "TWILIO_API_BASE_URL": twilio.url,
        "PUBLIC_BASE_URL": public,
        "WHATSAPP_TEMPLATES": TEMPLATES,
    }


def test_all_good(app: App, fake: FakeTelegram, twilio: FakeTwilio, tmp_path: Path) -> None:
    served = Served(create_web_app(app), free_port())  # stands in for the public address
    try:
        code, marks, _, out = doctor(
            tmp_path,
            DATABASE_URL=app.settings.database_url,
            MEDIA_DIR=str(app.settings.media_dir),
            **platform_env(fake, twilio, served.base),
        )
    finally:
        served.stop()
    assert code == 0, out
    assert marks == {
        "database": "ok",
        "migrations": "ok",
        "media": "ok",
        "telegram": "ok",
        "telegram webhook": "ok",
        "whatsapp settings": "ok",
        "twilio": "ok",
        "whatsapp templates": "ok",
        "public url": "ok",
    }
    assert "@PelapakBot" in out and "all good" in out
    assert TOKEN not in out and AUTH_TOKEN not in out
    assert "getMe" in fake.methods()


def test_what_is_missing(fake: FakeTelegram, twilio: FakeTwilio, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("not a folder")
    sqlite3.connect(tmp_path / "fresh.db").close()  # a database nobody upgraded
    env = platform_env(fake, twilio, f"http://127.0.0.1:{free_port()}")  # nothing listens
    templates = '{"sync.product_live": {"content_sid": "HX1", "variables": ["name", "price"]}}'
    code, marks, details, out = doctor(
        tmp_path,
        **{
            **env,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'fresh.db'}",  # never upgraded
            "MEDIA_DIR": str(tmp_path / "a-file" / "media"),
            "TELEGRAM_BOT_TOKEN": "999:wrong",
            "TWILIO_AUTH_TOKEN": "wrong-token",
            "WHATSAPP_TEMPLATES": templates,
        },
    )
    assert code == 1, out
    assert marks["database"] == "ok"
    for area in ("migrations", "media", "telegram", "twilio", "whatsapp templates", "public url"):
        assert marks[area] == "MISSING", (area, out)
    assert "run `pelapak db upgrade`" in details["migrations"]
    assert "Not a directory" in details["media"]
    assert "TELEGRAM_BOT_TOKEN refused: Unauthorized" in details["telegram"]
    assert details["twilio"] == "account fetch refused (HTTP 401)"
    assert "sync.product_live: no parameter price" in details["whatsapp templates"]
    for msgid in BUSINESS_MESSAGES[1:]:
        assert f"{msgid}: no template" in details["whatsapp templates"]
    assert "not reachable" in details["public url"]
    assert "wrong-token" not in out and "999:wrong" not in out


def test_no_database_and_no_platform(tmp_path: Path) -> None:
    code, marks, _, out = doctor(
        tmp_path,
        DATABASE_URL=f"postgresql://postgres@127.0.0.1:{free_port()}/gone",
        MEDIA_DIR=str(tmp_path / "media"),
    )
    assert code == 1, out
    assert marks == {
        "database": "MISSING",
        "migrations": "MISSING",
        "media": "ok",
        "platforms": "MISSING",
    }


def test_a_sqlite_file_that_is_not_there_is_reported_and_not_created(tmp_path: Path) -> None:
    code, marks, details, _ = doctor(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'no.db'}")
    assert code == 1 and marks["database"] == "MISSING"
    assert "does not exist" in details["database"]
    assert not (tmp_path / "no.db").exists()


def test_the_listed_business_messages_are_in_both_catalogs() -> None:
    for locale in ("id", "en"):
        for msgid in BUSINESS_MESSAGES:
            assert translations(locale).gettext(msgid) != msgid
