"""The runner: per message, load state, run the flow, apply effects and save, in one transaction."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, select

from bot.broadcasts import add_broadcast, audience
from bot.config import Settings
from bot.dashboard.auth import dashboard_link_reply
from bot.i18n import Renderer, pick_locale
from bot.inbox import Turn
from bot.notices import take_for_account
from bot.outgoing import Reply, queue
from bot.roles import facilitator_of, is_admin, join_reply, lead_referral
from bot.storage import consent
from bot.storage.context import OwnerContext, load_context, state_of
from bot.storage.database import Database
from bot.storage.models import (
    ChannelAccount,
    ConsentRequest,
    Conversation,
    Facilitator,
    ProcessedUpdate,
    Seller,
    utcnow,
)
from bot.storage.photos import forget_unconsented, record_uploads
from bot.storage.products import delete_product, product_snapshots, save_product, save_product_draft
from bot.storage.sellers import SellerDirectory, erase_seller, save_seller, seller_snapshot
from flows import effects as fx
from flows.engine import Env, Result, State
from flows.messages import Inbound, Outbound, Text, say, t
from flows.registration import display_phone
from flows.router import advance

log = logging.getLogger(__name__)
PROCESSED: sa.Table = ProcessedUpdate.__table__  # type: ignore[attr-defined]
_MARK_PROCESSED = PROCESSED.insert()  # built once, bound per message
CONVERSATION: sa.Table = Conversation.__table__  # type: ignore[attr-defined]
_SAVE_CONVERSATION = CONVERSATION.update().where(CONVERSATION.c.id == sa.bindparam("row_id"))
# When the person last wrote, to the minute: a message within a minute of the last one writes
# no account row (most of a chat's messages). It answers "within 24 hours?" (the WhatsApp
# window, closed up to a minute early) and sorts lists; which channel a shop's owner wrote
# on last is told by the conversation, saved with every message (`latest_account`).
SEEN_RESOLUTION = timedelta(minutes=1)
ERASED = "account.erased"  # session.info: this transaction erased the person's data
_SHOP_EFFECTS = (fx.SaveSeller, fx.SaveProduct, fx.SaveProductDraft, fx.DeleteProduct)


_CODE_OUTCOMES: dict[str, Callable[[int], Text]] = {
    "ok": lambda left: t("fac.code_ok"),
    "wrong": lambda left: t("fac.code_wrong", left=left),
    "locked": lambda left: t("fac.code_locked"),
    "expired": lambda left: t("fac.code_expired"),
    "none": lambda left: t("fac.code_none"),
}


def _facilitator_snapshot(facilitator: Facilitator | None) -> dict[str, Any] | None:
    if facilitator is None:
        return None
    return {
        "id": facilitator.id,
        "code": facilitator.code,
        "name": facilitator.name,
        "regency_code": facilitator.regency_code,
    }


def _consented(account: ChannelAccount, facilitator: Facilitator | None, state: State) -> bool:
    """Whether this person agreed to our keeping what they send (a photo before: not kept)."""
    return bool(
        account.seller_id
        or account.acting_seller_id
        or facilitator
        or state.draft.get("consent_at")
    )


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
        """Process one message outside any inbox (the console, tests): its replies."""
        return self.handle_turn(inbound) or []

    def handle_turn(
        self, inbound: Inbound, turn: Turn | None = None, reply_to: str | None = None
    ) -> list[Reply] | None:
        """Process one message and return its replies; never raises for the owner's sake.

        With a `turn` (from the inbox), the update is claimed, applied and marked processed in
        the conversation's one transaction, and with `reply_to` its replies are stored in that
        same transaction for the channel's sender. None: not this update's turn (another
        process took it, or an earlier update of the chat came in); nothing was done.
        """
        with self.locks(f"{inbound.channel}:{inbound.user_key}"):
            try:
                return self._handle(inbound, turn, reply_to)
            except Exception:
                log.exception(
                    "failed to handle message %s on %s", inbound.message_id, inbound.channel
                )
                return self.fail(inbound.channel, inbound.locale_hint, turn, reply_to)

    def fail(
        self,
        channel: str,
        locale_hint: str | None,
        turn: Turn | None = None,
        reply_to: str | None = None,
    ) -> list[Reply]:
        """The generic apology, stored and the update closed, when processing failed."""
        renderer = Renderer(pick_locale(locale_hint), self.settings.timezone)
        replies = [Reply(renderer(t("error.generic")))]
        if turn is not None or reply_to is not None:
            with self.db.session() as session:
                self._close(session, channel, turn, reply_to, replies)
        return replies

    def skip(self, turn: Turn) -> None:
        """Close an update that carries nothing to answer (an edit, a service message)."""
        with self.db.session() as session:
            turn.finish(session, self.clock())

    def _close(
        self,
        session: Session,
        channel: str,
        turn: Turn | None,
        reply_to: str | None,
        replies: list[Reply],
    ) -> None:
        if turn is not None:
            turn.finish(session, self.clock())
        if reply_to is not None:
            forget = bool(session.info.pop(ERASED, False))
            queue(
                session,
                channel,
                reply_to,
                replies,
                self.clock(),
                forget_when_sent=forget,
                claim_seconds=self.settings.outgoing_claim_seconds,
            )

    def _handle(
        self, inbound: Inbound, turn: Turn | None, reply_to: str | None
    ) -> list[Reply] | None:
        for attempt in range(3):
            try:
                with self.db.session() as session:
                    if turn is not None and not turn.claim(session):
                        return None
                    replies = self._handle_in(session, inbound)
                    self._close(session, inbound.channel, turn, reply_to, replies)
                    return replies
            except IntegrityError:
                # A concurrent first message created the same rows; the retry sees them.
                if inbound.message_id and self._already_processed(inbound):
                    if turn is not None:
                        with self.db.session() as session:
                            self._close(session, inbound.channel, turn, None, [])
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
        if inbound.message_id:  # Core: raises IntegrityError here for a second time through
            session.connection().execute(
                _MARK_PROCESSED,
                {"channel": inbound.channel, "update_id": inbound.message_id, "processed_at": now},
            )
        context = self._context(session, inbound, now)
        account, conversation = context.account, context.conversation
        linked = (
            self._link_by_phone(session, account, conversation) if context.may_link_shop() else None
        )
        facilitator = self._facilitator(session, context)
        helped = self._helped(session, account, facilitator)
        helped_gone = self._helped_gone(session, account, helped)
        record_uploads(session, account, inbound.photos)
        seller = helped or (session.get(Seller, account.seller_id) if account.seller_id else None)
        renderer = Renderer(account.locale, self.settings.timezone, self.settings.strict_messages)
        directory = SellerDirectory(session, self._audience, self.settings.timezone)
        env = Env(
            now=now,
            channel=inbound.channel,
            directory=directory,
            known_phone=account.phone,
            profile_name=inbound.profile_name or account.profile_name,
            seller=seller_snapshot(seller) if seller else None,
            products=product_snapshots(session, seller.id) if seller and seller.id else (),
            pause=timedelta(hours=self.settings.resume_after_hours),
            locale=account.locale,
            render=renderer,
            opted_out=account.opted_out,
            # government MSME data for their verified number, offered at registration
            imported=directory.imported_with_phone(account.phone)
            if not seller and account.phone and context.may_have_record()
            else None,
            is_admin=is_admin(session, self.settings, account, listed=context.listed_admin),
            facilitator=_facilitator_snapshot(facilitator),
            acting_for=seller_snapshot(helped) if helped else None,
            helped_gone=helped_gone,
            consent_request=(
                consent.pending_request_for(session, account)
                if not seller and not facilitator and context.may_have_request()
                else None
            ),
        )
        state = state_of(conversation)
        result = advance(state, inbound, env)
        outcomes = self._apply(
            session,
            account,
            result,
            inbound.channel,
            helped,
            facilitator,
            now,
            inbound.message_id,
            helped_gone=helped_gone is not None,
        )
        result.replies[:0] = outcomes
        if not _consented(account, facilitator, result.state):
            forget_unconsented(session, account, inbound.photos)
        if context.notices or result.effects:  # what this message did may have left one
            notices = take_for_account(session, account.id or 0, lock=not self.db.is_sqlite)
            result.replies[:0] = [say(text) for text in notices]
        if linked is not None:
            result.replies.insert(0, say(t("account.linked", shop=linked.shop_name or "")))
        self._save(session, conversation, result.state, now)
        if account.locale != renderer.locale:
            renderer = Renderer(
                account.locale, self.settings.timezone, self.settings.strict_messages
            )
        return [self._render(renderer, out) for out in result.replies]

    def _context(self, session: Session, inbound: Inbound, now: datetime) -> OwnerContext:
        """The person's account and conversation, with this message's news on the account."""
        locking = not self.db.is_sqlite
        context = load_context(session, inbound.channel, inbound.user_key, lock=locking)
        if context is not None:
            self._note_inbound(context.account, inbound, now)
            if locking:
                context.notices = True  # may have come in meanwhile (see load_context)
            return context
        account = self._account(session, inbound, now)
        return OwnerContext(account, self._conversation(session, account, now))

    @staticmethod
    def _facilitator(session: Session, context: OwnerContext) -> Facilitator | None:
        if not context.known:  # a new person: nothing was read for them yet
            return facilitator_of(session, context.account)
        if context.facilitator_id is None:
            return None
        return session.get(Facilitator, context.facilitator_id)

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
        self._note_inbound(account, inbound, now)
        session.add(account)
        session.flush()
        return account

    @staticmethod
    def _note_inbound(account: ChannelAccount, inbound: Inbound, now: datetime) -> None:
        # set only when changed: a set attribute, even to the same value, costs a flush
        if inbound.sender_phone and account.phone != inbound.sender_phone:
            account.phone = inbound.sender_phone
        if inbound.profile_name and account.profile_name != inbound.profile_name[:100]:
            account.profile_name = inbound.profile_name[:100]
        seen = account.last_inbound_at
        if seen is None or not timedelta(0) <= now - seen < SEEN_RESOLUTION:
            account.last_inbound_at = now

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
        if seller is None or consent.owner_not_yet_told(session, seller.id or 0):
            return None  # the consent flow links them, with its thanks
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

    def _audience(self, session: Session, segment: str, value: str | None) -> tuple[int, float]:
        return audience(session, segment, value, self.settings)

    def _helped(
        self, session: Session, account: ChannelAccount, facilitator: Facilitator | None
    ) -> Seller | None:
        """The owner's shop a facilitator is working on, if it is still theirs to work on."""
        if facilitator is None or not account.acting_seller_id:
            return None
        # Locked (PostgreSQL): an owner's TOLAK or /hapus_data at the same moment is seen
        # here, or waits for what the facilitator saves now and erases it after.
        locking = not self.db.is_sqlite
        seller = session.get(
            Seller,
            account.acting_seller_id,
            with_for_update=True if locking else None,  # None: from the session if loaded
            populate_existing=locking,
        )
        if seller is None or seller.facilitator_code != facilitator.code:
            return None
        return seller if seller.status in ("active", "awaiting_consent") else None

    @staticmethod
    def _helped_gone(
        session: Session, account: ChannelAccount, helped: Seller | None
    ) -> str | None:
        """Why the shop this account was helping is no longer theirs to work on (its owner
        refused it, or erased their data; or it is not their owner's any more), once: what
        they were doing for it is dropped (never saved as their own shop) and they are told.
        """
        if not account.acting_seller_id or helped is not None:
            return None
        seller = session.get(Seller, account.acting_seller_id)
        account.acting_seller_id = None
        session.add(account)
        if seller is None or seller.status != "erased":
            return "unavailable"
        refused = session.exec(
            select(ConsentRequest.id).where(
                ConsentRequest.seller_id == seller.id, ConsentRequest.status == "declined"
            )
        ).first()
        return "refused" if refused is not None else "erased"

    def _apply(
        self,
        session: Session,
        account: ChannelAccount,
        result: Result,
        channel: str,
        helped: Seller | None,
        facilitator: Facilitator | None,
        now: datetime,
        message_id: str | None = None,
        helped_gone: bool = False,
    ) -> list[Outbound]:
        """Carry out the effects; replies for what only the host can judge (codes, invites).

        `helped_gone`: the shop this facilitator was helping is gone; a shop or product
        effect (the flows end that work, this is the last guard) is for it, never for the
        facilitator's own shop, and is dropped unless they picked another shop meanwhile.
        """
        seller = helped or (session.get(Seller, account.seller_id) if account.seller_id else None)
        said: list[Outbound] = []
        for effect in result.effects:
            if helped_gone and isinstance(effect, _SHOP_EFFECTS):
                log.warning("shop effect for a helped shop that is gone, account %s", account.id)
            elif isinstance(effect, fx.SaveSeller):
                seller = self._save_seller(
                    session, account, effect.data, channel, helped, now, said
                )
            elif isinstance(effect, fx.JoinAsFacilitator | fx.RegisterForOwner | fx.ActFor):
                helped = self._apply_facilitator(session, account, effect, facilitator, now, said)
                seller = helped or seller
                helped_gone = helped_gone and helped is None
            elif isinstance(effect, fx.AskChange):
                consent.ask_change(session, account, effect.seller_id, effect.asked)
            elif isinstance(effect, fx.GiveConsent | fx.DeclineConsent):
                owned = self._apply_consent(session, account, effect, facilitator, now, said)
                seller = owned or seller
            elif isinstance(effect, fx.CreateBroadcast):
                self._apply_broadcast(session, account, effect, now, said)
            elif isinstance(effect, fx.DashboardLink):
                said.append(say(dashboard_link_reply(session, self.settings, account, now)))
            elif isinstance(effect, fx.EraseMyData):
                photos = erase_seller(session, account, current=message_id)
                session.info[ERASED] = True  # the reply to it is forgotten once sent
                erased = t("account.erased_photos", count=photos) if photos else None
                said.append(say(erased or t("account.erased_data")))
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
                account.referral_code = (
                    lead_referral(session, account, effect.code) or account.referral_code
                )
                session.add(account)
            elif seller is None:
                log.warning("product effect without a seller on account %s", account.id)
            elif isinstance(effect, fx.SaveProduct):
                save_product(session, seller, effect.data, effect.product_id)
            elif isinstance(effect, fx.SaveProductDraft):
                save_product_draft(session, seller, effect.data, effect.product_id)
            elif isinstance(effect, fx.DeleteProduct):
                delete_product(session, seller, effect.product_id)
        return said

    def _save_seller(
        self,
        session: Session,
        account: ChannelAccount,
        data: dict[str, Any],
        channel: str,
        helped: Seller | None,
        now: datetime,
        said: list[Outbound],
    ) -> Seller:
        """Save the shop; a facilitator's change of a helped shop's number follows its rules.

        A live shop's number is its owner's to change (the flow refuses it too). A shop still
        awaiting consent gets its request moved to the corrected number, the old one's
        withdrawn: whoever has the mistyped number must not see or accept it.
        """
        old_phone = helped.phone if helped is not None else None
        if helped is not None and helped.status == "active":
            data = {k: v for k, v in data.items() if k not in ("phone", "phone_verified")}
        seller = save_seller(session, account, data, source=channel, helped=helped)
        if helped is None or seller.status != "awaiting_consent" or seller.phone == old_phone:
            return seller
        seller.phone_verified = False  # typed by the facilitator: the owner's answer proves it
        session.add(seller)
        moved = consent.readdress(
            session,
            seller,
            old_phone or "",
            now,
            timedelta(hours=self.settings.consent_code_hours),
            whatsapp_enabled=bool(self.settings.twilio_account_sid),
        )
        if moved:
            phone = display_phone(seller.phone or "")
            said.append(say(t("fac.request_moved", shop=seller.shop_name or "-", phone=phone)))
        return seller

    def _apply_facilitator(
        self,
        session: Session,
        account: ChannelAccount,
        effect: fx.JoinAsFacilitator | fx.RegisterForOwner | fx.ActFor,
        facilitator: Facilitator | None,
        now: datetime,
        said: list[Outbound],
    ) -> Seller | None:
        """Facilitator actions; the role is checked here, not only in the flows."""
        if isinstance(effect, fx.JoinAsFacilitator):
            said.append(say(join_reply(session, account, effect.invite_code, now)))
            return None
        if facilitator is None:
            log.warning("facilitator action by a non-facilitator, account %s", account.id)
            said.append(say(t("role.facilitator_only")))
            return None
        if isinstance(effect, fx.ActFor):
            target = session.get(Seller, effect.seller_id) if effect.seller_id else None
            if target is not None and target.facilitator_code != facilitator.code:
                said.append(say(t("role.not_your_owner")))
                target = None
            account.acting_seller_id = target.id if target else None
            session.add(account)
            return target
        registered = consent.register_for_owner(
            session,
            facilitator,
            effect.data,
            now,
            timedelta(hours=self.settings.consent_code_hours),
            whatsapp_enabled=bool(self.settings.twilio_account_sid),
        )
        account.acting_seller_id = registered.seller.id
        session.add(account)
        return registered.seller

    def _apply_consent(
        self,
        session: Session,
        account: ChannelAccount,
        effect: fx.GiveConsent | fx.DeclineConsent,
        facilitator: Facilitator | None,
        now: datetime,
        said: list[Outbound],
    ) -> Seller | None:
        if isinstance(effect, fx.DeclineConsent):
            if not consent.decline(session, account, effect.seller_id, now):
                said.append(say(t("consent.not_found")))
            return None
        if effect.code is None:
            seller = consent.agree_as_owner(session, account, effect.seller_id, now)
            if seller is None:
                said.append(say(t("consent.not_found")))
            return seller
        if facilitator is None:
            said.append(say(t("role.facilitator_only")))
            return None
        outcome, left = consent.agree_by_code(
            session, facilitator, effect.seller_id, effect.code, now
        )
        said.append(say(_CODE_OUTCOMES[outcome](left)))
        return None

    def _apply_broadcast(
        self,
        session: Session,
        account: ChannelAccount,
        effect: fx.CreateBroadcast,
        now: datetime,
        said: list[Outbound],
    ) -> None:
        if not is_admin(session, self.settings, account):
            log.warning("broadcast by a non-admin, account %s", account.id)
            said.append(say(t("role.admin_only")))
            return
        send_at = datetime.fromisoformat(effect.send_at) if effect.send_at else now
        add_broadcast(session, effect.segment, effect.text, effect.value, send_at)

    def _save(
        self, session: Session, conversation: Conversation, state: State, now: datetime
    ) -> None:
        values = {
            "flow": state.flow,
            "step": state.step,
            "draft": state.draft,
            "meta": state.meta(),
            "updated_at": now,
            "nudges_sent": 0,  # they are back: a later stall starts a new count
            "version": conversation.version + 1,
        }
        # Core, once per message: the ORM's unit of work cost several times the UPDATE. The
        # loaded object is told the new values as the stored ones, so nothing flushes twice.
        session.connection().execute(_SAVE_CONVERSATION, {"row_id": conversation.id, **values})
        for name, value in values.items():
            set_committed_value(conversation, name, value)

    @staticmethod
    def _render(renderer: Renderer, out: Outbound) -> Reply:
        return Reply(
            text=renderer.message(out),
            choices=tuple((c.id, renderer(c.label)) for c in out.choices),
            photo=out.photo,
            prompt=next((line.msgid for line in out.lines if isinstance(line, Text)), None),
            contact_button=renderer(t("button.share_contact")) if out.request_contact else None,
            location_button=renderer(t("button.share_location")) if out.request_location else None,
            msgids=tuple(line.msgid for line in out.lines if isinstance(line, Text)),
        )
