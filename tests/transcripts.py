"""Golden transcripts: what an owner sends, what the bot must answer, what must be stored.

A transcript is YAML (tests/transcripts/*.yaml, several per file):

    name: "ya" to the offered profile name stores the name, not "Ya"
    channel: whatsapp              # console (default), telegram or whatsapp
    phone: "+6281234567890"        # the number the channel vouches for; "none" for none
    profile_name: Sri Wahyuni
    given: registered              # optional: a standard registration first (ends at photos)
    turns:
      - send: ya                   # or choice: <id>, photos: [sharp, blurry, dark, tiny],
        expect: [reg.ask_phone_confirm]   # contact: "+62...", location: [lat, lon],
        not: [engine.not_an_answer]       # unsupported: voice, wait: {hours: 7}
        draft: {owner_name: Sri Wahyuni}
        contains: {description: "250 gr"} # a draft value that must contain this text
        choices: [yes, other]             # ids the last reply offers, in this order
        at: registration/phone_confirm
    stored:
      seller: {owner_name: Sri Wahyuni}   # or `seller: null` (nothing registered)
      product: {weight_grams: 750}        # the newest product
      products: 1

`expect` lists catalog message ids that must appear, in this order, among the ids of the
turn's replies; `draft` and `at` are checked after the turn. The same file runs against
`flows/` alone (`FlowHost`, an in-memory host) and end to end through the runner on SQLite
(`RunnerHost`), so the two cannot drift apart.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import yaml

from flows import effects as fx
from flows.engine import Env
from flows.messages import Inbound, Location, Outbound, PhotoRef, RejectedPhoto, Text
from flows.registration import shop_name_key
from flows.router import advance
from flows.state import State

DIR = Path(__file__).parent / "transcripts"
DEFAULT_PHONE = "+6281234567890"
START = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)  # 10:00 WIB
# The owner of `given: registered`, answering plainly (console, known number).
REGISTERED = (
    {"send": "/start"},
    {"send": "ya"},
    {"send": "Sri Wahyuni"},
    {"send": "ya"},
    {"send": "Toko Transkrip Sri"},
    {"send": "makanan"},
    {"send": "sidoarjo"},
    {"send": "waru"},
    {"send": "Jl. Raya Waru No. 12"},
    {"send": "lewati"},
    {"send": "simpan"},
)


@dataclass
class Transcript:
    name: str
    spec: dict[str, Any]

    @property
    def channel(self) -> str:
        return str(self.spec.get("channel", "console"))

    @property
    def phone(self) -> str | None:
        phone = self.spec.get("phone", DEFAULT_PHONE)
        return None if phone in (None, "none") else str(phone)

    @property
    def known_phone(self) -> str | None:
        """The number the channel vouches for: Telegram vouches for none until shared."""
        return None if self.channel == "telegram" else self.phone

    @property
    def turns(self) -> list[dict[str, Any]]:
        prelude = list(REGISTERED) if self.spec.get("given") == "registered" else []
        return [*copy.deepcopy(prelude), *self.spec.get("turns", [])]

    @property
    def prelude_length(self) -> int:
        return len(REGISTERED) if self.spec.get("given") == "registered" else 0


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when it is there: 10x faster


@functools.cache  # the transcripts and the fuzzers read the same files: parsed once
def load_all() -> tuple[Transcript, ...]:
    found: list[Transcript] = []
    for path in sorted(DIR.glob("*.yaml")):
        for spec in yaml.load_all(path.read_text(encoding="utf-8"), Loader=_LOADER):
            if spec:
                found.append(Transcript(f"{path.stem}: {spec['name']}", spec))
    names = [t.name for t in found]
    assert len(names) == len(set(names)), "transcript names must be unique"
    return tuple(found)


class Host(Protocol):
    def send(self, turn: Mapping[str, Any]) -> list[str]:
        """Deliver one turn; the message ids of every line of every reply."""
        ...

    def where(self) -> tuple[str | None, str | None, dict[str, Any]]:
        """Flow, step and draft now."""
        ...

    def offered(self) -> list[str]:
        """The choice ids of the last reply of the last turn."""
        ...

    def stored(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        """The seller and its products (newest last), as stored."""
        ...


def run(transcript: Transcript, host: Host) -> None:
    """Play a transcript against a host and check every expectation."""
    for number, turn in enumerate(transcript.turns, start=1):
        label = f"{transcript.name}, turn {number - transcript.prelude_length} {turn}"
        said = host.send(turn)
        _check_expected(said, turn.get("expect", []), label)
        unwanted = [m for m in turn.get("not", []) if m in said]
        assert not unwanted, f"{label}: did not expect {unwanted} in {said}"
        if "choices" in turn:
            assert host.offered() == turn["choices"], f"{label}: offered {host.offered()}"
        if not {"at", "draft", "contains"} & turn.keys():
            continue  # where the conversation is: read only when the turn checks it
        flow, step, draft = host.where()
        if "at" in turn:
            assert f"{flow}/{step}" == turn["at"], f"{label}: at {flow}/{step}, said {said}"
        for key, value in (turn.get("draft") or {}).items():
            assert draft.get(key) == value, f"{label}: draft {key}={draft.get(key)!r}, {said}"
        for key, part in (turn.get("contains") or {}).items():
            assert part in str(draft.get(key)), f"{label}: draft {key}={draft.get(key)!r}"
    _check_stored(transcript, host)


def last_reply(spec: Mapping[str, Any], name: str = "transcript") -> list[str]:
    """The rendered lines (Indonesian, every parameter given) of the bot's answer to the
    transcript's last turn, played on the flows alone: for what message ids cannot show."""
    from bot.i18n import Renderer

    transcript = Transcript(name, dict(spec))
    render = Renderer("id", strict=True)
    host = FlowHost(transcript, render)
    *before, last = transcript.turns
    for turn in before:
        host.send(turn)
    message = inbound(transcript, last, host.photos, host.sent + 1)
    result = advance(host.state, message, host.env())
    return [render.text(line) for out in result.replies for line in out.lines]


def _check_expected(said: list[str], expected: list[str], label: str) -> None:
    position = 0
    for msgid in expected:
        try:
            position = said.index(msgid, position) + 1
        except ValueError:
            raise AssertionError(f"{label}: expected {msgid} in order, got {said}") from None


def _check_stored(transcript: Transcript, host: Host) -> None:
    stored = transcript.spec.get("stored") or {}
    seller, products = host.stored()
    if "seller" in stored:
        if stored["seller"] is None:
            assert seller is None, f"{transcript.name}: expected no seller, got {seller}"
        else:
            assert seller is not None, f"{transcript.name}: no seller stored"
            for key, value in stored["seller"].items():
                assert seller.get(key) == value, (
                    f"{transcript.name}: seller {key}={seller.get(key)!r}"
                )
    if "products" in stored:
        assert len(products) == stored["products"], f"{transcript.name}: {len(products)} products"
    if "product" in stored:
        assert products, f"{transcript.name}: no product stored"
        for key, value in stored["product"].items():
            got = products[-1].get(key)
            assert got == value, f"{transcript.name}: product {key}={got!r}, expected {value!r}"


# --- the message a turn sends -----------------------------------------------------------------


@dataclass
class PhotoMaker:
    """Photos for a turn: each kind gives a new photo, `same` repeats the last one."""

    make: Any  # (kind, seed) -> PhotoRef | RejectedPhoto
    seed: int = 100
    last: PhotoRef | RejectedPhoto | None = None

    def __call__(self, kinds: list[str]) -> tuple[tuple[PhotoRef, ...], tuple[RejectedPhoto, ...]]:
        made: list[PhotoRef | RejectedPhoto] = []
        for kind in kinds:
            if kind != "same" or self.last is None:
                self.seed += 1
                self.last = self.make(kind, self.seed)
            made.append(self.last)
        return (
            tuple(p for p in made if isinstance(p, PhotoRef)),
            tuple(p for p in made if isinstance(p, RejectedPhoto)),
        )


def inbound(transcript: Transcript, turn: Mapping[str, Any], photos: PhotoMaker, n: int) -> Inbound:
    taken, rejected = photos(list(turn.get("photos", [])))
    location = turn.get("location")
    return Inbound(
        user_key=transcript.phone or "user-1",
        channel=transcript.channel,
        text=None if turn.get("send") is None else str(turn["send"]),  # also a photo's caption
        choice=turn.get("choice"),
        contact_phone=turn.get("contact"),
        sender_phone=transcript.known_phone,
        photos=taken,
        rejected_photos=rejected,
        location=Location(float(location[0]), float(location[1])) if location else None,
        unsupported=turn.get("unsupported"),
        message_id=f"m{n}",
        profile_name=transcript.spec.get("profile_name"),
        locale_hint=transcript.spec.get("locale"),
    )


def fake_photo(kind: str, seed: int) -> PhotoRef | RejectedPhoto:
    if kind == "tiny":
        return RejectedPhoto("too_small")
    return PhotoRef(
        f"{seed:064x}", 1600, 1200, blurry=kind == "blurry", dark=kind == "dark", washed_out=False
    )


# --- flows alone ------------------------------------------------------------------------------


@dataclass
class FlowHost:
    """The flows with an in-memory directory: effects applied to dicts, no database."""

    transcript: Transcript
    render: Any
    state: State = field(default_factory=State)
    seller: dict[str, Any] | None = None
    products: list[dict[str, Any]] = field(default_factory=list)
    now: datetime = START
    sent: int = 0
    photos: PhotoMaker = field(default_factory=lambda: PhotoMaker(fake_photo))
    last_choices: list[str] = field(default_factory=list)

    # Directory
    def shop_name_taken(self, name: str, *, except_seller: int | None = None) -> bool:
        taken = {shop_name_key(n) for n in self.transcript.spec.get("taken_shops", [])}
        return shop_name_key(name) in taken

    def seller_with_phone(self, phone: str) -> Mapping[str, Any] | None:
        return None

    def imported_with_phone(self, phone: str) -> Mapping[str, Any] | None:
        return None

    def facilitator_owners(self, facilitator_id: int) -> list[Mapping[str, Any]]:
        return []

    def facilitator_leads(self, facilitator_id: int, limit: int) -> tuple[int, list[Any]]:
        return 0, []

    def facilitator_exists(self, code: str) -> bool:
        return False

    def facilitators(self) -> list[Mapping[str, Any]]:
        return []

    def audience(self, segment: str, value: str | None) -> tuple[int, float]:
        return 0, 0.0

    def env(self) -> Env:
        return Env(
            now=self.now,
            channel=self.transcript.channel,
            directory=self,
            known_phone=self.transcript.known_phone,
            profile_name=self.transcript.spec.get("profile_name"),
            seller=self.seller,
            products=tuple(reversed(self.products)),
            render=self.render,
        )

    def send(self, turn: Mapping[str, Any]) -> list[str]:
        if "wait" in turn:
            self.now += timedelta(**turn["wait"])
            return []
        self.sent += 1
        message = inbound(self.transcript, turn, self.photos, self.sent)
        result = advance(self.state, message, self.env())
        for effect in result.effects:
            self._apply(effect)
        result.state.updated_at = self.now
        # stored as the runner stores it: whatever is not plain JSON fails here too
        saved = json.loads(json.dumps([result.state.draft, result.state.meta()]))
        self.state = State.load(result.state.flow, result.state.step, *saved, self.now)
        self.last_choices = [c.id for c in result.replies[-1].choices] if result.replies else []
        return [m for out in result.replies for m in _msgids(out)]

    def offered(self) -> list[str]:
        return self.last_choices

    def __deepcopy__(self, memo: dict[int, Any]) -> FlowHost:
        """A copy to go on from: the renderer and the transcript are shared, never changed."""
        memo[id(self.render)], memo[id(self.transcript)] = self.render, self.transcript
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in vars(self).items():
            setattr(clone, key, copy.deepcopy(value, memo))
        return clone

    def _apply(self, effect: fx.Effect) -> None:
        match effect:
            case fx.SaveSeller(data=data):
                self.seller = {**(self.seller or {}), **data, "id": 1, "status": "active"}
            case (
                fx.SaveProduct(data=data, product_id=pid)
                | fx.SaveProductDraft(data=data, product_id=pid)
            ):
                status = "pending" if isinstance(effect, fx.SaveProduct) else "draft"
                self._save_product(data, pid, status)
            case fx.DeleteProduct(product_id=pid):
                self.products = [p for p in self.products if p["id"] != pid]
            case fx.EraseMyData():
                self.seller, self.products = None, []

    def _save_product(self, data: dict[str, Any], pid: int | None, status: str) -> None:
        old = next((p for p in self.products if p["id"] == pid), None)
        if old is not None:
            self.products.remove(old)
        merged = {**(old or {}).get("data", {}), **{k: v for k, v in data.items() if v is not None}}
        new_id = pid or len(self.products) + 100
        self.products.append(
            {
                **merged,
                "id": new_id,
                "name": merged.get("name"),
                "price": merged.get("price"),
                "status": status,
                "data": merged,
            }
        )

    def where(self) -> tuple[str | None, str | None, dict[str, Any]]:
        return self.state.flow, self.state.step, self.state.draft

    def stored(self) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
        return self.seller, self.products


def _msgids(out: Outbound) -> Iterator[str]:
    for line in out.lines:
        if isinstance(line, Text):
            yield line.msgid
