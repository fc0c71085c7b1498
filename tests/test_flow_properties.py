"""Whatever an owner sends at any step, the bot answers and stores nothing wrong.

Property test over the flows alone: at every step of registration and product listing, any
text, any choice id (valid or not), a photo, a contact or a location where text is expected
never raises, always answers, and never stores an answer word or an empty value as a name,
a shop, an address, a product name or a description.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import Renderer
from flows.lexicon import lexicon, normalize
from tests.transcripts import REGISTERED, FlowHost, Transcript

FREE_TEXT = ("owner_name", "shop_name", "address", "name", "description")
RENDER = Renderer("id")

# How to reach each step: the turns before it.
_REG = [t["send"] for t in REGISTERED]
REGISTRATION_STEPS = {
    "consent": _REG[:1],
    "owner_name": _REG[:2],
    "phone_confirm": _REG[:3],
    "shop_name": _REG[:4],
    "category": _REG[:5],
    "regency": _REG[:6],
    "district": _REG[:7],
    "address": _REG[:8],
    "nib": _REG[:9],
    "summary": _REG[:10],
}
_PRODUCT = ["selesai", "Keripik Tempe Pedas", "ya", "25000", "10", "1", "250 gr", "pakai"]
PRODUCT_STEPS = {
    "photos": [],
    "name": _PRODUCT[:1],
    "category": _PRODUCT[:2],
    "price": _PRODUCT[:3],
    "stock": _PRODUCT[:4],
    "min_order": _PRODUCT[:5],
    "weight": _PRODUCT[:6],
    "description": _PRODUCT[:7],
    "summary": _PRODUCT[:8],
    "condition": ["selesai", "Kaos Batik Tulis", "ya", "75000", "10", "1", "200 gr"],
}


def _every_answer_word() -> list[str]:
    lex = lexicon()
    found = {w for cls, ws in lex.words.items() if cls != "english" for w in ws}
    found |= {w for ws in lex.commands.values() for w in ws}
    return sorted(found)


ANSWER_WORDS = _every_answer_word()
ANSWER_KEYS = {normalize(w) for w in ANSWER_WORDS}

texts = st.one_of(
    st.text(max_size=80),
    st.sampled_from(ANSWER_WORDS),
    st.sampled_from(ANSWER_WORDS).map(str.upper),
    st.sampled_from(["", " ", "0", "-1", "9" * 400, "²", "①", "\x00", "/", "🙂", "1", "99"]),
    st.from_regex(r"[a-z ]{1,20}", fullmatch=True),
)
turns = st.one_of(
    texts.map(lambda text: {"send": text}),
    st.sampled_from(["yes", "no", "save", "__edit__", "keep", "profile", "3507", "x:1", ""]).map(
        lambda cid: {"choice": cid}
    ),
    st.just({"photos": ["sharp"]}),
    st.just({"photos": ["blurry"]}),
    st.just({"photos": ["tiny"]}),
    st.just({"contact": "+6285712345678"}),
    st.just({"location": [-7.45, 112.7]}),
    st.just({"unsupported": "voice"}),
)


def _host_at(flow: str, before: list[str]) -> FlowHost:
    spec: dict[str, Any] = {"name": "property", "turns": []}
    if flow == "product":
        spec["given"] = "registered"
    host = FlowHost(Transcript("property", spec), RENDER)
    for turn in Transcript("property", spec).turns:
        host.send(turn)
    if flow == "product" and before:
        host.send({"photos": ["sharp"]})
    for text in before:
        host.send({"send": text})
    return host


_HOSTS: dict[tuple[str, str], FlowHost] = {}


def _fresh(flow: str, step: str, before: list[str]) -> FlowHost:
    if (flow, step) not in _HOSTS:
        host = _host_at(flow, before)
        assert host.state.step == step, (flow, step, host.state.flow, host.state.step)
        _HOSTS[flow, step] = host
    return copy.deepcopy(_HOSTS[flow, step])


def _check(host: FlowHost, answered: list[str]) -> None:
    assert answered, "every message gets an answer"
    stored = [host.state.draft, *(p for p in host.products), host.seller or {}]
    for data in stored:
        for key in FREE_TEXT:
            value = data.get(key)
            if value is None:
                continue
            assert str(value).strip(), f"{key} stored empty"
            assert normalize(str(value)) not in ANSWER_KEYS, f"{key} stored as {value!r}"


CASES = [("registration", s, b) for s, b in REGISTRATION_STEPS.items()] + [
    ("product", s, b) for s, b in PRODUCT_STEPS.items()
]


@pytest.mark.parametrize(("flow", "step", "before"), CASES, ids=[f"{f}-{s}" for f, s, _ in CASES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(turns, min_size=1, max_size=3))
def test_any_message_at_any_step(
    flow: str, step: str, before: list[str], messages: list[dict[str, Any]]
) -> None:
    host = _fresh(flow, step, before)
    for message in messages:
        answered = host.send(message)
        _check(host, answered)
