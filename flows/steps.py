"""What a conversation is made of: the host's world (`Env`), steps, flows and readings.

A flow module declares its `Step`s and its `Flow` with these; `flows/engine.py` runs them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from flows.effects import Effect
from flows.interpret import Keyword, No, Nothing, Utterance, Yes
from flows.messages import Choice, Inbound, Outbound, Text, t
from flows.state import State

# --- what the host provides ------------------------------------------------------------


class Directory(Protocol):
    """Read-only questions a flow may ask of the stored data."""

    def shop_name_taken(self, name: str, *, except_seller: int | None = None) -> bool: ...

    def seller_with_phone(self, phone: str) -> Mapping[str, Any] | None:
        """A registered or awaiting-consent shop with this number, if any."""
        ...

    def imported_with_phone(self, phone: str) -> Mapping[str, Any] | None:
        """Government MSME data for this number, if any."""
        ...

    def facilitator_owners(self, facilitator_id: int) -> Sequence[Mapping[str, Any]]:
        """The shops a facilitator registered, with their progress."""
        ...

    def facilitator_leads(
        self, facilitator_id: int, limit: int
    ) -> tuple[int, Sequence[Mapping[str, Any]]]:
        """Imported businesses assigned to a facilitator and not registered yet."""
        ...

    def facilitator_exists(self, code: str) -> bool: ...

    def facilitators(self) -> Sequence[Mapping[str, Any]]:
        """Every facilitator: their code and name."""
        ...

    def audience(self, segment: str, value: str | None) -> tuple[int, float]:
        """How many a broadcast would reach (opted-out left out) and seconds to send."""
        ...

    def sales_figures(
        self, product_ids: Sequence[int], now: datetime
    ) -> Mapping[int, Mapping[int, Mapping[str, int]]]:
        """The marketplace's figures per product, per window of days (7, 30) up to today."""
        ...


@dataclass(frozen=True)
class Env:
    """Everything a flow may know about the world for one message."""

    now: datetime
    channel: str
    directory: Directory
    known_phone: str | None = None
    profile_name: str | None = None
    seller: Mapping[str, Any] | None = None
    products: tuple[Mapping[str, Any], ...] = ()
    pause: timedelta = timedelta(hours=6)
    locale: str = "id"
    render: Callable[[Text | str], str] = str  # the host's translator, for drafts it writes
    opted_out: bool = False  # no reminders or broadcasts; conversations still work
    imported: Mapping[str, Any] | None = None  # government MSME data matching their number
    is_admin: bool = False
    facilitator: Mapping[str, Any] | None = None  # {id, code, name, regency_code} when one
    acting_for: Mapping[str, Any] | None = None  # the owner's shop a facilitator works on
    # The shop a facilitator was working on is no longer theirs to work on, since their last
    # message: "refused" (its owner answered TOLAK), "erased" (/hapus_data) or "unavailable"
    helped_gone: str | None = None
    consent_request: Mapping[str, Any] | None = None  # a facilitator's registration for them

    @property
    def registered(self) -> bool:
        return self.seller is not None


# --- how a step reads an answer ------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """The answer was read; `confirm` asks "betul?" first when reading involved guessing."""

    value: Any
    confirm: Text | None = None
    note: Text | None = None  # said before the next question ("the 6th photo was not kept")
    offered: bool = False  # the value is the bot's proposal, not a reading of the owner's words
    early: Mapping[str, str] = field(default_factory=dict)  # other fields' answers sent with it


# The draft's answers sent before their question ("berat 1,5 kg" at the stock): field -> text
EARLY = "_early"


@dataclass(frozen=True)
class Invalid:
    """The answer could not be used; `reason` says what to send instead."""

    reason: Text
    keep: Mapping[str, Any] = field(default_factory=dict)  # draft updates worth keeping
    # Said as it is at an open "betul?" too, before it is asked again (else "ya atau bukan?")
    at_confirm: bool = False


@dataclass(frozen=True)
class Stay:
    """Stay on this step: say `message`, keep `keep` in the draft (e.g. a photo received)."""

    message: Text
    keep: Mapping[str, Any] = field(default_factory=dict)
    choices: tuple[Choice, ...] = ()
    photo: str | None = None


@dataclass(frozen=True)
class Clarify:
    """The answer fits several things; ask which one, with these options."""

    question: Text
    options: tuple[Choice, ...]


Reading = Parsed | Invalid | Clarify | Stay


@dataclass(frozen=True)
class Ctx:
    draft: Mapping[str, Any]
    env: Env
    said: Utterance = field(default_factory=Nothing)  # the message, interpreted once
    guess: Any = None  # the value an open "betul?" proposed, when this message answers it
    # The ids of the buttons a "yang mana?" offered, when this message answers it
    options: tuple[str, ...] = ()


def yes_no(ctx: Ctx) -> bool | None:
    """The person's yes or no (a button, or their own words), else None."""
    match ctx.said:
        case Yes():
            return True
        case No():
            return False
    return None


def said_word(ctx: Ctx, kind: str) -> bool:
    """True when the message is that answer word ('done', 'keep', 'retake', 'save')."""
    return isinstance(ctx.said, Keyword) and ctx.said.kind == kind


@dataclass(frozen=True)
class Step:
    """One question: how it is asked, how an answer is read, and where it goes."""

    id: str
    ask: Callable[[Ctx], Outbound]
    read: Callable[[Inbound, Ctx], Reading]
    slot: str | None = None
    next: str | Callable[[Ctx], str] | None = None  # None: go to the summary
    help: Text | Callable[[Ctx], Text] | None = None  # a function when it depends on who asks
    optional: bool = False  # "lewati" stores None; on a required step it is refused
    free_text: bool = False  # the answer is data (a name, an address): never an answer word
    takes_words: tuple[str, ...] = ()  # answer words a free-text step reads itself ("keep")
    offer: Callable[[Ctx], Any] | None = None  # the value a plain "ya" accepts, if any
    takes_photos: bool = False
    takes_location: bool = False
    # Kept as written (a description, a broadcast): ", maksudnya ..." in it is its own words,
    # never a slip fixed in the same message.
    verbatim: bool = False
    # A step to ask right after this one, even while one answer is changed from the summary,
    # when this answer put it out of bounds (a stock below the minimum order); None: none.
    then_ask: Callable[[Ctx], str | None] | None = None


@dataclass(frozen=True)
class Field:
    """A line of the summary the owner can change, and the steps that ask it again."""

    id: str
    label: Text
    steps: tuple[str, ...]
    asked_at: tuple[str, ...] = ()  # other steps that ask it too ("is this your number?")


@dataclass(frozen=True)
class Outcome:
    replies: tuple[Outbound, ...] = ()
    effects: tuple[Effect, ...] = ()
    start: str | None = None  # flow to begin next
    draft: Mapping[str, Any] | None = None  # its starting draft
    step: str | None = None  # where to begin it (its first step when None)
    then: str | None = None  # where to go once that step is answered (the summary, say)
    answer: Inbound | None = None  # sent with the request, for that step: "ubah harga 20rb"
    asked: tuple[str, ...] = ()  # the questions answered before that step (for "kembali", "ubah")
    keep: Mapping[str, Any] | None = None  # kept in the draft with nothing open (no start)


# The field a text names at its start and the new value after it ("alamat jl. kartini 7").
FieldReader = Callable[[str], "tuple[str, str] | None"]
# A change said at the summary: the field and its new value ("price", "30rb").
Change = tuple[str, str]


@dataclass(frozen=True)
class Flow:
    id: str
    steps: Mapping[str, Step]
    first: str
    finish: Callable[[Ctx], Outcome]
    summary: Callable[[Ctx], Outbound] | None = None
    fields: tuple[Field, ...] = ()
    resume_question: Text = field(default_factory=lambda: t("engine.resume_question"))
    cancelled: Text = field(default_factory=lambda: t("engine.cancelled"))
    # Said instead when the flow was changing what is already registered (editing the shop).
    cancelled_edit: Text | None = None
    # Whether the draft changes something already stored (for `cancelled_edit`); when None,
    # whether the person is registered (the shop's own data).
    editing: Callable[[Ctx], bool] | None = None
    # Asked instead of `resume_question` after a long pause in such a change ("Tadi Kakak
    # sedang mengubah *Kerupuk Udang*"): its "no" drops the change, never starts anew.
    resume_edit_question: Callable[[Ctx], Text] | None = None
    # Ask "yakin?" before a cancel drops answers already given (a shop, a product).
    confirm_cancel: bool = False
    # Draft values computed from others (a generated description), refreshed on every change.
    derive: Callable[[Ctx], Mapping[str, Any]] | None = None
    # A change said as a sentence at the summary ("tokonya pindah ke kota batu"): given the
    # text, the engine's reading of a field named at its start and the context, the field
    # and its new value (a list when it says several: a street in another city is the
    # regency and the address); `WHICH_FIELD` to ask which field is meant; None when it
    # names none.
    read_change: Callable[[str, FieldReader, Ctx], Change | list[Change] | None] | None = None
    # What "mulai dari awal" keeps of the draft (a stored draft's id, so it is replaced by
    # the new answers, not left as a second one); None: nothing.
    restart_keeps: Callable[[Ctx], Mapping[str, Any]] | None = None


SUMMARY = "summary"
WHICH_FIELD = "__which__"  # a change whose field is unclear: the owner picks it
FINISH = "__finish__"  # a step's `next` that ends the flow without a summary


@dataclass
class Result:
    state: State
    replies: list[Outbound] = field(default_factory=list)
    effects: list[Effect] = field(default_factory=list)
    # An answer sent with the request that opened the next flow at a step ("ubah harga 20rb"
    # in "Produk saya", a photo at the menu): read there at once, never dropped.
    answer: Inbound | None = None
