"""Telegram channel (python-telegram-bot): updates -> Inbound, replies -> Bot API calls.

Updates go through the durable inbox first (webhook or long polling), so a crash after
Telegram got its 200 loses nothing, a redelivered update_id is processed once, and one
person's updates run one at a time, in order. Outgoing calls go through PTB's
AIORateLimiter: about 30 messages/s overall, 1/s per chat in bursts, and 429 retry_after.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from telegram import (
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    Message,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import AIORateLimiter, ExtBot
from telegram.request import HTTPXRequest

from bot import metrics
from bot.broadcasts import ReplyMeter
from bot.channels.long_text import split_text
from bot.channels.payload import Malformed
from bot.channels.telegram_api import BotAPI
from bot.channels.telegram_update import addressed_to, chat_type, check_update
from bot.config import Settings, reveal
from bot.conversation import ConversationRunner
from bot.i18n import Renderer
from bot.inbox import Inbox, Turn
from bot.lifecycle import pause_unless_stopped
from bot.media import MediaStore
from bot.notices import record_outcomes, take_for_channel
from bot.outgoing import Outgoing, Reply, Undeliverable, queue
from bot.roles import telegram_roles
from bot.storage.database import Database
from bot.storage.models import InboundUpdate
from bot.tls import tls_context
from flows.lexicon import LOCALES, MENU_COMMANDS, command_name
from flows.messages import Inbound, Location, PhotoRef, RejectedPhoto, shortened, t
from flows.parsing import parse_phone

log = logging.getLogger(__name__)
CHANNEL = "telegram"
MAX_TEXT = 4096
MAX_CAPTION = 1024
ALLOWED_UPDATES = ["message", "callback_query"]
PARSED_KEPT = 10_000  # updates kept read between accept and _process (else read again)
GROUP_POINTER_SECONDS = 3600.0  # one pointer to the private chat per group per hour


def to_html(text: str) -> str:
    """Our *bold* convention as Telegram HTML, with everything else escaped."""
    return re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", html.escape(text, quote=False))


def chat_key(data: dict[str, Any]) -> str | None:
    """Whose update this is (the sender's user id), for per-person ordering."""
    for key in ("message", "edited_message", "callback_query"):
        sender = (data.get(key) or {}).get("from")
        if sender:
            return str(sender["id"])
    return None


class TelegramChannel:
    def __init__(
        self,
        settings: Settings,
        db: Database,
        runner: ConversationRunner,
        media: MediaStore,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        assert settings.telegram_bot_token
        self.settings = settings
        self.db = db
        self.runner = runner
        self.media = media
        self.bot = ExtBot(
            settings.telegram_bot_token.get_secret_value(),
            base_url=settings.telegram_api_base_url,
            base_file_url=settings.telegram_api_file_url,
            request=HTTPXRequest(
                connection_pool_size=64,
                read_timeout=30,
                pool_timeout=30,
                httpx_kwargs={"verify": tls_context()},
            ),
            get_updates_request=HTTPXRequest(
                read_timeout=60, httpx_kwargs={"verify": tls_context()}
            ),
            rate_limiter=AIORateLimiter(
                overall_max_rate=settings.telegram_max_messages_per_second, max_retries=5
            ),
        )
        # The hot path's calls, posted directly through the same rate limiter.
        self.api = BotAPI(
            settings.telegram_bot_token.get_secret_value(),
            settings.telegram_api_base_url,
            self.bot.rate_limiter,
        )
        self.replies = ReplyMeter()  # broadcasts in this process leave room for these
        self.clock = clock
        self._parsed: dict[str, Update] = {}  # stored updates as read by accept, by update_id
        self._groups_told: dict[int, float] = {}  # group chat id -> when we last pointed
        self._side_tasks: set[asyncio.Task[None]] = set()
        self.inbox = Inbox(
            db,
            CHANNEL,
            self._process,
            settle_seconds=settings.inbox_settle_seconds,
            album_seconds=settings.album_seconds,
            sequential=True,  # Telegram numbers a bot's updates one after another
            gap_hold_seconds=settings.inbox_gap_hold_seconds,
        )
        self.outgoing = Outgoing(
            db, CHANNEL, self._deliver, claim_seconds=settings.outgoing_claim_seconds
        )
        self._background: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()

    # --- life cycle ---------------------------------------------------------------------

    async def start(self, webhook_url: str | None) -> None:
        """Introduce the bot to Telegram, then resume what was stored. Telegram out of reach
        (a patchy uplink, an API proxy down) does not stop the service: the web app starts,
        webhooks are still taken and stored, and the introduction is retried until it works."""
        try:
            await self._introduce(webhook_url)
        except NetworkError as exc:  # TimedOut is one too; a refused token is not
            log.warning("Telegram is not reachable (%s); retrying in the background", exc)
            self._spawn(self._introduce_when_reachable(webhook_url))
        recovered = await self.inbox.recover()
        if recovered:
            log.info("resuming %d chats with stored updates", recovered)
        await self.outgoing.recover()
        self._spawn(self.inbox.watch(self._stopping))
        self._spawn(self.outgoing.watch(self._stopping))

    async def _introduce(self, webhook_url: str | None) -> None:
        await self.bot.initialize()
        await self._set_commands()
        await self._set_all_role_commands()
        if webhook_url:
            await self.bot.set_webhook(
                webhook_url,
                secret_token=reveal(self.settings.telegram_webhook_secret) or None,
                allowed_updates=ALLOWED_UPDATES,
            )
        else:
            await self.bot.delete_webhook()

    async def _introduce_when_reachable(self, webhook_url: str | None) -> None:
        wait = 1.0
        while not self._stopping.is_set():
            await pause_unless_stopped(self._stopping, wait)
            if self._stopping.is_set():
                return
            try:
                await self._introduce(webhook_url)
            except NetworkError as exc:
                wait = min(wait * 2, 60.0)
                log.warning("Telegram is still not reachable (%s); next try in %.0f s", exc, wait)
                continue
            log.info("Telegram is reachable again; the bot is set up")
            return

    async def stop(self) -> None:
        self._stopping.set()
        await self.inbox.close()
        await self.outgoing.close()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._side_tasks:
            await asyncio.gather(*self._side_tasks, return_exceptions=True)
        await self.api.close()
        await self.bot.shutdown()

    def _menu(
        self, locale: str, roles: frozenset[str] | set[str] = frozenset()
    ) -> list[BotCommand]:
        """The command menu in one language, with the commands these roles add."""
        render = Renderer(locale, self.settings.timezone)
        shown = {  # an action two roles share (/dasbor) is listed once
            c.action: BotCommand(command_name(c.action, locale), render(c.description))
            for c in MENU_COMMANDS
            if c.role == "everyone" or c.role in roles
        }
        return list(shown.values())

    async def _set_role_commands(self, chat_id: int, roles: set[str], locale: str) -> None:
        """Facilitators and admins see their own commands in Telegram's menu."""
        await self.bot.set_my_commands(
            self._menu(locale, roles), scope=BotCommandScopeChat(chat_id)
        )

    async def _set_all_role_commands(self) -> None:
        people = await asyncio.to_thread(self._roles)
        for chat_id, (roles, locale) in people.items():
            await self._set_role_commands(chat_id, roles, locale)

    def _roles(self, only: int | None = None) -> dict[int, tuple[set[str], str]]:
        with self.db.read_session() as session:
            return telegram_roles(session, self.settings, only)

    async def _set_commands(self) -> None:
        for locale in LOCALES:
            await self.bot.set_my_commands(self._menu(locale), language_code=locale)
        await self.bot.set_my_commands(self._menu(self.settings.default_locale))

    # --- receiving ------------------------------------------------------------------------

    async def accept(self, data: dict[str, Any], checked: Update | None = None) -> bool:
        """Store one update (webhook body or getUpdates item); False if a duplicate or unusable.

        Only private chats reach a conversation: in a group, channel or supergroup nothing is
        stored, and a command or mention gets one pointer to the private chat per group per
        GROUP_POINTER_SECONDS (nothing personal is ever sent anywhere but the owner's chat).
        """
        try:
            update = checked or check_update(data)
        except Malformed as problem:
            log.warning("dropped a malformed Telegram update: %s", problem)
            return False
        kind = chat_type(data)
        key = chat_key(data)
        if (kind is not None and kind != "private") or key is None:
            if kind is not None and kind != "private":
                self._point_group_to_private_chat(data)
            if isinstance(data.get("update_id"), int):  # so later updates need not wait for it
                await self.inbox.skip(str(data["update_id"]), data["update_id"])
            return False
        group = (data.get("message") or {}).get("media_group_id")
        stored = await self.inbox.accept(
            str(data["update_id"]),
            int(data["update_id"]),
            key,
            data,
            group_key=f"{key}:{group}" if group else None,
        )
        if stored:  # read once: _process takes it instead of reading the payload again
            self._parsed[str(data["update_id"])] = update
            while len(self._parsed) > PARSED_KEPT:
                del self._parsed[next(iter(self._parsed))]
        return stored

    def _point_group_to_private_chat(self, data: dict[str, Any]) -> None:
        username = self._username()
        if not addressed_to(data, username):
            return
        message = data["message"]
        chat_id = int(message["chat"]["id"])
        now = self.clock()
        told = self._groups_told.get(chat_id)
        if told is not None and now - told < GROUP_POINTER_SECONDS:
            return
        self._groups_told[chat_id] = now
        language = (message.get("from") or {}).get("language_code") or ""
        render = Renderer(language, self.settings.timezone)
        text = render(
            t("group.private_only", link=f"https://t.me/{username}")
            if username
            else t("group.private_only_no_link")
        )
        task = asyncio.create_task(self._send_group_pointer(chat_id, text))
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _send_group_pointer(self, chat_id: int, text: str) -> None:
        try:
            self.replies.note()
            await self.bot.send_message(chat_id, to_html(text), parse_mode=ParseMode.HTML)
        except TelegramError:
            log.info("could not answer in a group chat")

    def _username(self) -> str | None:
        """TELEGRAM_BOT_USERNAME, else the name Telegram gave at start-up (getMe)."""
        if self.settings.telegram_bot_username:
            return self.settings.telegram_bot_username.lstrip("@")
        try:
            return self.bot.username
        except RuntimeError:  # not initialized yet
            return None

    async def poll(self, stop: asyncio.Event) -> None:
        """Long polling: store each update before asking for the next ones."""
        offset = None
        while not stop.is_set():
            try:
                updates = await self.bot.get_updates(
                    offset=offset, timeout=25, allowed_updates=ALLOWED_UPDATES
                )
            except TelegramError:
                log.warning("getUpdates failed; retrying", exc_info=True)
                await asyncio.sleep(2)
                continue
            for update in updates:
                await self.accept(update.to_dict())
                offset = update.update_id + 1

    async def _process(self, rows: list[InboundUpdate], turn: Turn) -> None:
        updates = [self._read(row) for row in rows]
        first = updates[0]
        chat = first.effective_chat if first is not None else None
        if first is None or chat is None:
            await asyncio.to_thread(self.runner.skip, turn)
            return
        if first.callback_query:
            self._spawn(self._close_keyboard(first))
        try:
            chat_id, inbound = await self._inbound(first, updates, rows)
        except Exception:
            # Logged with the update id only: no names, numbers or texts in the logs.
            log.exception("telegram update %s failed", first.update_id)
            user = first.effective_user
            hint = user.language_code if user else None
            await asyncio.to_thread(self.runner.fail, CHANNEL, hint, turn, str(chat.id))
            self.outgoing.notify(str(chat.id))
            return
        if inbound is None or chat_id is None:
            await asyncio.to_thread(self.runner.skip, turn)
            return
        replies = await asyncio.to_thread(self.runner.handle_turn, inbound, turn, str(chat_id))
        if replies is None:
            return  # not its turn: the inbox looks again
        self.outgoing.notify(str(chat_id))
        if any(reply.prompt == "fac.joined" for reply in replies):
            for joined, (roles, locale) in (await asyncio.to_thread(self._roles, chat_id)).items():
                await self._set_role_commands(joined, roles, locale)

    def _read(self, row: InboundUpdate) -> Update:
        if row.update_id in self._parsed:
            return self._parsed.pop(row.update_id)
        return Update.de_json(row.payload, self.bot)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Work that must not hold up processing (closing a keyboard)."""
        task = asyncio.create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _close_keyboard(self, update: Update) -> None:
        query = update.callback_query
        assert query is not None
        try:
            await self.api.call("answerCallbackQuery", {"callback_query_id": query.id})
            if isinstance(query.message, Message):
                message = {"chat_id": query.message.chat_id, "message_id": query.message.message_id}
                await self.api.call("editMessageReplyMarkup", message)
        except TelegramError:
            log.info("could not close keyboard for update %s", update.update_id)

    async def _inbound(
        self, first: Update, updates: Sequence[Update | None], rows: list[InboundUpdate]
    ) -> tuple[int | None, Inbound | None]:
        user = first.effective_user
        chat = first.effective_chat
        if user is None or chat is None:
            return None, None
        common: dict[str, Any] = {
            "user_key": str(user.id),
            "channel": CHANNEL,
            "message_id": rows[0].group_key or str(first.update_id),
            "profile_name": user.full_name,
            "locale_hint": user.language_code,
        }
        if first.callback_query:
            data = first.callback_query.data or ""
            if data.startswith("#"):
                return chat.id, Inbound(text=data[1:], **common)
            return chat.id, Inbound(choice=data, **common)
        message = first.message
        if message is None:
            return None, None
        photos, rejected = await self._photos([u.message for u in updates if u and u.message])
        contact_phone = sender_phone = None
        if message.contact:
            contact_phone = message.contact.phone_number
            if message.contact.user_id == user.id:  # their own number, shared by Telegram
                sender_phone = parse_phone(contact_phone)
        location = (
            Location(message.location.latitude, message.location.longitude)
            if message.location
            else None
        )
        return chat.id, Inbound(
            text=message.text or message.caption,
            contact_phone=contact_phone,
            sender_phone=sender_phone,
            photos=photos,
            rejected_photos=rejected,
            location=location,
            unsupported=_unsupported(message),
            **common,
        )

    async def _photos(
        self, messages: list[Message]
    ) -> tuple[tuple[PhotoRef, ...], tuple[RejectedPhoto, ...]]:
        stored: list[PhotoRef] = []
        rejected: list[RejectedPhoto] = []
        for message in sorted(messages, key=lambda m: m.message_id):
            if message.photo:
                file_id, size = message.photo[-1].file_id, message.photo[-1].file_size
            elif message.document:
                file_id, size = message.document.file_id, message.document.file_size
            else:
                continue
            result = await self._download(file_id, size)
            (stored if isinstance(result, PhotoRef) else rejected).append(result)  # type: ignore[arg-type]
        return tuple(stored), tuple(rejected)

    async def _download(self, file_id: str, size: int | None) -> PhotoRef | RejectedPhoto:
        if size and size > self.settings.max_upload_bytes:
            return RejectedPhoto("too_big")
        try:
            file = await self.bot.get_file(file_id)
            if file.file_size and file.file_size > self.settings.max_upload_bytes:
                return RejectedPhoto("too_big")
            data = bytes(await file.download_as_bytearray())
        except TelegramError:
            log.warning("could not download file for an update", exc_info=True)
            return RejectedPhoto("download_failed")
        return await asyncio.to_thread(self.media.ingest, data)

    async def deliver_notices(self, stop: asyncio.Event, every: float = 1.0) -> None:
        """Queue notices (sync results...) for Telegram owners as they appear."""
        while not stop.is_set():
            chats: list[str] = []
            try:
                chats = await asyncio.to_thread(self._queue_notices)
                for chat in chats:
                    self.outgoing.notify(chat)
            except Exception:
                log.exception("delivering notices failed")
            if not chats:
                await pause_unless_stopped(stop, every)

    def _queue_notices(self) -> list[str]:
        """Take due notices and store them as replies, in one transaction; their chats."""
        chats: list[str] = []
        with self.db.session() as session:
            batch = take_for_channel(session, CHANNEL, 50, lock=not self.db.is_sqlite)
            outcomes: dict[int, str] = {}
            for account, text, notice_id in batch:
                if account.opted_out:
                    outcomes[notice_id] = "not_sent_opted_out"
                    continue
                render = Renderer(account.locale, self.settings.timezone)
                queue(session, CHANNEL, account.external_id, [Reply(render(text))])
                outcomes[notice_id] = "sent"
                chats.append(account.external_id)
            record_outcomes(session, outcomes)
        return chats

    # --- sending ----------------------------------------------------------------------------

    async def _deliver(self, chat_key: str, reply: Reply) -> None:
        """Send one stored reply; a refusal that retrying cannot fix is Undeliverable."""
        try:
            await self.send(int(chat_key), [reply])
        except (Forbidden, BadRequest) as refused:
            raise Undeliverable(type(refused).__name__) from refused

    @metrics.counts_failure(CHANNEL)
    async def send(self, chat_id: int, replies: list[Reply]) -> None:
        for reply in replies:
            markup = _markup(reply)
            parts = split_text(reply.text, MAX_TEXT)
            photo = self.media.read(reply.photo) if reply.photo else None
            if photo is not None:  # (a photo erased since the reply was stored: text only)
                caption = parts[0] if len(parts) == 1 and len(parts[0]) <= MAX_CAPTION else None
                self.replies.note()
                await self.bot.send_photo(
                    chat_id,
                    photo,
                    caption=to_html(caption) if caption else None,
                    parse_mode=ParseMode.HTML,
                    reply_markup=markup if caption else None,
                )
                metrics.sent(CHANNEL)
                if caption:
                    continue
            for index, part in enumerate(parts):
                params: dict[str, Any] = {"chat_id": chat_id, "text": to_html(part)}
                params["parse_mode"] = ParseMode.HTML.value
                if markup is not None and index == len(parts) - 1:
                    params["reply_markup"] = markup.to_dict()
                self.replies.note()
                await self.api.call("sendMessage", params)
                metrics.sent(CHANNEL)


NUMBERED_FROM = 3  # choices


def _markup(reply: Reply) -> InlineKeyboardMarkup | ReplyKeyboardMarkup | None:
    if reply.contact_button or reply.location_button:
        button = (
            KeyboardButton(reply.contact_button, request_contact=True)
            if reply.contact_button
            else KeyboardButton(reply.location_button or "", request_location=True)
        )
        return ReplyKeyboardMarkup([[button]], one_time_keyboard=True, resize_keyboard=True)
    if not reply.choices:
        return None
    # Three or more are numbered, as WhatsApp's list is: the questions say "ketik *1*".
    numbered = len(reply.choices) >= NUMBERED_FROM
    buttons = [
        InlineKeyboardButton(
            shortened(f"{number}. {label}" if numbered else label, 64),
            callback_data=cid if len(cid.encode()) <= 64 else f"#{number}",
        )
        for number, (cid, label) in enumerate(reply.choices, start=1)
    ]
    short = all(len(b.text) <= 12 for b in buttons)
    width = 2 if short and len(buttons) > 2 else 1
    return InlineKeyboardMarkup([buttons[i : i + width] for i in range(0, len(buttons), width)])


def _unsupported(message: Message) -> str | None:
    if message.voice or message.audio:
        return "voice"
    if message.sticker:
        return "sticker"
    if message.video or message.video_note or message.animation:
        return "video"
    return None  # a document goes through the photo pipeline, which says what it is
