"""WhatsApp through Twilio: signed webhooks in, Messages API out, the 24-hour window kept.

Webhook bodies are validated with `X-Twilio-Signature` against PUBLIC_BASE_URL + path, stored
in the durable inbox (unique per MessageSid: Twilio's retries are dropped), and answered
with empty TwiML at once; replies go out through the Messages API. Messages the business
starts (sync results, reminders) are sent as free text only inside the 24-hour service
window; outside it only as an approved template (ContentSid), or not at all.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlmodel import select
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot import metrics
from bot.channels.long_text import split_text
from bot.config import Settings, reveal
from bot.conversation import ConversationRunner
from bot.i18n import Renderer
from bot.inbox import Inbox, Turn
from bot.lifecycle import pause_unless_stopped
from bot.media import MediaStore
from bot.notices import record_outcomes, take_for_channel
from bot.outgoing import Outgoing, Reply, Undeliverable
from bot.storage.database import Database
from bot.storage.models import ChannelAccount, InboundUpdate, OutboundMessage, utcnow
from bot.tls import tls_context
from flows.messages import Inbound, Location, PhotoRef, RejectedPhoto, Text, t

log = logging.getLogger(__name__)
CHANNEL = "whatsapp"
WINDOW = timedelta(hours=24)
MAX_BODY = 1600  # WhatsApp message body limit through Twilio
CHOOSE_HINT = t("whatsapp.choose_hint")


def e164(address: str) -> str:
    """'whatsapp:+6281234567890' -> '+6281234567890'."""
    return address.removeprefix("whatsapp:").strip()


def origin(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of a URL; a bare host name means https on 443. None if unusable."""
    if "://" not in url:
        url = f"https://{url}"
    try:
        parts = urlsplit(url)
        port = parts.port or {"https": 443, "http": 80}.get(parts.scheme)
    except ValueError:  # a port that is not a number or out of range
        return None
    if not parts.hostname or port is None or parts.username or parts.password:
        return None
    return parts.scheme, parts.hostname, port


def numbered(reply: Reply, hint: str) -> str:
    """Choices as a numbered list, answered by number, label or a close match."""
    if not reply.choices:
        return reply.text
    lines = [f"{n}. {label}" for n, (_, label) in enumerate(reply.choices, start=1)]
    return "\n".join([reply.text, "", *lines, "", hint])


class WhatsAppChannel:
    def __init__(
        self, settings: Settings, db: Database, runner: ConversationRunner, media: MediaStore
    ) -> None:
        assert settings.twilio_account_sid and settings.twilio_auth_token
        self.settings = settings
        self.db = db
        self.runner = runner
        self.media = media
        auth_token = settings.twilio_auth_token.get_secret_value()
        self.validator = RequestValidator(auth_token)
        previous = reveal(settings.twilio_auth_token_previous)  # accepted during a rotation
        self.previous_validator = RequestValidator(previous) if previous else None
        self.client = Client(settings.twilio_account_sid, auth_token)
        if settings.twilio_api_base_url:
            self.client.api.base_url = settings.twilio_api_base_url.rstrip("/")
        api = origin(settings.twilio_api_base_url or "https://api.twilio.com")
        self.media_origins = {api, *(origin(entry) for entry in settings.twilio_media_hosts)}
        self.media_origins.discard(None)
        self.inbox = Inbox(
            db,
            CHANNEL,
            self._process,
            settle_seconds=settings.inbox_settle_seconds,
            album_seconds=0,
        )
        self.not_sent: dict[str, int] = {}  # reasons business messages were held back
        self.outgoing = Outgoing(
            db, CHANNEL, self._deliver, claim_seconds=settings.outgoing_claim_seconds
        )
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    # --- receiving ---------------------------------------------------------------------

    def signature_ok(self, path: str, params: dict[str, str], signature: str) -> bool:
        """Twilio signs the public URL it called, so check against PUBLIC_BASE_URL + path."""
        base = (self.settings.public_base_url or "").rstrip("/")
        return (
            bool(signature)
            and bool(base)
            and any(
                v.validate(base + path, params, signature)
                for v in (self.validator, self.previous_validator)
                if v is not None
            )
        )

    async def accept(self, params: dict[str, str]) -> bool:
        sid, sender = params.get("MessageSid"), params.get("From", "")
        if not sid or not sender.startswith("whatsapp:"):
            return False
        return await self.inbox.accept(sid, time.time_ns(), e164(sender), params)

    async def record_status(self, params: dict[str, str]) -> None:
        await asyncio.to_thread(self._record_status, params)

    def _record_status(self, params: dict[str, str]) -> None:
        sid = params.get("MessageSid") or params.get("SmsSid")
        if not sid:
            return
        with self.db.session() as session:
            row = session.exec(select(OutboundMessage).where(OutboundMessage.sid == sid)).first()
            if row is None:
                row = OutboundMessage(sid=sid)
            row.status = (params.get("MessageStatus") or row.status)[:16]
            row.error_code = params.get("ErrorCode") or row.error_code
            row.updated_at = utcnow()
            session.add(row)
        if params.get("ErrorCode"):
            log.warning("WhatsApp message %s failed with Twilio error %s", sid, params["ErrorCode"])

    async def _process(self, rows: list[InboundUpdate], turn: Turn) -> None:
        params: dict[str, str] = rows[0].payload
        phone = e164(params["From"])
        try:
            inbound = await self._inbound(params, phone)
        except Exception:
            log.exception("whatsapp message %s failed", params.get("MessageSid"))
            await asyncio.to_thread(
                self.runner.fail, CHANNEL, self.settings.default_locale, turn, phone
            )
            self.outgoing.notify(phone)
            return
        if await asyncio.to_thread(self.runner.handle_turn, inbound, turn, phone) is not None:
            self.outgoing.notify(phone)

    async def _deliver(self, phone: str, reply: Reply) -> None:
        """Send one stored reply; a refusal that retrying cannot fix is Undeliverable."""
        await self.send(phone, [reply], strict=True)

    async def start(self) -> None:
        await self.inbox.recover()
        await self.outgoing.recover()
        for watch in (self.inbox.watch, self.outgoing.watch):
            task = asyncio.create_task(watch(self._stopping))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def stop(self) -> None:
        self._stopping.set()
        await self.inbox.close()
        await self.outgoing.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)

    async def _inbound(self, params: dict[str, str], phone: str) -> Inbound:
        photos: list[PhotoRef] = []
        rejected: list[RejectedPhoto] = []
        unsupported = None
        for index in range(min(int(params.get("NumMedia") or 0), 10)):
            kind = params.get(f"MediaContentType{index}", "")
            if kind.startswith(("audio/", "video/")):
                unsupported = "voice" if kind.startswith("audio/") else "video"
                continue
            result = await self._download(params.get(f"MediaUrl{index}", ""))
            (photos if isinstance(result, PhotoRef) else rejected).append(result)  # type: ignore[arg-type]
        location = None
        if params.get("Latitude") and params.get("Longitude"):
            try:
                location = Location(float(params["Latitude"]), float(params["Longitude"]))
            except ValueError:
                location = None
        return Inbound(
            user_key=phone,
            channel=CHANNEL,
            text=params.get("ButtonText") if params.get("ButtonPayload") else params.get("Body"),
            choice=params.get("ButtonPayload") or None,
            sender_phone=phone,
            photos=tuple(photos),
            rejected_photos=tuple(rejected),
            location=location,
            unsupported=unsupported if not photos and not params.get("Body") else None,
            message_id=params.get("MessageSid"),
            profile_name=params.get("ProfileName"),
        )

    async def _download(self, url: str) -> PhotoRef | RejectedPhoto:
        """Fetch media with the account's credentials, only from Twilio's origins, size-limited.

        Every hop (Twilio answers with a redirect to its CDN) must be an allowed origin:
        scheme, host and port. The credentials go with the first request only.
        """
        limit = self.settings.max_upload_bytes
        auth: tuple[str, str] | None = (
            self.settings.twilio_account_sid or "",
            reveal(self.settings.twilio_auth_token),
        )
        try:
            async with httpx.AsyncClient(
                timeout=30, follow_redirects=False, verify=tls_context()
            ) as http:
                for _ in range(3):
                    if origin(url) not in self.media_origins:
                        log.warning("refused media from an origin that is not Twilio's")
                        return RejectedPhoto("download_failed")
                    async with http.stream("GET", url, auth=auth) as response:
                        if response.is_redirect:
                            url = str(response.url.join(response.headers["location"]))
                            auth = None  # credentials go to the URL Twilio gave, not the CDN
                            continue
                        if response.status_code != 200:
                            return RejectedPhoto("download_failed")
                        if int(response.headers.get("content-length") or 0) > limit:
                            return RejectedPhoto("too_big")
                        data = bytearray()
                        async for chunk in response.aiter_bytes():
                            data += chunk
                            if len(data) > limit:
                                return RejectedPhoto("too_big")
                        return await asyncio.to_thread(self.media.ingest, bytes(data))
        except (httpx.HTTPError, ValueError):  # ValueError: a Location that is no URL
            log.warning("could not download WhatsApp media", exc_info=True)
        return RejectedPhoto("download_failed")

    # --- sending --------------------------------------------------------------------------

    async def send(
        self, phone: str, replies: list[Reply], locale: str | None = None, strict: bool = False
    ) -> None:
        hint = Renderer(locale or self._locale(phone), self.settings.timezone)(CHOOSE_HINT)
        for reply in replies:
            quick = self.settings.whatsapp_quick_replies.get(reply.prompt or "")
            if quick and reply.choices and len(reply.choices) <= 3 and not reply.photo:
                await asyncio.to_thread(
                    self._create, phone, None, None, quick["content_sid"], {"1": reply.text}, strict
                )
                continue
            body = numbered(reply, hint)
            media = (
                [f"{(self.settings.public_base_url or '').rstrip('/')}/media/{reply.photo}.jpg"]
                if reply.photo and self.settings.public_base_url
                else None
            )
            for index, part in enumerate(split_text(body, MAX_BODY)):
                await asyncio.to_thread(
                    self._create, phone, part, media if index == 0 else None, None, None, strict
                )

    def _locale(self, phone: str) -> str:
        with self.db.read_session() as session:
            account = session.exec(
                select(ChannelAccount).where(
                    ChannelAccount.channel == CHANNEL, ChannelAccount.external_id == phone
                )
            ).first()
            return account.locale if account else self.settings.default_locale

    def _create(
        self,
        phone: str,
        body: str | None,
        media: list[str] | None,
        content_sid: str | None,
        variables: dict[str, str] | None,
        strict: bool = False,
    ) -> str | None:
        kwargs: dict[str, Any] = {
            "from_": self.settings.twilio_whatsapp_from,
            "to": f"whatsapp:{phone}",
        }
        if content_sid:
            kwargs.update(content_sid=content_sid, content_variables=json.dumps(variables or {}))
        else:
            kwargs["body"] = body
            if media:
                kwargs["media_url"] = media
        if self.settings.public_base_url:
            kwargs["status_callback"] = (
                f"{self.settings.public_base_url.rstrip('/')}/whatsapp/status"
            )
        try:
            message = self.client.messages.create(**kwargs)
        except TwilioException as refused:
            if strict:  # a stored reply: say whether trying again can help
                status = refused.status if isinstance(refused, TwilioRestException) else 500
                if 400 <= status < 500 and status != 429:
                    raise Undeliverable(f"Twilio {status}") from refused
                raise
            log.exception("Twilio refused a WhatsApp message")
            metrics.sent(CHANNEL, "failed")
            return None
        metrics.sent(CHANNEL)
        with self.db.session() as session:
            account = session.exec(
                select(ChannelAccount).where(
                    ChannelAccount.channel == CHANNEL, ChannelAccount.external_id == phone
                )
            ).first()
            session.add(
                OutboundMessage(
                    sid=message.sid or "",
                    status=message.status or "queued",
                    account_id=account.id if account else None,
                )
            )
        return message.sid

    def send_business(self, account: ChannelAccount, text: Text) -> str:
        """A message the business starts: window, template and opt-out rules. Returns status."""
        if account.opted_out:
            return self._held("not_sent_opted_out")
        inside = account.last_inbound_at and utcnow() - account.last_inbound_at < WINDOW
        if inside:
            body = Renderer(account.locale, self.settings.timezone)(text)
            return (
                "sent"
                if self._create(account.external_id, body, None, None, None)
                else (self._held("not_sent_error"))
            )
        template = self.settings.whatsapp_templates.get(text.msgid)
        if not template:
            log.info("no approved template for %s outside the 24-hour window", text.msgid)
            metrics.sent(CHANNEL, "template_missing")
            return self._held("not_sent_no_template")
        render = Renderer(account.locale, self.settings.timezone)
        variables = {
            str(n): render.value(text.params[name])
            for n, name in enumerate(template.get("variables", []), start=1)
        }
        sid = self._create(account.external_id, None, None, template["content_sid"], variables)
        return "template" if sid else self._held("not_sent_error")

    def _held(self, reason: str) -> str:
        self.not_sent[reason] = self.not_sent.get(reason, 0) + 1
        return reason

    async def deliver_notices(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Send queued notices to WhatsApp owners, within WhatsApp's rules."""
        while not stop.is_set():
            done = 0
            try:
                done = await asyncio.to_thread(self.deliver_due_notices)
            except Exception:
                log.exception("delivering WhatsApp notices failed")
            if not done:
                await pause_unless_stopped(stop, every)

    def deliver_due_notices(self) -> int:
        """Take due notices in one transaction, send them outside it, record the outcome."""
        with self.db.session() as session:
            batch = take_for_channel(session, CHANNEL, 50, lock=not self.db.is_sqlite)
        outcomes = {
            notice_id: self.send_business(account, text) for account, text, notice_id in batch
        }
        if outcomes:
            with self.db.session() as session:
                record_outcomes(session, outcomes)
        return len(batch)
