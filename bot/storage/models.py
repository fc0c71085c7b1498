"""SQLModel tables. Money is whole Rupiah, weight whole grams, times UTC."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def partial_index(name: str, *columns: str, where: str) -> sa.Index:
    """An index over the rows that match `where` only (what waits, not all history), with
    the same condition on SQLite and PostgreSQL."""
    return sa.Index(name, *columns, postgresql_where=sa.text(where), sqlite_where=sa.text(where))


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always gives back an aware datetime, on SQLite and PostgreSQL."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _when(**kw: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kw)


def _json(**kw: Any) -> Any:
    return Field(sa_type=sa.JSON, **kw)


def new_ref(prefix: str) -> str:
    """A stable external id, never reused: 'S_x1y2...'."""
    return f"{prefix}_{secrets.token_urlsafe(12).replace('-', 'a').replace('_', 'b')}"


LIVE_SELLER = "status IN ('active', 'awaiting_consent')"


class Seller(SQLModel, table=True):
    # the dashboard's lists and filters (migration 0011)
    __table_args__ = (
        sa.Index("ix_seller_status_registered_at", "status", "registered_at"),
        sa.Index("ix_seller_facilitator_code", "facilitator_code"),
        # one number, one shop: the flows check it, and this holds when two processes save
        # the same number at one moment (the loser's retry meets the flows' check; 0017)
        sa.Index(
            "ux_seller_live_phone",
            "phone",
            unique=True,
            postgresql_where=sa.text(LIVE_SELLER),
            sqlite_where=sa.text(LIVE_SELLER),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(default_factory=lambda: new_ref("S"), unique=True, max_length=64)
    status: str = Field(default="active", max_length=16)  # active | awaiting_consent | erased
    owner_name: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, index=True, max_length=20)
    phone_verified: bool = False
    shop_name: str | None = Field(default=None, max_length=60)
    shop_name_key: str | None = Field(default=None, unique=True, max_length=60)
    category: str | None = Field(default=None, max_length=40)
    province_code: str | None = Field(default=None, max_length=2)
    regency_code: str | None = Field(default=None, index=True, max_length=4)
    district_code: str | None = Field(default=None, max_length=6)
    address: str | None = Field(default=None, max_length=300)
    latitude: float | None = None
    longitude: float | None = None
    nib: str | None = Field(default=None, max_length=13)
    locale: str = Field(default="id", max_length=8)
    source: str = Field(default="telegram", max_length=16)
    referral_code: str | None = Field(default=None, max_length=64)
    facilitator_code: str | None = Field(default=None, max_length=64)
    consent_version: str | None = Field(default=None, max_length=32)
    consent_at: datetime | None = _when(default=None)
    registered_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)
    erased_at: datetime | None = _when(default=None)
    marketplace_id: str | None = Field(default=None, max_length=128)
    marketplace_url: str | None = Field(default=None, max_length=500)


class ChannelAccount(SQLModel, table=True):
    __tablename__ = "channel_account"
    __table_args__ = (sa.UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # telegram | whatsapp | console
    external_id: str = Field(max_length=64)
    seller_id: int | None = Field(default=None, foreign_key="seller.id", index=True)
    phone: str | None = Field(default=None, index=True, max_length=20)  # known to the channel
    profile_name: str | None = Field(default=None, max_length=100)
    locale: str = Field(default="id", max_length=8)
    referral_code: str | None = Field(default=None, max_length=64)
    opted_out: bool = False
    # A facilitator working on an owner's shop: products they add go to that seller.
    acting_seller_id: int | None = Field(default=None, foreign_key="seller.id")
    last_inbound_at: datetime | None = _when(default=None)
    created_at: datetime = _when(default_factory=utcnow)


class Conversation(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="channel_account.id", unique=True)
    flow: str | None = Field(default=None, max_length=32)
    step: str | None = Field(default=None, max_length=32)
    draft: dict[str, Any] = _json(default_factory=dict)
    meta: dict[str, Any] = _json(default_factory=dict)
    version: int = 0
    updated_at: datetime = _when(default_factory=utcnow)
    nudges_sent: int = 0


class Product(SQLModel, table=True):
    # the dashboard's lists and filters (migration 0011)
    __table_args__ = (
        sa.Index("ix_product_seller_id_status", "seller_id", "status"),
        sa.Index("ix_product_status_updated_at", "status", "updated_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    ref: str = Field(default_factory=lambda: new_ref("P"), unique=True, max_length=64)
    seller_id: int = Field(foreign_key="seller.id", index=True)
    status: str = Field(default="draft", max_length=16)  # draft|pending|live|needs_fix|deleted
    name: str | None = Field(default=None, max_length=70)
    category: str | None = Field(default=None, max_length=40)
    price: int | None = None
    stock: int | None = None
    min_order: int = 1
    weight_grams: int | None = None
    condition: str | None = Field(default=None, max_length=8)
    description: str | None = Field(default=None, max_length=2000)
    photos: list[dict[str, Any]] = _json(default_factory=list)
    reason: str | None = Field(default=None, max_length=500)
    url: str | None = Field(default=None, max_length=500)
    marketplace_id: str | None = Field(default=None, max_length=128)
    version: int = 0
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Photo(SQLModel, table=True):
    sha256: str = Field(primary_key=True, max_length=64)
    width: int
    height: int
    size_bytes: int
    created_at: datetime = _when(default_factory=utcnow)


class PhotoUpload(SQLModel, table=True):
    """Who sent which photo, so erasing an owner's data finds every photo they sent.

    One photo (by content) may be sent by several accounts: it stays while anyone else has it.
    """

    __tablename__ = "photo_upload"
    __table_args__ = (sa.UniqueConstraint("account_id", "sha256"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="channel_account.id")
    sha256: str = Field(foreign_key="photo.sha256", index=True, max_length=64)
    # The shop it was sent for: the sender's own, or the owner's a facilitator works for.
    seller_id: int | None = Field(default=None, foreign_key="seller.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)


class OutboxEvent(SQLModel, table=True):
    __tablename__ = "outbox_event"
    # The claim's "an earlier event of this seller is pending" looks at the pending ones
    # only, not at the seller's whole history (migration 0015).
    __table_args__ = (
        partial_index(
            "ix_outbox_event_pending_seller", "seller_id", "id", where="state = 'pending'"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)  # seller.upsert | seller.delete | product.upsert | ...
    aggregate_ref: str = Field(index=True, max_length=64)
    seller_id: int | None = Field(default=None, index=True)
    payload: dict[str, Any] = _json(default_factory=dict)
    idempotency_key: str = Field(default_factory=lambda: new_ref("E"), unique=True, max_length=128)
    state: str = Field(
        default="pending", index=True, max_length=16
    )  # pending|done|failed|superseded
    attempts: int = 0
    available_at: datetime = _when(default_factory=utcnow)
    last_error: str | None = Field(default=None, max_length=2000)
    claimed_until: datetime | None = _when(default=None)  # a worker's lease while pushing
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Notice(SQLModel, table=True):
    """A message for an owner that the business starts (sync results, later reminders).

    Written in the same transaction as what it reports; each channel delivers its own.
    """

    # An owner's notices still to be told, read on every message (migration 0015).
    __table_args__ = (partial_index("ix_notice_unsent", "account_id", where="sent_at IS NULL"),)

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="channel_account.id", index=True)
    msgid: str = Field(max_length=100)
    params: dict[str, Any] = _json(default_factory=dict)
    created_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(default=None, index=True)
    status: str | None = Field(default=None, max_length=32)  # sent | template | not_sent_*


class OutboundMessage(SQLModel, table=True):
    """A message we sent through Twilio and the delivery status Twilio reported for it."""

    __tablename__ = "outbound_message"

    id: int | None = Field(default=None, primary_key=True)
    sid: str = Field(unique=True, max_length=64)
    account_id: int | None = Field(default=None, foreign_key="channel_account.id", index=True)
    status: str = Field(default="queued", max_length=16)
    error_code: str | None = Field(default=None, max_length=16)
    created_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class ProcessedUpdate(SQLModel, table=True):
    __tablename__ = "processed_update"
    __table_args__ = (sa.UniqueConstraint("channel", "update_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    update_id: str = Field(max_length=128)
    processed_at: datetime = _when(default_factory=utcnow)


class InboundUpdate(SQLModel, table=True):
    """A platform update stored before it is acknowledged, so none is lost in a crash."""

    __tablename__ = "inbound_update"
    __table_args__ = (
        sa.UniqueConstraint("channel", "update_id"),
        # The rows stay (scrubbed) so redeliveries are dropped: every read on the hot path goes
        # through an index that does not grow with them. The waiting updates of a chat, in
        # order (the drain, the claim, the watch), hold only what is not processed yet.
        partial_index(
            "ix_inbound_update_waiting", "channel", "chat_key", "seq", where="processed_at IS NULL"
        ),
        # What was stored between two update numbers (Telegram's order across processes).
        sa.Index("ix_inbound_update_channel_seq", "channel", "seq"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    update_id: str = Field(max_length=128)
    seq: int = Field(sa_type=sa.BigInteger)  # the platform's order (Telegram update_id)
    chat_key: str = Field(index=True, max_length=64)
    group_key: str | None = Field(default=None, max_length=128)  # album (media_group_id)
    payload: dict[str, Any] = _json(default_factory=dict)
    received_at: datetime = _when(default_factory=utcnow)
    processed_at: datetime | None = _when(default=None, index=True)
    attempts: int = 0


class UmkmRecord(SQLModel, table=True):
    """A business from government MSME data (Disperindag), matched to owners by phone."""

    __tablename__ = "umkm_record"

    id: int | None = Field(default=None, primary_key=True)
    row_key: str = Field(unique=True, max_length=128)  # phone, else business + regency
    phone: str | None = Field(default=None, index=True, max_length=20)
    owner_name: str = Field(max_length=100)
    business_name: str = Field(max_length=100)
    province_code: str = Field(max_length=2)
    regency_code: str = Field(index=True, max_length=4)
    district_code: str | None = Field(default=None, max_length=6)
    address: str | None = Field(default=None, max_length=300)
    category: str | None = Field(default=None, max_length=40)
    nib: str | None = Field(default=None, max_length=13)
    source_file: str = Field(max_length=200)
    facilitator_id: int | None = Field(default=None, foreign_key="facilitator.id", index=True)
    imported_at: datetime = _when(default_factory=utcnow)
    updated_at: datetime = _when(default_factory=utcnow)


class Broadcast(SQLModel, table=True):
    """A message from admins to a segment of owners, now or at a set time."""

    id: int | None = Field(default=None, primary_key=True)
    text: str = Field(max_length=4000)
    segment: str = Field(max_length=32)  # everyone | no_product | stalled | regency | ...
    segment_value: str | None = Field(default=None, max_length=64)
    status: str = Field(default="scheduled", max_length=16)  # scheduled | sending | done
    send_at: datetime = _when(default_factory=utcnow)
    created_at: datetime = _when(default_factory=utcnow)
    finished_at: datetime | None = _when(default=None)


class BroadcastDelivery(SQLModel, table=True):
    """One recipient of one broadcast: sent at most once, so a restart resumes safely."""

    __tablename__ = "broadcast_delivery"
    __table_args__ = (sa.UniqueConstraint("broadcast_id", "account_id"),)

    id: int | None = Field(default=None, primary_key=True)
    broadcast_id: int = Field(foreign_key="broadcast.id", index=True)
    account_id: int = Field(foreign_key="channel_account.id")
    channel: str = Field(max_length=16)
    status: str = Field(default="pending", index=True, max_length=32)
    # pending | claimed | sending | sent | skipped_opted_out | failed | unknown (cut off mid-send)
    error: str | None = Field(default=None, max_length=500)
    sent_at: datetime | None = _when(default=None)


class Facilitator(SQLModel, table=True):
    """A pendamping: joins with a one-time invite code, then registers owners in person."""

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(unique=True, max_length=32)  # public, travels with their sellers
    name: str = Field(max_length=100)
    regency_code: str = Field(index=True, max_length=4)
    invite_code: str = Field(unique=True, max_length=64)
    account_id: int | None = Field(default=None, foreign_key="channel_account.id", index=True)
    created_at: datetime = _when(default_factory=utcnow)
    joined_at: datetime | None = _when(default=None)


class Admin(SQLModel, table=True):
    """Someone allowed to broadcast, besides ADMIN_TELEGRAM_IDS / ADMIN_WHATSAPP_NUMBERS."""

    __table_args__ = (sa.UniqueConstraint("channel", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)  # Telegram user id, or WhatsApp number (E.164)
    added_at: datetime = _when(default_factory=utcnow)


class ConsentRequest(SQLModel, table=True):
    """A facilitator registered a shop; its owner has to agree before anything is published."""

    __tablename__ = "consent_request"

    id: int | None = Field(default=None, primary_key=True)
    seller_id: int = Field(foreign_key="seller.id", unique=True)
    facilitator_id: int = Field(foreign_key="facilitator.id", index=True)
    phone: str = Field(index=True, max_length=20)  # the owner's number
    code_hash: str = Field(max_length=64)  # the one-time code sent to the owner, hashed
    attempts: int = 0  # wrong codes typed by the facilitator
    status: str = Field(default="pending", max_length=16)  # pending | given | declined
    via: str | None = Field(default=None, max_length=16)  # owner (SETUJU) | code
    created_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when(default_factory=utcnow)
    answered_at: datetime | None = _when(default=None)


class OutgoingMessage(SQLModel, table=True):
    """A reply stored with the state that produced it, sent from here in order per chat.

    A crash between the commit and the send delays it; a sender that dies mid-send leaves a
    claim that expires, and another sender takes the chat over.
    """

    __tablename__ = "outgoing_message"
    __table_args__ = (
        sa.Index("ix_outgoing_message_chat", "channel", "chat_key", "sent_at"),
        # The chats with replies waiting (every process's watch, every few seconds): the
        # unsent ones only, not the day of sent replies kept (migration 0015).
        partial_index("ix_outgoing_message_unsent", "channel", "chat_key", where="sent_at IS NULL"),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)
    chat_key: str = Field(max_length=64)  # Telegram chat id, WhatsApp E.164 number
    payload: dict[str, Any] = _json(default_factory=dict)  # the rendered reply
    created_at: datetime = _when(default_factory=utcnow)
    sent_at: datetime | None = _when(default=None, index=True)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = _when(default=None)
    attempts: int = 0
    outcome: str | None = Field(default=None, max_length=32)  # sent | failed
    forget_when_sent: bool = False  # the answer to an erasure: deleted once sent


class Leadership(SQLModel, table=True):
    """Who runs the once-per-deployment work (scheduler, broadcasts); SQLite keeps it here."""

    __tablename__ = "leadership"

    name: str = Field(primary_key=True, max_length=32)
    holder: str = Field(max_length=64)
    expires_at: datetime = _when()


class InviteAttempt(SQLModel, table=True):
    """A wrong facilitator invite code typed by an account: too many in an hour lock it."""

    __tablename__ = "invite_attempt"

    id: int | None = Field(default=None, primary_key=True)
    account_id: int = Field(foreign_key="channel_account.id", index=True)
    at: datetime = _when(default_factory=utcnow)


class DashboardLink(SQLModel, table=True):
    """A sign-in link for the web dashboard: single use, short-lived, stored only hashed."""

    __tablename__ = "dashboard_link"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    role: str = Field(max_length=16)  # admin | facilitator
    channel: str = Field(max_length=16)  # who asked: telegram | whatsapp | console
    external_id: str = Field(max_length=64)
    facilitator_id: int | None = Field(default=None, foreign_key="facilitator.id")
    created_at: datetime = _when(default_factory=utcnow)
    expires_at: datetime = _when()
    used_at: datetime | None = _when(default=None)


class DashboardSession(SQLModel, table=True):
    """A signed-in browser: the cookie carries the token, the table only its hash."""

    __tablename__ = "dashboard_session"

    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)
    csrf: str = Field(max_length=64)
    role: str = Field(max_length=16)
    channel: str = Field(max_length=16)
    external_id: str = Field(max_length=64)
    facilitator_id: int | None = Field(default=None, foreign_key="facilitator.id")
    locale: str = Field(default="id", max_length=8)
    created_at: datetime = _when(default_factory=utcnow)
    last_seen_at: datetime = _when(default_factory=utcnow)
    ended_at: datetime | None = _when(default=None)


class DashboardKey(SQLModel, table=True):
    """The key cookies are signed with when DASHBOARD_SECRET is not set (one per deployment)."""

    __tablename__ = "dashboard_key"

    name: str = Field(primary_key=True, max_length=32)
    value: str = Field(max_length=128)
    created_at: datetime = _when(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Who did what on the dashboard: sign-ins, retries, broadcasts, invites, phone reveals."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(default_factory=utcnow, index=True)
    actor: str = Field(max_length=100)  # "admin telegram:123", "facilitator PDP-3515-001"
    action: str = Field(max_length=32)
    target: str | None = Field(default=None, max_length=100)
    detail: dict[str, Any] = _json(default_factory=dict)


# --- what the marketplace reports back (contract v1.1, webhooks.marketplaceEvents) ---------


class MarketplaceEvent(SQLModel, table=True):
    """One event id the marketplace sent us: a redelivery of the same id is counted once.

    The payload is kept only for events about a product we do not know (reported to admins).
    """

    __tablename__ = "marketplace_event"
    __table_args__ = (
        # only the few events about products we do not know (`pelapak unggulan unknown`)
        sa.Index(
            "ix_marketplace_event_unknown",
            "product_ref",
            "type",
            postgresql_where=sa.text("unknown_product"),
            sqlite_where=sa.text("unknown_product = 1"),
        ),
    )

    event_id: str = Field(primary_key=True, max_length=128)
    type: str = Field(max_length=16)  # product.status | product.stats
    product_ref: str = Field(max_length=64)
    occurred_at: datetime = _when()
    received_at: datetime = _when(default_factory=utcnow)
    unknown_product: bool = False
    payload: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)


class ProductStats(SQLModel, table=True):
    """A product's figures for one period (a day or a week, WIB); a correction replaces them.

    The row holds the figures of the event with the latest (occurred_at, event_id). Keyed by
    product and period: no surrogate id (an index entry and a sequence per row, read by nothing).
    """

    __tablename__ = "product_stats"
    __table_args__ = (sa.Index("ix_product_stats_product_period", "product_id", "period_start"),)

    product_ref: str = Field(primary_key=True, max_length=64)
    product_id: int | None = None  # None: a product we do not know (kept, reported)
    period_start: date = Field(primary_key=True, sa_type=sa.Date)
    period_end: date = Field(primary_key=True, sa_type=sa.Date)
    views: int = 0
    orders: int = 0
    units_sold: int = 0
    revenue: int = Field(default=0, sa_type=sa.BigInteger)  # whole Rupiah
    ratings_count: int = 0
    ratings_sum: int = 0
    returns: int = 0
    occurred_at: datetime = _when()
    event_id: str = Field(max_length=128)


class ListingStatus(SQLModel, table=True):
    """The marketplace's latest word on a listing: the event with the latest occurred_at."""

    __tablename__ = "listing_status"

    product_ref: str = Field(primary_key=True, max_length=64)
    product_id: int | None = None
    status: str = Field(max_length=16)  # live | pending_review | rejected | delisted
    url: str | None = Field(default=None, max_length=500)
    reasons: list[str] = _json(default_factory=list)
    occurred_at: datetime = _when()
    event_id: str = Field(max_length=128)


class SalesDigest(SQLModel, table=True):
    """The weekly sales digest queued for a seller: at most one per week."""

    __tablename__ = "sales_digest"
    __table_args__ = (sa.UniqueConstraint("seller_id", "week"),)

    id: int | None = Field(default=None, primary_key=True)
    seller_id: int = Field(index=True)
    week: date = Field(sa_type=sa.Date)  # the Monday (WIB) of the week it reports
    created_at: datetime = _when(default_factory=utcnow)


class ProdukUnggulan(SQLModel, table=True):
    """An admin's decision on a candidate: confirmed products are that regency's and month's."""

    __tablename__ = "produk_unggulan"
    __table_args__ = (sa.UniqueConstraint("product_ref", "month"),)

    id: int | None = Field(default=None, primary_key=True)
    product_ref: str = Field(max_length=64)
    product_id: int | None = Field(default=None, index=True)
    month: str = Field(max_length=7)  # YYYY-MM
    regency_code: str = Field(max_length=4)
    category: str = Field(max_length=40)
    status: str = Field(max_length=16)  # confirmed | declined
    note: str | None = Field(default=None, max_length=500)
    score: float = 0.0
    parts: dict[str, Any] = _json(default_factory=dict)  # the figures and percentiles then
    decided_at: datetime = _when(default_factory=utcnow)
    decided_by: str | None = Field(default=None, max_length=100)  # the audit log's actor, or "cli"
    congratulated_at: datetime | None = _when(default=None)
