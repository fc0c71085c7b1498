"""Fourth cold trial: what the bot says back, where a transcript's message ids cannot show it."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from bot.i18n import Renderer
from flows.router import advance
from flows.steps import Env
from tests.transcripts import START, FlowHost, Transcript, inbound


def _last_reply(spec: dict[str, Any]) -> list[str]:
    """The rendered lines of the bot's answer to the transcript's last turn."""
    transcript = Transcript("round4", spec)
    render = Renderer("id", strict=True)
    host = FlowHost(transcript, render)
    *before, last = transcript.turns
    for turn in before:
        host.send(turn)
    message = inbound(transcript, last, host.photos, host.sent + 1)
    result = advance(host.state, message, host.env())
    return [render.text(line) for out in result.replies for line in out.lines]


def _product_until_price(*turns: dict[str, Any]) -> dict[str, Any]:
    prelude = [
        {"photos": ["sharp"]},
        {"send": "selesai"},
        {"send": "Keripik Tempe Pedas"},
        {"send": "ya"},
    ]
    return {"given": "registered", "turns": [*prelude, *turns]}


def test_2_lusin_at_the_stock_question_is_said_back_as_24_pcs() -> None:
    said = _last_reply(_product_until_price({"send": "25000"}, {"send": "2 lusin"}))
    assert any("24 pcs (2 lusin)" in line for line in said), said


def test_stok_2_lusin_with_the_price_is_asked_as_24_pcs() -> None:
    said = _last_reply(_product_until_price({"send": "25rb stok 2 lusin"}))
    assert any("24 pcs (2 lusin)" in line for line in said), said


# --- /siaran -------------------------------------------------------------------------------------


class AdminHost(FlowHost):
    """The flows alone, for an admin."""

    def env(self) -> Env:
        return replace(super().env(), is_admin=True)


def _siaran(*answers: str, now: datetime = START) -> AdminHost:
    """An admin's /siaran, answered in turn; the host after the last answer."""
    spec: dict[str, Any] = {"channel": "telegram", "turns": []}
    host = AdminHost(Transcript("siaran", spec), Renderer("id", strict=True), now=now)
    for text in ("/siaran", *answers):
        host.send({"send": text})
    return host


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("kabupaten malang", "3507"),
        ("kab malang", "3507"),
        ("kab. malang", "3507"),
        ("malang kab", "3507"),
        ("Kabupaten Malang", "3507"),
        ("kota malang", "3573"),
        ("malang kota", "3573"),
        ("kab sidoarjo", "3515"),
    ],
)
def test_a_regency_typed_at_the_segment_question_is_the_regency_segment(
    typed: str, code: str
) -> None:
    host = _siaran(typed)
    flow, step, draft = host.where()
    assert (flow, step) == ("siaran", "text"), (step, draft)
    assert draft["segment"] == "regency" and draft["segment_value"] == code


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("kabupaten malang", "3507"),
        ("kab. malang", "3507"),
        ("malang kab", "3507"),
        ("kota malang", "3573"),
    ],
)
def test_a_regency_typed_after_picking_the_regency_segment(typed: str, code: str) -> None:
    host = _siaran("4", typed)
    flow, step, draft = host.where()
    assert (flow, step) == ("siaran", "text"), (step, draft)
    assert draft["segment_value"] == code


def test_a_bare_malang_at_the_segment_question_asks_which() -> None:
    host = _siaran("malang")
    assert host.offered() == ["3507", "3573"]


@pytest.mark.parametrize("before", [(), ("4",)])
@pytest.mark.parametrize(
    ("typed", "code"), [("kota", "3573"), ("kabupaten", "3507"), ("1", "3507")]
)
def test_which_malang_is_answered_by_typing(before: tuple[str, ...], typed: str, code: str) -> None:
    host = _siaran(*before, "malang", typed)
    _flow, step, draft = host.where()
    assert (step, draft.get("segment_value")) == ("text", code), draft
