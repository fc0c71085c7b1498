"""Logs never hold an owner's data or a secret, even at DEBUG and when a statement fails."""

from __future__ import annotations

import io
import json
import logging
import traceback
from collections.abc import Iterator

import pytest
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError

from bot.app import App, build_app
from bot.channels.console import ConsoleChannel
from bot.config import Settings
from bot.storage.models import Seller
from tests.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, FakeTwilio
from tests.served import wait_answered
from tests.test_whatsapp import Running, message, say, whatsapp_settings

PHONE = "+6281399887766"
OWNER = ("Sulastri", "Wijayakusuma", "81399887766", "Kenanga Ungu", "Gethuk Lindri")


class Everything(logging.Handler):
    """Every record of every logger, formatted with its traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def holding(self, values: tuple[str, ...]) -> list[str]:
        return [line for line in self.lines for v in values if v.lower() in line.lower()]


@pytest.fixture
def logs() -> Iterator[Everything]:
    """Everything at DEBUG, SQLAlchemy's statements too (it keeps itself at WARNING)."""
    root, engine = logging.getLogger(), logging.getLogger("sqlalchemy.engine")
    handler, levels = Everything(), (root.level, engine.level)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    engine.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(levels[0])
    engine.setLevel(levels[1])


def _lines(*texts: str) -> bytes:
    return "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()


def test_a_failing_statement_is_logged_without_the_owners_data(
    settings: Settings, logs: Everything
) -> None:
    app = build_app(settings)
    try:
        console = ConsoleChannel(app.runner, app.media, PHONE)
        out = io.StringIO()
        registration = (
            "/start",
            "iya",
            "Sulastri Wijayakusuma",
            "ya",
            "Gethuk Lindri Mbok Sulastri",
            "kue",
            "1",
            "sidoarjo",
            "waru",
            "Jl. Kenanga Ungu No. 47",
            "lewati",
        )
        console.run_jsonl(io.BytesIO(_lines(*registration)), out)
        _rename(app, "seller", "seller_away")  # storing the shop fails
        try:
            console.run_jsonl(io.BytesIO(_lines("simpan")), out)
        finally:
            _rename(app, "seller_away", "seller")
        console.run_jsonl(io.BytesIO(_lines("simpan")), out)  # the draft was kept
        *_, failed, saved = (json.loads(line) for line in out.getvalue().splitlines())
    finally:
        app.close()
    assert "Maaf" in failed["replies"][0]["text"]
    assert any("sudah terdaftar" in r["text"] for r in saved["replies"])
    assert any("failed to handle message" in line for line in logs.lines)
    assert any("INSERT INTO seller" in line for line in logs.lines)  # statements are logged
    assert logs.holding(OWNER) == []


def _rename(app: App, table: str, to: str) -> None:
    with app.db.engine.begin() as conn:
        conn.exec_driver_sql(f'ALTER TABLE "{table}" RENAME TO "{to}"')


def test_twilio_client_logs_no_account_sid_nor_number(
    settings: Settings, twilio: FakeTwilio, logs: Everything
) -> None:
    app = build_app(whatsapp_settings(settings, twilio))
    running = Running(app)
    try:
        say(running, twilio, message("halo", phone=PHONE, ProfileName="Sulastri"), PHONE)
        wait_answered(app.db)
    finally:
        running.stop()
        app.close()
    assert logs.lines  # something was logged
    assert logs.holding((ACCOUNT_SID, AUTH_TOKEN, *OWNER)) == []


def traceback_with_locals(settings: Settings) -> str:
    """A traceback through a function that had the settings, its locals shown."""

    def fails(settings: Settings) -> None:
        raise RuntimeError("startup failed")

    try:
        fails(settings)
    except RuntimeError as exc:
        caught = traceback.TracebackException.from_exception(exc, capture_locals=True)
        return "".join(caught.format())
    raise AssertionError("it did not fail")


def test_settings_show_no_secret_in_repr_or_traceback() -> None:
    secrets = {
        "telegram_bot_token": "123456:telegram-token-value",
        "telegram_webhook_secret": "webhook-secret-value",
        "twilio_auth_token": "twilio-auth-token-value",
        "marketplace_api_key": "marketplace-key-value",
    }
    database_url = "postgresql://pelapak:db-password-value@db.internal/pelapak"
    settings = Settings(_env_file=None, database_url=database_url, **secrets)  # type: ignore[arg-type]
    for name, value in secrets.items():
        held = getattr(settings, name)
        assert isinstance(held, SecretStr) and held.get_secret_value() == value

    shown = traceback_with_locals(settings)
    assert "Settings(" in shown  # the settings are in the traceback's locals
    for text in (repr(settings), str(settings), shown):
        for value in (*secrets.values(), "db-password-value"):
            assert value not in text
    assert not any(value in settings.model_dump_json() for value in secrets.values())


def test_a_constraint_violation_names_no_value(settings: Settings) -> None:
    app = build_app(settings)
    try:
        with pytest.raises(IntegrityError) as raised, app.db.session() as s:
            for _ in range(2):
                s.add(Seller(owner_name="Sulastri Wijayakusuma", shop_name_key="gethuk lindri"))
                s.flush()
    finally:
        app.close()
    shown = "".join(traceback.format_exception(raised.value))
    assert "unique" in shown.lower() and "seller" in shown.lower()
    assert "gethuk" not in shown.lower() and "sulastri" not in shown.lower()
