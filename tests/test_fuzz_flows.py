"""Fuzz: adversarial messages at every step of every flow, against the flows alone.

Every step is reached the way people reach it: the golden transcripts (tests/transcripts/*.yaml)
are played on the in-memory host and each distinct place they pass through is kept, plus the
facilitator's and the admin's flows walked by hand. At each place, hypothesis sends messages
no owner should send but some will: lone surrogates, direction marks, zero-width and control
characters, emoji sequences, combining marks, digits that only look like digits, huge numbers,
texts of thousands of characters, choice ids from nowhere or from another step, a photo, a
contact or a location where text is expected, commands for another bot, empty messages.

Whatever arrives: no exception, at least one answer, no answer word or empty value stored as
data, the state stays plain JSON (the host checks that on every turn), and the conversation
still goes on: "batal" and "menu" are answered afterwards.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import Renderer
from flows import effects as fx
from flows.engine import Env
from flows.lexicon import normalize
from flows.router import FLOWS
from tests.test_flow_properties import ANSWER_KEYS, ANSWER_WORDS, FREE_TEXT
from tests.transcripts import FlowHost, Transcript, load_all

FACILITATOR = {"id": 7, "code": "PDP01", "name": "Dewi Lestari", "regency_code": "3515"}
HELPED = {"id": 5, "shop_name": "Toko Budi", "owner_name": "Budi", "status": "awaiting_consent"}
ADMIN_WALK = ["/siaran", "4", "sidoarjo", "Kak, yuk tambah produk hari ini!", "sekarang"]
FACILITATOR_WALK = [
    "/daftarkan",
    "0812-0000-9001",
    "Budi Santoso",
    "Toko Budi Jaya",
    "makanan",
    "sidoarjo",
    "waru",
    "Jl. Raya Waru No. 12",
    "lewati",
]


class FuzzHost(FlowHost):
    """The in-memory host, as an owner, a facilitator (maybe helping a shop) or an admin."""

    role: str = "owner"
    effects: list[fx.Effect]

    def env(self) -> Env:
        env = super().env()
        if self.role == "admin":
            return replace(env, is_admin=True)
        if self.role == "facilitator":
            return replace(env, facilitator=FACILITATOR)
        if self.role == "helping":
            return replace(env, facilitator=FACILITATOR, acting_for=HELPED, seller=HELPED)
        return env

    def facilitator_owners(self, facilitator_id: int) -> list[Mapping[str, Any]]:
        return [{**HELPED, "products": 0}] if self.role != "owner" else []

    def _apply(self, effect: fx.Effect) -> None:
        self.effects.append(effect)
        super()._apply(effect)

    def turn(self, message: Mapping[str, Any]) -> list[str]:
        self.effects = []
        return self.send(message)


def _host(transcript: Transcript, role: str = "owner") -> FuzzHost:
    host = FuzzHost(transcript, Renderer(transcript.spec.get("locale", "id")))
    host.role = role
    host.effects = []
    return host


def _place(host: FuzzHost) -> tuple[Any, ...]:
    state = host.state
    pending = type(state.pending).__name__ if state.pending else None
    return (
        host.role,
        host.transcript.channel,
        state.flow,
        state.step,
        host.seller is not None,
        pending,
        bool(state.edit_queue),
        state.draft.get("awaiting"),
    )


def _places() -> dict[str, FuzzHost]:
    """A copy of the host at each distinct place the golden transcripts and role walks reach."""
    found: dict[tuple[Any, ...], FuzzHost] = {}

    def keep(host: FuzzHost) -> None:
        place = _place(host)
        if place not in found:  # copying is the costly part: only a new place is copied
            found[place] = copy.deepcopy(host)

    for transcript in load_all():
        host = _host(transcript)
        for turn in transcript.turns:
            host.turn(turn)
            keep(host)
    for role, walk in (
        ("admin", ADMIN_WALK),
        ("facilitator", FACILITATOR_WALK),
        ("facilitator", ["/binaan"]),
        ("helping", ["menu", "kode", "batal", "menu", "3"]),
        ("owner", ["/start", "ya", "Sri", "/hapus_data"]),
        ("owner", ["/bahasa"]),
    ):
        host = _host(Transcript(f"walk {role}", {"name": role, "channel": "telegram"}), role)
        for text in walk:
            host.turn({"send": text})
            keep(host)
    return {"-".join(str(p) for p in place): host for place, host in found.items()}


PLACES = _places()


def _fresh_copy(host: FuzzHost) -> FuzzHost:
    """A copy to play on; the transcript and the renderer are only read, so they are shared
    (copying them was most of the copy's cost)."""
    return copy.deepcopy(host, {id(host.transcript): host.transcript, id(host.render): host.render})


FACILITATOR_NAME = "facilitator-telegram-assisted-owner_name-False-None-False-None"

# --- what people should not send, but some will ---------------------------------------------

ODD_TEXTS = [
    "",
    " ",
    "\n\t ",
    "\x00",
    "ha\x00lo",
    "\x01\x02\x1b[31m\x7f",
    "\ud800",
    "Sri \udfff Wahyuni",
    "\u202eayahW irS",
    "\u200f\u200eya",
    "ya\u200b",
    "\u2060ya\u2060",
    "\ufeffbatal",
    "\u200d",
    "👩\u200d👩\u200d👧\u200d👦",
    "🏳️\u200d🌈 Toko Pelangi",
    "e\u0301" * 40,
    "\u0301\u0301\u0301",
    "Z\u0351\u036b\u0343\u036a\u0302\u036b\u033d\u034f\u0334\u0319a\u0334lgo",
    "²",
    "①②③",
    "²⁵⁰⁰⁰",
    "２５０００",
    "٢٥٠٠٠",
    "२५०००",
    "Ｙａ",
    "ＳＩＭＰＡＮ",
    "9" * 400,
    "9" * 5000,
    "-1",
    "-99999999999999999999",
    "0",
    "1e400",
    "1e-400",
    "inf",
    "NaN",
    "25.000.000.000.000.000.000",
    "Rp 1.000.000.000.000.000",
    "0,0000000001",
    "99999999999999999999 gr",
    "999999999 kg",
    "3507",
    "x" * 5000,
    "Toko " + "ab " * 1600,
    "ya " * 1500,
    "/",
    "//",
    "/@",
    "/start@PelapakBot",
    "/start@PelapakBot ref-PDP01",
    "/start@OtherBot",
    "/start " + "x" * 300,
    "/start pdp_",
    "/start pdp_" + "A" * 100,
    "/batal@PelapakBot",
    "/menu@PelapakBot",
    "/kembali@PelapakBot",
    "/bantuan@PelapakBot",
    "/hapus_data@PelapakBot",
    "/data_saya@PelapakBot",
    "/bahasa@PelapakBot",
    "/daftarkan@PelapakBot",
    "/binaan@PelapakBot",
    "/selesai_bantu@PelapakBot",
    "/siaran@PelapakBot",
    "/pendamping@PelapakBot",
    "/pendamping@PelapakBot K7M2Q9XA",
    "/pendamping " + "\u202e" * 3 + "x" * 200,
    "/kode@PelapakBot 482913",
    "/kode 4 8 2 9 1 3",
    "/kode ①②③④⑤⑥",
    "kode ٤٨٢٩١٣",
    "/stop@PelapakBot",
    "/unknown@PelapakBot",
    "ubah",
    "ubah " + "harga " * 100,
    "eh salah, " + "9" * 300,
    "<b>bold</b> & <script>",
    "'; DROP TABLE seller; --",
    "{{name}} %s %(name)s {0}",
    "\\N{BULLET}",
]
ODD_CHOICES = [
    "",
    "_",
    "__",
    "____",
    "__cancel__",
    "__menu__",
    "__edit__",
    "__skip__",
    "__back__",
    "__help__",
    "__nope__",
    "yes",
    "no",
    "save",
    "keep",
    "retake",
    "done",
    "profile",
    "other",
    "3507",
    "3578.01",
    "x:1",
    "s:5",
    "s:",
    "s:abc",
    "s:" + "9" * 40,
    "s:-1",
    "step:photos",
    "now",
    "everyone",
    "stalled",
    "regency",
    "category",
    "facilitator",
    "product",
    "products",
    "edit_shop",
    "consent_code",
    "new",
    "p:1",
    "p:999999999999999999999",
    "edit:price",
    "delete",
    "\x00",
    "\ud800",
    "c" * 300,
]
CHARACTERS = st.characters(
    codec=None, min_codepoint=0, max_codepoint=0x10FFFF, exclude_categories=()
)
texts = st.one_of(
    st.sampled_from(ODD_TEXTS),
    st.text(CHARACTERS, max_size=60),
    st.text(st.sampled_from("\u200b\u200d\u202e\u0301²①１٣ ya9-.,"), max_size=30),
    st.sampled_from(ANSWER_WORDS).map(lambda w: f"\u200b{w.upper()}\u202e"),
    st.sampled_from(ANSWER_WORDS).flatmap(lambda w: st.sampled_from([f"/{w}@PelapakBot", w * 3])),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.builds(lambda c, n: c * n, st.sampled_from("a9 ①\u0301"), st.integers(1000, 5000)),
)
choices = st.one_of(st.sampled_from(ODD_CHOICES), st.text(CHARACTERS, max_size=20))
messages = st.one_of(
    texts.map(lambda text: {"send": text}),
    choices.map(lambda cid: {"choice": cid}),
    st.tuples(choices, texts).map(lambda ct: {"choice": ct[0], "send": ct[1]}),
    st.sampled_from(["sharp", "blurry", "dark", "tiny"]).map(lambda k: {"photos": [k]}),
    texts.map(lambda caption: {"photos": ["sharp"], "send": caption}),
    st.one_of(
        st.sampled_from(["+6285712345678", "+1", "0", "+" + "9" * 40, "abc", "\u202e+62"]),
        st.text(CHARACTERS, min_size=1, max_size=20),
    ).map(lambda phone: {"contact": phone}),
    st.tuples(
        st.sampled_from([-90.0, 0.0, -7.45, 90.0, -0.0]),
        st.sampled_from([-180.0, 0.0, 112.7, 180.0]),
    ).map(lambda at: {"location": list(at)}),
    st.tuples(st.just([-7.45, 112.7]), texts).map(lambda lt: {"location": lt[0], "send": lt[1]}),
    st.sampled_from(["voice", "sticker", "video", "document", "poll", ""]).map(
        lambda kind: {"unsupported": kind}
    ),
)


def check(host: FuzzHost, answered: list[str], message: Mapping[str, Any]) -> None:
    """One answer, and nothing stored that is an answer word or empty."""
    # the host answers these itself (the join's outcome, the dashboard link)
    joining = any(isinstance(e, fx.JoinAsFacilitator | fx.DashboardLink) for e in host.effects)
    assert answered or joining, (
        f"no answer to {message!r} at {_place(host)}"
    )  # the runner answers a join
    stored = [host.state.draft, *host.products, host.seller or {}]
    for data in stored:
        for key in FREE_TEXT:
            value = data.get(key)
            if value is None:
                continue
            assert str(value).strip(), f"{key} stored empty after {message!r}"
            assert normalize(str(value)) not in ANSWER_KEYS, f"{key} stored as {value!r}"


@pytest.mark.parametrize("place", list(PLACES))
@settings(
    # at each of the ~125 places: 5,000 sequences of 1 to 3 messages a run, the same every
    # run; `make fuzz` sends new ones, many more (FUZZ_EXAMPLES, FUZZ_RANDOM)
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    deadline=None,
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(sent=st.lists(messages, min_size=1, max_size=3))
def test_adversarial_messages_at_every_step(place: str, sent: list[dict[str, Any]]) -> None:
    host = _fresh_copy(PLACES[place])
    for message in sent:
        check(host, host.turn(message), message)
    for word in ("/batal", "menu"):  # and the conversation goes on
        check(host, host.turn({"send": word}), {"send": word})


def test_the_walks_reach_every_flow() -> None:
    reached = {key.split("-")[2] for key in PLACES}
    assert set(FLOWS) <= reached, set(FLOWS) - reached


# --- what the fuzzing found -------------------------------------------------------------------


def _at(place: str) -> FuzzHost:
    return _fresh_copy(PLACES[place])


@pytest.mark.parametrize(
    "place", ["owner-console-registration-shop_name-False-None-False-None", FACILITATOR_NAME]
)
def test_a_stale_button_with_its_label_is_not_stored_as_a_name(place: str) -> None:
    """A WhatsApp button from an earlier question (payload not offered here, its label as
    text) used to be read as the typed name: "/batal@PelapakBot" or "Actually" was stored."""
    host = _at(place)
    for text in ("/batal@PelapakBot", "ACTUALLY", "Kabupaten Sidoarjo"):
        check(host, host.turn({"choice": "3515", "send": text}), {"send": text})
        assert (host.state.flow, host.state.step) == PLACES[place].where()[:2]
        assert not {"owner_name", "shop_name"} & set(host.state.draft) - set(
            PLACES[place].state.draft
        )


def test_a_location_with_a_caption_is_not_stored_as_a_name() -> None:
    """A shared location's caption used to be read as the answer, uninterpreted: "ACTUALLY"
    or "halo" became the shop name, where typing them alone is refused."""
    host = _at("owner-console-registration-shop_name-False-None-False-None")
    for text in ("ACTUALLY", "/batal@PelapakBot", "Toko Sri"):
        said = host.turn({"location": [-7.45, 112.7], "send": text})
        check(host, said, {"send": text})
        assert "input.location_not_now" in said
        assert "shop_name" not in host.state.draft
