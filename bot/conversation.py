"""The runner: per message, load state, run the flow, apply effects and save, in one transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot.config import Settings
from bot.i18n import Renderer, pick_locale
from bot.notices import take_for_account
from bot.storage.database import Database
from bot.storage.models import (
    ChannelAccount,
    Conversation,
    ProcessedUpdate,
    Seller,
    UmkmRecord,
    utcnow,
)
from bot.storage.products import delete_product, product_snapshots, save_product, save_product_draft
from bot.storage.sellers import SellerDirectory, erase_seller, save_seller, seller_snapshot
from flows import effects as fx
from flows.engine import Env, Result, State
from flows.messages import Inbound, Outbound, Text, say, t
from flows.router import advance

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Reply:
    """An outbound message rendered in the person's language, ready for a channel."""

    text: str
    choices: tuple[tuple[str, str], ...] = ()
    photo: str | None = None  # sha256 of a stored photo
    prompt: str | None = None  # message id of the question, for platform templates
    contact_button: str | None = None  # label of a "share my number" button
    location_button: str | None = None  # label of a "share my location" button


def imported_record(session: Session, phone: str | None) -> dict[str, Any] | None:
    """Government MSME data for this verified number, to offer at registration."""
    if not phone:
        return None
    record = session.exec(select(UmkmRecord).where(UmkmRecord.phone == phone)).first()
    return record.model_dump(mode="json") if record else None


class KeyedLocks:
    """One lock per key, so one person's messages run one at a time in this process."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def __call__(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())


class ConversationRunner:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.settings = settings
        self.clock = clock
        self.locks = KeyedLocks()

    def handle(self, inbound: Inbound) -> list[Reply]:
        """Process one message and return the replies; never raises for the owner's sake."""
        with self.locks(f"{inbound.channel}:{inbound.user_key}"):
            try:
                return self._handle(inbound)
            except Exception:
                log.exception(
                    "failed to handle message %s on %s", inbound.message_id, inbound.channel
                )
                renderer = Renderer(pick_locale(inbound.locale_hint), self.settings.timezone)
                return [Reply(renderer(t("error.generic")))]

    def _handle(self, inbound: Inbound) -> list[Reply]:
        for attempt in range(3):
            try:
                with self.db.session() as session:
                    return self._handle_in(session, inbound)
            except IntegrityError:
                # A concurrent first message created the same rows; the retry sees them.
                if inbound.message_id and self._already_processed(inbound):
                    return []
                if attempt == 2:
                    raise
        return []

    def _already_processed(self, inbound: Inbound) -> bool:
        with self.db.session() as session:
            return (
                session.exec(
                    select(ProcessedUpdate.id).where(
                        ProcessedUpdate.channel == inbound.channel,
                        ProcessedUpdate.update_id == inbound.message_id,
                    )
                ).first()
                is not None
            )

    def _handle_in(self, session: Session, inbound: Inbound) -> list[Reply]:
        now = self.clock()
        if inbound.message_id:
            session.add(
                ProcessedUpdate(
                    channel=inbound.channel, update_id=inbound.message_id, processed_at=now
                )
            )
            session.flush()
        account = self._account(session, inbound, now)
        conversation = self._conversation(session, account, now)
        linked = self._link_by_phone(session, account, conversation)
        seller = session.get(Seller, account.seller_id) if account.seller_id else None
        renderer = Renderer(account.locale, self.settings.timezone, self.settings.strict_messages)
        env = Env(
            now=now,
            channel=inbound.channel,
            directory=SellerDirectory(session),
            known_phone=account.phone,
            profile_name=inbound.profile_name or account.profile_name,
            seller=seller_snapshot(seller) if seller else None,
            products=product_snapshots(session, seller.id) if seller and seller.id else (),
            pause=timedelta(hours=self.settings.resume_after_hours),
            locale=account.locale,
            render=renderer,
            opted_out=account.opted_out,
            imported=None if seller else imported_record(session, account.phone),
        )
        state = State.load(
            conversation.flow,
            conversation.step,
            conversation.draft,
            conversation.meta,
            conversation.updated_at,
        )
        result = advance(state, inbound, env)
        notices = take_for_account(session, account.id or 0, lock=not self.db.is_sqlite)
        result.replies[:0] = [say(text) for text in notices]
        if linked is not None:
            result.replies.insert(0, say(t("account.linked", shop=linked.shop_name or "")))
        self._apply(session, account, result, inbound.channel)
        self._save(session, conversation, result.state, now)
        if account.locale != renderer.locale:
            renderer = Renderer(
                account.locale, self.settings.timezone, self.settings.strict_messages
            )
        return [self._render(renderer, out) for out in result.replies]

    def _account(self, session: Session, inbound: Inbound, now: datetime) -> ChannelAccount:
        account = session.exec(
            select(ChannelAccount).where(
                ChannelAccount.channel == inbound.channel,
                ChannelAccount.external_id == inbound.user_key,
            )
        ).first()
        if account is None:
            account = ChannelAccount(
                channel=inbound.channel,
                external_id=inbound.user_key,
                locale=pick_locale(inbound.locale_hint),
                created_at=now,
            )
        if inbound.sender_phone:
            account.phone = inbound.sender_phone
        if inbound.profile_name:
            account.profile_name = inbound.profile_name[:100]
        account.last_inbound_at = now
        session.add(account)
        session.flush()
        return account

    def _link_by_phone(
        self, session: Session, account: ChannelAccount, conversation: Conversation
    ) -> Seller | None:
        """One person, two channels: a number the channel vouches for finds their shop."""
        if account.seller_id or not account.phone:
            return None
        seller = session.exec(
            select(Seller).where(
                Seller.phone == account.phone,
                Seller.status == "active",
                Seller.phone_verified == True,  # noqa: E712
            )
        ).first()
        if seller is None:
            return None
        account.seller_id = seller.id
        account.locale = seller.locale
        session.add(account)
        if conversation.flow == "registration":  # nothing to register: they already are
            conversation.flow = conversation.step = None
            conversation.draft, conversation.meta = {}, {}
        return seller

    def _conversation(
        self, session: Session, account: ChannelAccount, now: datetime
    ) -> Conversation:
        query = select(Conversation).where(Conversation.account_id == account.id)
        if not self.db.is_sqlite:
            query = query.with_for_update()
        conversation = session.exec(query).first()
        if conversation is None:
            conversation = Conversation(account_id=account.id or 0, updated_at=now)
            session.add(conversation)
            session.flush()
        return conversation

    def _apply(
        self, session: Session, account: ChannelAccount, result: Result, channel: str
    ) -> None:
        seller = session.get(Seller, account.seller_id) if account.seller_id else None
        for effect in result.effects:
            if isinstance(effect, fx.SaveSeller):
                seller = save_seller(
                    session,
                    account,
                    effect.data,
                    source=channel,
                )
            elif isinstance(effect, fx.EraseMyData):
                erase_seller(session, account)
                seller = None
            elif isinstance(effect, fx.SetLocale):
                account.locale = effect.locale
                if seller is not None:
                    seller.locale = effect.locale
                    session.add(seller)
                session.add(account)
            elif isinstance(effect, fx.SetOptOut):
                account.opted_out = effect.opted_out
                session.add(account)
            elif isinstance(effect, fx.StoreReferral):
                account.referral_code = effect.code[:64]
                session.add(account)
            elif seller is None:
                log.warning("product effect without a seller on account %s", account.id)
            elif isinstance(effect, fx.SaveProduct):
                save_product(session, seller, effect.data, effect.product_id)
            elif isinstance(effect, fx.SaveProductDraft):
                save_product_draft(session, seller, effect.data, effect.product_id)
            elif isinstance(effect, fx.DeleteProduct):
                delete_product(session, seller, effect.product_id)

    def _save(
        self, session: Session, conversation: Conversation, state: State, now: datetime
    ) -> None:
        conversation.flow, conversation.step = state.flow, state.step
        conversation.draft, conversation.meta = state.draft, state.meta()
        conversation.updated_at = now
        conversation.nudges_sent = 0  # they are back: a later stall starts a new count
        conversation.version += 1
        session.add(conversation)

    @staticmethod
    def _render(renderer: Renderer, out: Outbound) -> Reply:
        return Reply(
            text=renderer.message(out),
            choices=tuple((c.id, renderer(c.label)) for c in out.choices),
            photo=out.photo,
            prompt=next((line.msgid for line in out.lines if isinstance(line, Text)), None),
            contact_button=renderer(t("button.share_contact")) if out.request_contact else None,
            location_button=renderer(t("button.share_location")) if out.request_location else None,
        )
