"""Settings from the environment or `.env` (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


def reveal(secret: SecretStr | None) -> str:
    """A secret setting's value, or "" when it is not set."""
    return secret.get_secret_value() if secret is not None else ""


def refusals(settings: Settings) -> list[str]:
    """Settings that would make the bot look healthy while it turns every message away."""
    found = []
    if (
        settings.telegram_bot_token
        and settings.public_base_url
        and not reveal(settings.telegram_webhook_secret)
    ):
        found.append(
            "TELEGRAM_WEBHOOK_SECRET is empty while PUBLIC_BASE_URL is set: every Telegram"
            " update would be refused (403). Set a long random secret, e.g."
            " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
        )
    if settings.twilio_account_sid and not settings.public_base_url:
        found.append(
            "TWILIO_ACCOUNT_SID is set without PUBLIC_BASE_URL: Twilio's signatures cover the"
            " public URL, so every WhatsApp message would be refused (403)."
        )
    return found


class Settings(BaseSettings):
    """Secrets are `SecretStr`: a repr, a log line or a traceback shows `**********`."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = Field(default="sqlite:///pelapak.db", repr=False)  # may hold a password
    media_dir: Path = Path("media")
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str | None = None
    # Signs the dashboard's session cookies; unset, a random key kept in the database is used.
    dashboard_secret: SecretStr | None = None

    telegram_bot_token: SecretStr | None = None
    telegram_webhook_secret: SecretStr | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot"

    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base_url: str | None = None
    # Origins media may be downloaded from (scheme, host and port must all match; a bare
    # host name means https on 443). The API's origin (TWILIO_API_BASE_URL) is always allowed.
    twilio_media_hosts: list[str] = Field(
        default_factory=lambda: [
            "https://api.twilio.com",
            "https://media.twiliocdn.com",
            "https://mms.twiliocdn.com",
        ]
    )
    # Approved templates for messages sent outside the 24-hour window, per message id:
    # {"sync.product_live": {"content_sid": "HX...", "variables": ["name", "url"]}}
    whatsapp_templates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Content API quick-reply templates for questions with up to 3 choices, per message id;
    # the template's body is {{1}} (our question, in the owner's language) and its buttons'
    # ids are the choice ids: {"reg.consent": {"content_sid": "HX..."}}
    whatsapp_quick_replies: dict[str, dict[str, Any]] = Field(default_factory=dict)

    marketplace_api_url: str | None = None
    marketplace_api_key: SecretStr | None = None
    # Signs the marketplace's event batches (POST /marketplace/webhook); during a rotation the
    # previous one is still accepted.
    marketplace_webhook_secret: SecretStr | None = None
    marketplace_webhook_secret_previous: SecretStr | None = None
    sync_concurrency: int = 8  # pushes in flight at once (one per seller at a time)
    sync_timeout_seconds: float = 20.0

    admin_telegram_ids: list[int] = Field(default_factory=list)
    admin_whatsapp_numbers: list[str] = Field(default_factory=list)
    telegram_bot_username: str | None = None  # for facilitator invite links (t.me/<name>)
    consent_code_hours: float = 72.0  # how long the owner's one-time code works
    default_locale: str = "id"
    timezone: str = "Asia/Jakarta"
    resume_after_hours: float = 6.0
    max_upload_bytes: int = 20 * 1024 * 1024
    photo_concurrency: int = Field(default=2, ge=1)  # photos decoded at once (memory)
    telegram_max_messages_per_second: float = 30  # Telegram's overall limit for a bot
    broadcast_telegram_rate: float = 25.0  # leaves room under 30/s for replies
    broadcast_whatsapp_rate: float = 10.0  # per the account's throughput tier
    run_scheduler: bool = True  # may be elected to run the scheduler (one process does)
    inbox_settle_seconds: float = 0.2  # wait for concurrently delivered updates of one chat
    album_seconds: float = 1.0  # how long the photos of one album may straggle
    inbox_gap_hold_seconds: float = 3.0  # Telegram: how long an update waits for lower ids
    outgoing_claim_seconds: float = 20.0  # a sender's hold on a chat's replies
    inbound_retention_hours: float = 24.0  # raw updates keep their payload this long once handled
    strict_messages: bool = False  # tests: a message missing a parameter is an error
    ready_max_backlog: int = 1000  # /health/ready says 503 from this many unprocessed updates
    log_format: str = "text"  # text | json (one JSON object per line)
    # During a rotation, the old secret / token is still accepted on incoming webhooks.
    telegram_webhook_secret_previous: SecretStr | None = None
    twilio_auth_token_previous: SecretStr | None = None

    @property
    def has_platform(self) -> bool:
        return bool(self.telegram_bot_token or self.twilio_account_sid)
