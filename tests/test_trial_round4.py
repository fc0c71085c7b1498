"""Fourth cold trial: what the bot says back, where a transcript's message ids cannot show it."""

from __future__ import annotations

from typing import Any

from bot.i18n import Renderer
from flows.router import advance
from tests.transcripts import FlowHost, Transcript, inbound


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
