"""Plain values that flows and channels share: what comes in, what goes out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Money:
    """An amount of Rupiah, formatted for the reader's locale when rendered."""

    rupiah: int


@dataclass(frozen=True)
class Grams:
    """A weight, shown as grams or kilograms when rendered."""

    grams: int


@dataclass(frozen=True)
class When:
    """A moment, shown as a date (and time) in the user's time zone when rendered."""

    at: datetime | str  # ISO 8601 when it comes from stored JSON


@dataclass(frozen=True)
class Text:
    """A message id from the catalog with its named parameters.

    Parameters may themselves be `Text` (translated first), `Money`, `Grams`, `When`,
    or plain str / int.
    """

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)


def t(msgid: str, **params: Any) -> Text:
    """Mark a catalog message id (extracted by Babel) with its parameters."""
    return Text(msgid, params)


def label_to_json(label: Text | str) -> Any:
    """A label as stored in the conversation's JSON (catalog texts keep their id)."""
    if isinstance(label, Text):
        return {"msgid": label.msgid, "params": dict(label.params)}
    return label


def label_from_json(data: Any) -> Text | str:
    if isinstance(data, dict):
        return Text(data["msgid"], dict(data.get("params") or {}))
    return str(data)


def shortened(text: str, limit: int) -> str:
    """At most `limit` characters, cut between words and ended with "…" when cut: a button's
    label "Keripik Tempe Pedas Daun…", never "Keripik Tempe Pedas Daun Jeruk Kh"."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    head = text[: limit - 1]
    if text[limit - 1] != " " and " " in head:  # the cut falls inside a word: drop that word
        head = head.rsplit(" ", 1)[0]
    return head.rstrip(" ,.;:-") + "…"


@dataclass(frozen=True)
class Choice:
    """One button or numbered option; `id` is what comes back when it is picked."""

    id: str
    label: Text | str


@dataclass(frozen=True)
class PhotoRef:
    """A photo that the media pipeline has already stored, with its quality report."""

    sha256: str
    width: int
    height: int
    blurry: bool = False
    dark: bool = False
    washed_out: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "blurry": self.blurry,
            "dark": self.dark,
            "washed_out": self.washed_out,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PhotoRef:
        return cls(**data)


@dataclass(frozen=True)
class RejectedPhoto:
    """A file the media pipeline refused; `reason` names the catalog tip to show."""

    reason: str


@dataclass(frozen=True)
class Location:
    latitude: float
    longitude: float


@dataclass(frozen=True)
class Inbound:
    """One normalized message from a person, whatever the channel."""

    user_key: str
    channel: str
    text: str | None = None
    choice: str | None = None
    contact_phone: str | None = None  # a contact card the person shared
    sender_phone: str | None = None  # the number the channel itself vouches for
    photos: tuple[PhotoRef, ...] = ()
    rejected_photos: tuple[RejectedPhoto, ...] = ()
    location: Location | None = None
    unsupported: str | None = None  # "voice", "sticker", "video", "document", ...
    message_id: str | None = None
    profile_name: str | None = None
    locale_hint: str | None = None


@dataclass(frozen=True)
class Outbound:
    """One message to send: text lines, optional choices, photo and input requests."""

    lines: tuple[Text | str, ...]
    choices: tuple[Choice, ...] = ()
    photo: str | None = None  # sha256 of a stored photo
    request_contact: bool = False
    request_location: bool = False


def say(*lines: Text | str, choices: tuple[Choice, ...] | list[Choice] = (), **kw: Any) -> Outbound:
    """Build an outbound message from catalog texts."""
    return Outbound(lines=tuple(lines), choices=tuple(choices), **kw)
