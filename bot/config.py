"""Settings from the environment or `.env` (see `.env.example`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    database_url: str = "sqlite:///pelapak.db"
    media_dir: Path = Path("media")
    host: str = "127.0.0.1"
    port: int = 8080
    public_base_url: str | None = None

    telegram_bot_token: str | None = None
    telegram_webhook_secret: str | None = None
    telegram_api_base_url: str = "https://api.telegram.org/bot"
    telegram_api_file_url: str = "https://api.telegram.org/file/bot"

    twilio_account_sid: str | None = None
    twilio_auth_token: str | None = None
    twilio_whatsapp_from: str | None = None
    twilio_api_base_url: str | None = None
    # Hosts Twilio may redirect media downloads to (the API host is always allowed).
    twilio_media_hosts: list[str] = Field(
        default_factory=lambda: ["api.twilio.com", "media.twiliocdn.com", "mms.twiliocdn.com"]
    )
    # Approved templates for messages sent outside the 24-hour window, per message id:
    # {"sync.product_live": {"content_sid": "HX...", "variables": ["name", "url"]}}
    whatsapp_templates: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Content API quick-reply templates for questions with up to 3 choices, per message id;
    # the template's body is {{1}} (our question, in the owner's language) and its buttons'
    # ids are the choice ids: {"reg.consent": {"content_sid": "HX..."}}
    whatsapp_quick_replies: dict[str, dict[str, Any]] = Field(default_factory=dict)

    marketplace_api_url: str | None = None
    marketplace_api_key: str | None = None
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
    run_scheduler: bool = True  # exactly one process should: turn off on the others
    inbox_settle_seconds: float = 0.2  # wait for concurrently delivered updates of one chat
    album_seconds: float = 1.0  # how long the photos of one album may straggle
    strict_messages: bool = False  # tests: a message missing a parameter is an error

    @property
    def has_platform(self) -> bool:
        return bool(self.telegram_bot_token or self.twilio_account_sid)
