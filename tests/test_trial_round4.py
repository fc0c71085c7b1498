"""Fourth cold trial: what the bot says back, where a transcript's message ids cannot show it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.i18n import Renderer
from flows.send_time import parse_send_time
from flows.steps import Env
from tests.transcripts import START, FlowHost, Transcript, last_reply


def _product_until_price(*turns: dict[str, Any]) -> dict[str, Any]:
    prelude = [
        {"photos": ["sharp"]},
        {"send": "selesai"},
        {"send": "Keripik Tempe Pedas"},
        {"send": "ya"},
    ]
    return {"given": "registered", "turns": [*prelude, *turns]}


def test_2_lusin_at_the_stock_question_is_said_back_as_24_pcs() -> None:
    said = last_reply(_product_until_price({"send": "25000"}, {"send": "2 lusin"}))
    assert any("24 pcs (2 lusin)" in line for line in said), said


def test_stok_2_lusin_with_the_price_is_asked_as_24_pcs() -> None:
    said = last_reply(_product_until_price({"send": "25rb stok 2 lusin"}))
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


# START is Saturday 28 Nov 2026, 10:00 WIB; MONDAY is Monday 30 Nov, 08:00 WIB.
MONDAY = datetime(2026, 11, 30, 1, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("typed", "now", "expected"),
    [
        ("senin depan jam 9", START, datetime(2026, 11, 30, 2, 0, tzinfo=UTC)),
        ("senin depan jam 9", MONDAY, datetime(2026, 12, 7, 2, 0, tzinfo=UTC)),  # not today
        ("Senin depan, jam 9 pagi.", START, datetime(2026, 11, 30, 2, 0, tzinfo=UTC)),
        ("selasa depan jam 10", MONDAY, datetime(2026, 12, 1, 3, 0, tzinfo=UTC)),
        ("besok jam 7 pagi", START, datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
        ("Besok jam 7 pagi.", START, datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
        ("kirim besok jam 7 pagi", START, datetime(2026, 11, 29, 0, 0, tzinfo=UTC)),
        ("lusa jam 4 sore", START, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        ("tolong dikirim lusa jam 4 sore!", START, datetime(2026, 11, 30, 9, 0, tzinfo=UTC)),
        ("jam 9.30", START, datetime(2026, 11, 29, 2, 30, tzinfo=UTC)),  # a clock's dot stays
    ],
)
def test_a_send_time_said_the_way_admins_say_it(
    typed: str, now: datetime, expected: datetime
) -> None:
    assert parse_send_time(typed, now) == expected
    host = _siaran("1", "Kak, yuk tambah produk hari ini!", typed, now=now)
    _flow, step, draft = host.where()
    assert (step, draft.get("when")) == ("summary", expected.isoformat())


@pytest.mark.parametrize("typed", ["minggu depan jam 9", "depan jam 9", "besok depan jam 9"])
def test_minggu_depan_is_next_week_or_next_sunday_and_read_as_neither(typed: str) -> None:
    assert parse_send_time(typed, START) is None


def test_senin_depan_jam_9_at_the_preview_changes_when_it_is_sent() -> None:
    host = _siaran("1", "Kak, yuk tambah produk hari ini!", "sekarang", "senin depan jam 9")
    _flow, step, draft = host.where()
    assert (step, draft.get("when")) == ("summary", "2026-11-30T02:00:00+00:00")


# --- a facilitator's /daftarkan ------------------------------------------------------------------


class FacilitatorHost(FlowHost):
    """The flows alone, for a facilitator."""

    def env(self) -> Env:
        facilitator = {"id": 7, "code": "PDP-3507-001", "name": "Bu Rina", "regency_code": "3507"}
        return replace(super().env(), facilitator=facilitator)


def _daftarkan(*answers: str) -> tuple[FacilitatorHost, list[str]]:
    """A facilitator's /daftarkan, answered in turn; the host and the last turn's message ids."""
    spec: dict[str, Any] = {"channel": "whatsapp", "phone": "+6281299990000", "turns": []}
    host = FacilitatorHost(Transcript("daftarkan", spec), Renderer("id", strict=True))
    said: list[str] = []
    for text in ("/daftarkan", *answers):
        said = host.send({"send": text})
    return host, said


@pytest.mark.parametrize(
    ("typed", "name"),
    [
        ("0812-3456-7890 pak budi", "Budi"),
        ("0812 3456 7890 Bu Siti Aminah", "Siti Aminah"),
        ("pak budi 0812 3456 7890", "Budi"),
        ("0812-3456-7890 (pak budi)", "Budi"),
    ],
)
def test_a_name_typed_with_the_owners_number_is_offered_for_the_owners_name(
    typed: str, name: str
) -> None:
    host, said = _daftarkan(typed)
    _flow, step, draft = host.where()
    assert (step, draft["phone"]) == ("owner_name", "+6281234567890")
    assert "fac.ask_owner_name_known" in said and host.offered() == ["profile"]
    assert draft.get("owner_name") is None  # offered, not taken unasked
    host.send({"send": "ya"})
    _flow, step, draft = host.where()
    assert (step, draft["owner_name"]) == ("shop_name", name)


@pytest.mark.parametrize("typed", ["081234567890", "0812-3456-7890 ya", "0812-3456-7890 wa"])
def test_a_number_alone_offers_no_name(typed: str) -> None:
    host, said = _daftarkan(typed)
    _flow, step, draft = host.where()
    assert (step, draft["phone"]) == ("owner_name", "+6281234567890")
    assert "fac.ask_owner_name" in said and "fac.ask_owner_name_known" not in said


def test_another_name_typed_at_the_offer_is_the_owners_name() -> None:
    host, _ = _daftarkan("0812-3456-7890 pak budi", "Budi Santoso")
    assert host.where()[2]["owner_name"] == "Budi Santoso"
