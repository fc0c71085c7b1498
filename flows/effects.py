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


Effect = (
    SaveSeller
    | EraseMyData
    | SetLocale
    | SaveProduct
    | SaveProductDraft
    | DeleteProduct
    | StoreReferral
    | SetOptOut
)
