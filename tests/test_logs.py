"""LOG_FORMAT=json: every line a real `pelapak run` writes to stderr is one JSON object, lines
logged while an update is processed carry its channel and update_id, and none carries the
owner's name, number or words. The default stays human text."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.tls import tls_context
from tests.fake_telegram import TOKEN, FakeTelegram, Updates
from tests.served import free_port

ROOT = Path(__file__).resolve().parent.parent
SECRET = "log-secret"


def _wait_up(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert process.poll() is None, "pelapak run exited"
        try:
            if (
                httpx.get(f"http://127.0.0.1:{port}/health/live", verify=tls_context()).status_code
                == 200
            ):
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("pelapak run did not come up")


@pytest.mark.slow
@pytest.mark.any_backend
def test_json_lines_with_the_update_and_no_personal_data(
    settings: Settings, fake: FakeTelegram
) -> None:
    port = free_port()
    env = {
        **os.environ,
        "LOG_FORMAT": "json",
        "DATABASE_URL": settings.database_url,
        "MEDIA_DIR": str(settings.media_dir),
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": fake.base_url,
        "TELEGRAM_API_FILE_URL": fake.file_url,
        "TELEGRAM_WEBHOOK_SECRET": SECRET,
        "PUBLIC_BASE_URL": "https://pelapak.test",
        "PORT": str(port),
        "INBOX_SETTLE_SECONDS": "0.05",
        "INBOX_GAP_HOLD_SECONDS": "0.2",
    }
    owner = Updates(4242, first_name="Wulandari")
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_up(port, process)
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        url = f"http://127.0.0.1:{port}/telegram/webhook"
        assert httpx.post(url, json=owner.text("halo Wulandari 081234567890"), headers=headers)
        fake.wait_for(lambda: len(fake.sent(4242)) >= 1)
        # A photo Telegram cannot hand over: the channel logs a warning while processing it.
        photo = owner.photo("gone", 1000)
        assert httpx.post(url, json=photo, headers=headers).status_code == 200
        fake.wait_for(lambda: len(fake.sent(4242)) >= 2)
        assert httpx.get(f"http://127.0.0.1:{port}/metrics").status_code == 200
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    text = stderr.decode()
    lines = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    assert len(lines) >= 3
    for line in lines:
        assert {"time", "level", "logger", "message"} <= set(line)
    about_the_photo = [line for line in lines if line.get("update_id") == str(photo["update_id"])]
    assert about_the_photo, "no line carries the update being processed"
    assert all(line["channel"] == "telegram" for line in about_the_photo)
    assert any(line["level"] == "WARNING" and "traceback" in line for line in about_the_photo)
    access = [line["message"] for line in lines if line["logger"] == "uvicorn.access"]
    assert "POST /telegram/webhook 200" in access  # without the client's address
    assert not any("127.0.0.1" in message for message in access)
    for personal in ("Wulandari", "081234567890", "halo"):
        assert personal not in text
    assert TOKEN not in text


def test_text_by_default(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LOG_FORMAT"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'p.db'}"
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "db", "upgrade"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    lines = done.stderr.decode().splitlines()
    assert any("Running upgrade" in line for line in lines)
    assert not any(line.startswith("{") for line in lines)


def test_access_lines_name_the_path_without_the_query_or_the_client() -> None:
    import logging

    from bot.logs import AccessWithoutQuery, JsonFormatter

    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("10.1.2.3:5555", "GET", "/admin/shops?q=Wati%20Batik", "1.1", 200),
        None,
    )
    assert AccessWithoutQuery().filter(record)
    text = record.getMessage()
    assert "Wati" not in text and "10.1.2.3" not in text and "/admin/shops" in text
    assert "Wati" not in JsonFormatter().format(record)
