"""`pelapak doctor`: is this configuration ready to run? Each check says what is missing.

Harmless calls only: reads from the database, a file written and removed in MEDIA_DIR,
Telegram's getMe, a fetch of the Twilio account, GET PUBLIC_BASE_URL/health/live.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from bot.config import Settings, reveal
from bot.notices import NOTICE_MESSAGES
from bot.storage.database import Database, current_revisions, head_revisions

# Messages the business starts, which WhatsApp only carries outside the 24-hour window as an
# approved template (WHATSAPP_TEMPLATES): every notice (bot/notices.py refuses one that is
# not listed there) and broadcasts (bot/broadcasts.py).
BUSINESS_MESSAGES = (*NOTICE_MESSAGES, "broadcast.text")
TIMEOUT = 10.0


@dataclass
class Finding:
    area: str
    ok: bool
    detail: str


def diagnose(settings: Settings) -> list[Finding]:
    found = _database(settings)
    found.append(_media(settings.media_dir))
    if not settings.has_platform:
        found.append(
            Finding(
                "platforms",
                False,
                "neither TELEGRAM_BOT_TOKEN nor TWILIO_ACCOUNT_SID is set: "
                "`pelapak run` only opens the console chat",
            )
        )
    if settings.telegram_bot_token:
        found.extend(_telegram(settings))
    if settings.twilio_account_sid or settings.twilio_auth_token:
        found.extend(_twilio(settings))
        found.append(_templates(settings))
    if settings.public_base_url:
        found.append(_public_url(settings.public_base_url))
    return found


def _database(settings: Settings) -> list[Finding]:
    db = Database(settings.database_url)
    path = sa.make_url(db.url).database
    if db.is_sqlite and path and path != ":memory:" and not Path(path).exists():
        db.dispose()  # connecting would create an empty file
        return [
            Finding("database", False, f"{path} does not exist: run `pelapak db upgrade`"),
            Finding("migrations", False, "not checked without a database"),
        ]
    try:
        with db.engine.execution_options(read_only=True).connect() as conn:
            conn.exec_driver_sql("SELECT 1")
            current, head = current_revisions(conn), head_revisions()
    except sa.exc.SQLAlchemyError as exc:
        return [
            Finding("database", False, f"{_safe_url(db)} does not answer ({type(exc).__name__})"),
            Finding("migrations", False, "not checked without a database"),
        ]
    finally:
        db.dispose()
    at = ", ".join(current) or "no migration"
    migrations = (
        Finding("migrations", True, f"at {at}, the newest")
        if current == head
        else Finding(
            "migrations", False, f"at {at}, newest is {', '.join(head)}: run `pelapak db upgrade`"
        )
    )
    return [Finding("database", True, f"{_safe_url(db)} answers"), migrations]


def _safe_url(db: Database) -> str:
    return sa.make_url(db.url).render_as_string(hide_password=True)


def _media(folder: Path) -> Finding:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".doctor-"):
            pass
    except OSError as exc:
        return Finding("media", False, f"MEDIA_DIR {folder} is not writable ({exc.strerror})")
    return Finding("media", True, f"MEDIA_DIR {folder.resolve()} is writable")


def _telegram(settings: Settings) -> list[Finding]:
    import httpx

    found = []
    token = reveal(settings.telegram_bot_token)
    try:
        answer = httpx.post(f"{settings.telegram_api_base_url}{token}/getMe", timeout=TIMEOUT)
        body = answer.json() if answer.status_code in (200, 401, 404) else {}
    except (httpx.HTTPError, ValueError) as exc:
        found.append(Finding("telegram", False, f"Bot API not reachable ({type(exc).__name__})"))
    else:
        if body.get("ok"):
            found.append(Finding("telegram", True, f"token works: @{body['result']['username']}"))
        else:
            why = body.get("description") or f"HTTP {answer.status_code}"
            found.append(Finding("telegram", False, f"TELEGRAM_BOT_TOKEN refused: {why}"))
    if settings.public_base_url and not reveal(settings.telegram_webhook_secret):
        found.append(
            Finding(
                "telegram webhook",
                False,
                "PUBLIC_BASE_URL is set but TELEGRAM_WEBHOOK_SECRET is not: "
                "every webhook call would be refused",
            )
        )
    elif not settings.public_base_url:
        found.append(Finding("telegram webhook", True, "no PUBLIC_BASE_URL: long polling"))
    else:
        found.append(Finding("telegram webhook", True, "secret set"))
    return found


def _twilio(settings: Settings) -> list[Finding]:
    missing = [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", reveal(settings.twilio_auth_token)),
            ("TWILIO_WHATSAPP_FROM", settings.twilio_whatsapp_from),
            ("PUBLIC_BASE_URL", settings.public_base_url),
        )
        if not value
    ]
    found = []
    if missing:
        found.append(Finding("whatsapp settings", False, f"missing: {', '.join(missing)}"))
    elif not (settings.twilio_whatsapp_from or "").startswith("whatsapp:"):
        found.append(
            Finding("whatsapp settings", False, "TWILIO_WHATSAPP_FROM must look like whatsapp:+62…")
        )
    else:
        found.append(Finding("whatsapp settings", True, "all set"))
    sid, token = settings.twilio_account_sid or "", reveal(settings.twilio_auth_token)
    if not (sid and token):
        return found
    from twilio.base.exceptions import TwilioException
    from twilio.rest import Client

    client = Client(sid, token)
    if settings.twilio_api_base_url:
        client.api.base_url = settings.twilio_api_base_url.rstrip("/")
    try:
        account = client.api.v2010.accounts(sid).fetch()
    except TwilioException as exc:
        status = getattr(exc, "status", None)
        found.append(Finding("twilio", False, f"account fetch refused (HTTP {status})"))
    except (OSError, ValueError) as exc:
        found.append(Finding("twilio", False, f"API not reachable ({type(exc).__name__})"))
    else:
        ok = account.status == "active"
        found.append(
            Finding("twilio", ok, f"account {account.friendly_name!r} is {account.status}")
        )
    return found


def _templates(settings: Settings) -> Finding:
    """Every business-initiated message has a template whose variables the message has."""
    from bot.i18n import _PLACEHOLDER, translations

    catalog = translations(settings.default_locale)
    problems = []
    for msgid in BUSINESS_MESSAGES:
        template = settings.whatsapp_templates.get(msgid)
        if not template or not template.get("content_sid"):
            problems.append(f"{msgid}: no template")
            continue
        params = set(_PLACEHOLDER.findall(catalog.gettext(msgid)))
        unknown = [v for v in template.get("variables", []) if v not in params]
        if unknown:
            problems.append(f"{msgid}: no parameter {', '.join(unknown)} (has {sorted(params)})")
    if problems:
        return Finding(
            "whatsapp templates",
            False,
            "outside the 24-hour window these are not sent: " + "; ".join(problems),
        )
    return Finding("whatsapp templates", True, f"all {len(BUSINESS_MESSAGES)} configured")


def _public_url(base: str) -> Finding:
    import httpx

    url = f"{base.rstrip('/')}/health/live"
    try:
        answer = httpx.get(url, timeout=TIMEOUT, follow_redirects=True)
    except httpx.HTTPError as exc:
        return Finding("public url", False, f"{url} not reachable ({type(exc).__name__})")
    if answer.status_code != 200:
        return Finding("public url", False, f"{url} answered HTTP {answer.status_code}")
    return Finding("public url", True, f"{url} answers")
