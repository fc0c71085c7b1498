"""What a flow asks the host to do, as data. The host does it in one transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class SaveSeller:
    """Register (or update) the owner's shop; the host also queues `seller.upsert`."""

    data: dict[str, Any]


@dataclass(frozen=True)
class EraseMyData:
    """Erase the owner's personal data and queue `seller.delete`."""


@dataclass(frozen=True)
class SetLocale:
    locale: str


@dataclass(frozen=True)
class SaveProduct:
    """Store a confirmed product and queue `product.upsert`; `product_id` None means new."""

    data: dict[str, Any]
    product_id: int | None = None


@dataclass(frozen=True)
class SaveProductDraft:
    """Keep an unfinished product so the owner can continue it later."""

    data: dict[str, Any]
    product_id: int | None = None


@dataclass(frozen=True)
class DeleteProduct:
    product_id: int


@dataclass(frozen=True)
class SetOptOut:
    """Stop (True) or resume (False) messages the business starts: reminders, broadcasts."""

    opted_out: bool


@dataclass(frozen=True)
class StoreReferral:
    code: str


@dataclass(frozen=True)
class JoinAsFacilitator:
    """Claim a facilitator invite; the host checks the code and says how it went."""

    invite_code: str


@dataclass(frozen=True)
class RegisterForOwner:
    """A facilitator registered an owner's shop: stored unpublished until the owner agrees."""

    data: dict[str, Any]


@dataclass(frozen=True)
class ActFor:
    """A facilitator works on one of their owners' shops (None: back to their own)."""

    seller_id: int | None


@dataclass(frozen=True)
class GiveConsent:
    """The owner agreed: by answering SETUJU themselves, or through the one-time code."""

    seller_id: int
    code: str | None = None  # set when the facilitator typed the owner's code


@dataclass(frozen=True)
class DeclineConsent:
    """The owner refused the registration a facilitator made: it is erased."""

    seller_id: int


@dataclass(frozen=True)
class AskChange:
    """The owner answered a facilitator's request with a change ("setuju tp namanya ganti
    jadi Siti Romlah"): the facilitator is told what they asked, to fix it."""

    seller_id: int
    asked: str


@dataclass(frozen=True)
class CreateBroadcast:
    segment: str
    value: str | None
    text: str
    send_at: str | None  # ISO time; None sends now


@dataclass(frozen=True)
class DashboardLink:
    """An admin or facilitator asked for a sign-in link to the web dashboard (/dasbor)."""


Effect = (
    SaveSeller
    | EraseMyData
    | SetLocale
    | SaveProduct
    | SaveProductDraft
    | DeleteProduct
    | StoreReferral
    | SetOptOut
    | JoinAsFacilitator
    | RegisterForOwner
    | ActFor
    | GiveConsent
    | DeclineConsent
    | AskChange
    | CreateBroadcast
    | DashboardLink
)
