"""What one message needs to know about the person who sent it, read in one statement.

Every message needs the person's account and conversation, and whether they are a
facilitator, a listed admin, or have notices waiting; until they have a shop, also whether
their number has a registration waiting for their answer, a shop to link, or a government
record to offer. Asked one by one these were six to nine statements per message (and the
statement building with them). Here they are one, built once per process, and what is rare
(a facilitator, notices, a request) comes back as a flag, so the lookup behind it runs only
when there is something to find.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col

from bot.storage.models import (
    Admin,
    ChannelAccount,
    ConsentRequest,
    Conversation,
    Facilitator,
    Notice,
    Seller,
    UmkmRecord,
)
from flows.state import State

_CONTEXT = (
    sa.select(
        ChannelAccount,
        Conversation,
        sa.select(col(Facilitator.id))
        .where(col(Facilitator.account_id) == col(ChannelAccount.id))
        .order_by(col(Facilitator.id))
        .limit(1)
        .scalar_subquery()
        .label("facilitator_id"),
        sa.exists()
        .where(
            col(Admin.channel) == col(ChannelAccount.channel),
            col(Admin.external_id) == col(ChannelAccount.external_id),
        )
        .label("listed_admin"),
        sa.exists()
        .where(col(Notice.account_id) == col(ChannelAccount.id), col(Notice.sent_at).is_(None))
        .label("notices"),
        sa.exists()
        .where(col(ConsentRequest.phone) == col(ChannelAccount.phone))
        .label("consent_request"),
        sa.exists()
        .where(
            col(Seller.phone) == col(ChannelAccount.phone),
            col(Seller.status) == "active",
            col(Seller.phone_verified).is_(True),
        )
        .label("verified_shop"),
        sa.exists().where(col(UmkmRecord.phone) == col(ChannelAccount.phone)).label("imported"),
    )
    .join(Conversation, col(Conversation.account_id) == col(ChannelAccount.id))
    .where(
        col(ChannelAccount.channel) == sa.bindparam("channel"),
        col(ChannelAccount.external_id) == sa.bindparam("external_id"),
    )
)

# PostgreSQL: the account's and the conversation's rows locked by the same read, in that
# order (the order every other writer of both uses); a row another transaction changed is
# read again as it is once it is ours (populate_existing: even if the session held it).
# FOR NO KEY UPDATE, the lock an UPDATE takes: FOR UPDATE would also hold off every insert
# whose foreign key points at the account (a notice, a photo upload...), and deadlocked
# with a consent answer that held the consent request this message wanted, then inserted a
# notice for the account.
_CONTEXT_LOCKED = _CONTEXT.with_for_update(
    of=[ChannelAccount, Conversation], key_share=True
).execution_options(populate_existing=True)


@dataclass
class OwnerContext:
    """The account and conversation (loaded into the session), and what may be worth a look.

    Every `may_...` answer is True when unsure: for a new account, and, for what hangs on the
    number, when this message brought a number other than the one the flags were read for.
    """

    account: ChannelAccount
    conversation: Conversation
    facilitator_id: int | None = None
    listed_admin: bool | None = None  # None: not read, ask
    notices: bool = True
    phone: str | None = None  # the number the flags below were read for
    consent_request: bool = True
    verified_shop: bool = True
    imported: bool = True
    known: bool = False  # read by `load_context`, not made for a new person

    def may_have_request(self) -> bool:
        return self._about_phone(self.consent_request)

    def may_link_shop(self) -> bool:
        return self._about_phone(self.verified_shop)

    def may_have_record(self) -> bool:
        return self._about_phone(self.imported)

    def _about_phone(self, flag: bool) -> bool:
        return not self.known or self.phone != self.account.phone or flag


def load_context(
    session: Session, channel: str, external_id: str, lock: bool = False
) -> OwnerContext | None:
    """The person's context, or None when they have no account (or no conversation) yet.

    On SQLite every writer runs alone from BEGIN IMMEDIATE on, so the flags stay true for the
    whole transaction, and no `lock` is needed. On PostgreSQL (`lock`) the same read locks
    the account and the conversation; the flags come from the read's snapshot, so the caller
    does not trust `notices`, which the reminder job writes together with the conversation
    it locks."""
    statement = _CONTEXT_LOCKED if lock else _CONTEXT
    row = session.execute(statement, {"channel": channel, "external_id": external_id}).first()
    if row is None:
        return None
    account, conversation, facilitator_id, admin, notices, request, shop, imported = row
    return OwnerContext(
        account=account,
        conversation=conversation,
        facilitator_id=facilitator_id,
        listed_admin=bool(admin),
        notices=bool(notices),
        phone=account.phone,
        consent_request=bool(request),
        verified_shop=bool(shop),
        imported=bool(imported),
        known=True,
    )


def state_of(conversation: Conversation) -> State:
    """The flows' state a stored conversation holds."""
    return State.load(
        conversation.flow,
        conversation.step,
        conversation.draft,
        conversation.meta,
        conversation.updated_at,
    )
